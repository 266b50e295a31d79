/**
 * Where a cluster's nodes may go: physnet mappings (cluster-wide and per hypervisor), IPMI port
 * ranges, the `hypervisors` section, and the checks that the hosts can carry the nodes' physnets
 * and IPMI ports.
 */
import type { z } from 'zod';
import { didYouMean } from './did-you-mean.js';
import { at, isMapping, type Ctx, type Scalars, type Top } from './compile-context.js';
import { NAME_PATTERN, deviceProblem } from './rules.js';
import type { hypervisorSchema } from './schema.js';
import type { ClusterSpec, HostSettings, NodeSetSpec, NodeType, PhysnetMapping, PortRange } from './types.js';
import type { SpecPath } from './zod-issues.js';

/** Upstream's IPMI port range defaults, used for the end a user leaves out when giving only one. */
const UPSTREAM_IPMI_PORT_START = 6230;
const UPSTREAM_IPMI_PORT_END = 6240;

/** One `hypervisors` entry as parsed. */
export type RawHypervisor = z.output<typeof hypervisorSchema>;

/** A VLAN id as written after `device:`. */
const VLAN = /^\d+$/;

/** `physnet: device[:VLAN]` mappings at `base`; a device carries several physnets only on distinct VLANs. */
export function compileMappings(
  raw: Readonly<Record<string, string>>,
  base: SpecPath,
  ctx: Ctx,
): Record<string, PhysnetMapping> {
  const out: Record<string, PhysnetMapping> = {};
  const byDevice = new Map<string, { physnet: string; vlan: number | null }[]>();
  for (const [physnet, value] of Object.entries(raw)) {
    const field = at([...base, physnet]);
    const parts = value.split(':');
    const device = parts[0] ?? '';
    let vlan: number | null = null;
    if (parts.length > 2) {
      ctx.errors.push({ field, message: `'${value}' is not a device or device:VLAN` });
      continue;
    }
    const problem = deviceProblem(device);
    if (problem !== null) {
      ctx.errors.push({ field, message: `source device ${problem}` });
      continue;
    }
    if (parts.length === 2) {
      const text = parts[1] ?? '';
      const n = VLAN.test(text) ? Number(text) : NaN;
      if (!(n >= 1 && n <= 4094)) {
        ctx.errors.push({ field, message: `VLAN '${text}' in '${value}' is not 1-4094` });
        continue;
      }
      vlan = n;
    }
    out[physnet] = { device, vlan };
    byDevice.set(device, [...(byDevice.get(device) ?? []), { physnet, vlan }]);
  }
  // One device carries several physnets only on distinct VLANs (as the agent requires).
  for (const [device, users] of byDevice) {
    if (users.length < 2) continue;
    const seen = new Map<number, string>();
    for (const u of users) {
      const other = u.vlan === null ? undefined : seen.get(u.vlan);
      if (u.vlan === null || other !== undefined) {
        const others = users.filter((x) => x.physnet !== u.physnet).map((x) => `'${x.physnet}'`);
        ctx.errors.push({
          field: at([...base, u.physnet]),
          message: `device '${device}' is also used by physnet ${others.join(', ')}: physnets sharing a device each need their own VLAN (${device}:VLAN)`,
        });
      } else seen.set(u.vlan, u.physnet);
    }
  }
  return out;
}

/** The string values under usable physnet names, of a mapping that failed validation as a whole. */
export function validEntries(raw: unknown): Record<string, string> {
  if (!isMapping(raw)) return {};
  return Object.fromEntries(
    Object.entries(raw).filter((e): e is [string, string] => NAME_PATTERN.test(e[0]) && typeof e[1] === 'string'),
  );
}

/** An IPMI port range from its two ends (upstream's default for an end left out); null when neither is given, undefined when invalid. */
export function portRange(
  start: number | undefined,
  end: number | undefined,
  base: SpecPath,
  ctx: Ctx,
): PortRange | null | undefined {
  if (start === undefined && end === undefined) return null;
  const range = { start: start ?? UPSTREAM_IPMI_PORT_START, end: end ?? UPSTREAM_IPMI_PORT_END };
  if (range.start > range.end) {
    const defaulted = start === undefined ? ' (ipmi_port_range_start defaults to 6230)' : '';
    const endDefaulted =
      end === undefined ? ' (ipmi_port_range_end defaults to 6240 when only the start is given)' : '';
    ctx.errors.push({
      field: at([...base, end === undefined ? 'ipmi_port_range_start' : 'ipmi_port_range_end']),
      message: `IPMI port range ${range.start}-${range.end} ends before it starts${defaulted}${endDefaulted}`,
    });
    return undefined;
  }
  return range;
}

/** Every physnet a used node type wants is mapped on a listed hypervisor (a warning when the hosts are not listed). */
export function checkPhysnets(
  specs: readonly NodeSetSpec[],
  types: Readonly<Record<string, NodeType>>,
  global: Readonly<Record<string, PhysnetMapping>>,
  hypervisors: Readonly<Record<string, HostSettings>> | null,
  ctx: Ctx,
): void {
  const used = [...new Set(specs.map((s) => s.type))];
  for (const typeName of used) {
    const t = types[typeName];
    if (!t) continue;
    t.physicalNetworks.forEach((physnet, i) => {
      const field = `node_types.${typeName}.physical_networks[${i}]`;
      if (hypervisors === null) {
        // Hosts are whatever agents are alive: one may have the physnet set up already.
        if (!(physnet in global))
          ctx.warnings.push({
            field,
            message: `physnet '${physnet}' is not in physnet_mappings${didYouMean(physnet, Object.keys(global))}: nodes of type '${typeName}' can only go to hypervisors where it is already set up`,
          });
        return;
      }
      const hosts = Object.entries(hypervisors);
      if (hosts.some(([, h]) => physnet in h.physnetMappings)) return;
      const mapped = [...new Set(hosts.flatMap(([, h]) => Object.keys(h.physnetMappings)))];
      ctx.errors.push({
        field,
        message: `physnet '${physnet}' is not mapped on any listed hypervisor (${hosts.map(([id]) => id).join(', ')})${didYouMean(physnet, mapped)}: add it to physnet_mappings or hypervisors.<id>.physnet_mappings`,
      });
    });
  }
}

/** The `hypervisors` section: each listed host with its own settings or the cluster-wide ones; null when absent. */
export function compileHypervisors(
  raw: Top['hypervisors'],
  s: Scalars,
  globalMappings: Readonly<Record<string, PhysnetMapping>>,
  globalRange: PortRange | null | undefined,
  ctx: Ctx,
): Record<string, HostSettings> | null {
  if (raw === null || raw === undefined) return null;
  const list = Object.entries(raw);
  if (list.length === 0)
    ctx.errors.push({
      field: 'hypervisors',
      message: 'lists no hypervisor; remove it to use every live agent, or list agent ids',
    });
  const out: Record<string, HostSettings> = {};
  for (const [id, entry] of list) {
    const h: RawHypervisor = entry ?? {};
    const base = ['hypervisors', id];
    const range =
      h.ipmi_port_range_start === undefined && h.ipmi_port_range_end === undefined
        ? globalRange
        : portRange(
            h.ipmi_port_range_start ?? s.ipmi_port_range_start,
            h.ipmi_port_range_end ?? s.ipmi_port_range_end,
            base,
            ctx,
          );
    out[id] = {
      physnetMappings: h.physnet_mappings
        ? compileMappings(h.physnet_mappings, [...base, 'physnet_mappings'], ctx)
        : globalMappings,
      ipmiAddress: h.ipmi_address ?? s.ipmi_address ?? '0.0.0.0',
      ipmiPortRange: range ?? null,
      redfishAddress: h.redfish_address ?? s.redfish_address ?? '0.0.0.0',
    };
  }
  return out;
}

/** When the hosts are listed and all have port ranges, more IPMI nodes than ports cannot fit. */
export function checkIpmiPorts(
  hypervisors: Readonly<Record<string, HostSettings>>,
  specs: readonly NodeSetSpec[],
  ctx: Ctx,
): void {
  const ipmiNodes = specs.filter((x) => x.ironicDriver === 'ipmi').reduce((n, x) => n + x.count, 0);
  const ranges = Object.values(hypervisors).map((h) => h.ipmiPortRange);
  if (ranges.length === 0 || !ranges.every((r) => r !== null)) return;
  const ports = ranges.reduce((n, r) => n + (r.end - r.start + 1), 0);
  if (ipmiNodes > ports)
    ctx.errors.push({
      field: 'ipmi_port_range_end',
      message: `${ipmiNodes} nodes use IPMI but the listed hypervisors have ${ports} IPMI ports in their ranges; widen the range`,
    });
}

/** Settings of hypervisor `id` under `spec`: its own entry, else the cluster-wide values. */
export function hostSettings(spec: ClusterSpec, id: string): HostSettings {
  return (
    spec.hypervisors?.[id] ?? {
      physnetMappings: spec.physnetMappings,
      ipmiAddress: spec.ipmi.address,
      ipmiPortRange: spec.ipmi.portRange,
      redfishAddress: spec.redfish.address,
    }
  );
}
