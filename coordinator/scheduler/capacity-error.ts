import { TenksError, type FieldError } from '../../common/errors.js';
import type { Shortfall } from './capacity.js';
import type { NodeDemand } from './types.js';

/** Nodes described in full; the rest are counted by type, so thousands of failures stay readable. */
export const DETAILED_NODES = 5;
/** Hosts named per reason before "and N more hosts". */
const HOSTS_PER_REASON = 4;

/** Why one node found no host: each candidate host with what it lacks, or null beyond the detailed ones. */
export interface PlacementFailure {
  node: NodeDemand;
  reasons: { host: string; shortfalls: Shortfall[] }[] | null;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const count = (n: number): string => n.toLocaleString('en-US');

function mib(bytes: number): string {
  return `${Math.floor(Math.max(0, bytes) / MiB)} MiB`;
}
function size(bytes: number): string {
  const b = Math.max(0, bytes);
  if (b >= GiB) return `${(b / GiB).toFixed(1).replace(/\.0$/, '')} GiB`;
  return mib(b);
}

/** `hv1, hv2, hv3, hv4 and 6 more hosts`, and whether it reads as plural. */
function hostList(ids: readonly string[]): { text: string; plural: boolean } {
  const shown = ids.slice(0, HOSTS_PER_REASON).join(', ');
  const rest = ids.length - HOSTS_PER_REASON;
  return { text: rest > 0 ? `${shown} and ${count(rest)} more hosts` : shown, plural: ids.length > 1 };
}

function amounts(hosts: { host: string; s: { need: number; free: number } }[], fmt: (n: number) => string): string {
  const shown = hosts
    .slice(0, HOSTS_PER_REASON)
    .map(({ host, s }) => `${host} has ${fmt(s.free)} free (short ${fmt(s.need - Math.max(0, s.free))})`);
  const rest = hosts.length - HOSTS_PER_REASON;
  return rest > 0 ? `${shown.join(', ')} and ${count(rest)} more hosts` : shown.join(', ');
}

/** What one node lacks on each host, grouped by reason. */
export function describeFailure(f: PlacementFailure, noHosts: string | null): string {
  const n = f.node;
  const parts: string[] = [];
  if (noHosts !== null) parts.push(noHosts);
  const reasons = f.reasons ?? [];
  const of = <K extends Shortfall['kind']>(kind: K) =>
    reasons.flatMap((r) =>
      r.shortfalls
        .filter((s): s is Extract<Shortfall, { kind: K }> => s.kind === kind)
        .map((s) => ({ host: r.host, s })),
    );

  const arch = of('arch');
  if (arch.length > 0) {
    const runs = (x: (typeof arch)[number]): string => x.s.runs.join(', ') || 'nothing';
    const more = arch.length > HOSTS_PER_REASON ? ` and ${count(arch.length - HOSTS_PER_REASON)} more hosts` : '';
    const shown = arch.slice(0, HOSTS_PER_REASON);
    // When no candidate runs it, say so: no amount of freed room helps.
    if (arch.length === reasons.length && noHosts === null)
      parts.push(
        `needs ${n.arch} but no hypervisor runs it: ${shown.map((x) => `${x.host} runs ${runs(x)}`).join(', ')}${more}`,
      );
    else
      parts.push(
        `needs ${n.arch}, which ${shown.map((x) => `${x.host} (runs ${runs(x)})`).join(', ')}${more} ` +
          `${arch.length > 1 ? 'do' : 'does'} not run`,
      );
  }
  const uefi = of('uefi').map((x) => x.host);
  if (uefi.length > 0) {
    const l = hostList(uefi);
    parts.push(
      `needs UEFI firmware for ${n.arch}, which ${l.text} ${l.plural ? 'lack' : 'lacks'} (${n.arch === 'aarch64' ? 'qemu-efi-aarch64' : 'ovmf'})`,
    );
  }
  const ram = of('ram');
  if (ram.length > 0) parts.push(`needs ${mib(n.memoryMb * MiB)} RAM; ${amounts(ram, mib)}`);
  const cpu = of('vcpus');
  if (cpu.length > 0)
    parts.push(`needs ${n.vcpus} vCPU${n.vcpus === 1 ? '' : 's'}; ${amounts(cpu, (x) => String(Math.max(0, x)))}`);
  const disk = of('disk');
  if (disk.length > 0) parts.push(`needs ${size(n.diskBytes)} disk; ${amounts(disk, size)}`);
  const byPhysnet = new Map<string, string[]>();
  for (const { host, s } of of('physnet')) byPhysnet.set(s.physnet, [...(byPhysnet.get(s.physnet) ?? []), host]);
  for (const [physnet, hosts] of byPhysnet) {
    const l = hostList(hosts);
    parts.push(`${l.text} ${l.plural ? 'lack' : 'lacks'} physnet '${physnet}'`);
  }
  const ports = of('ipmi_port').map((x) => x.host);
  if (ports.length > 0) {
    const l = hostList(ports);
    parts.push(`${l.text} ${l.plural ? 'have' : 'has'} no free IPMI port`);
  }
  const names = of('name').map((x) => x.host);
  if (names.length > 0) {
    const l = hostList(names);
    parts.push(`${l.text} already ${l.plural ? 'have' : 'has'} a node named '${n.name}' (of another cluster)`);
  }
  const dead = of('dead').map((x) => x.host);
  if (dead.length > 0) {
    const l = hostList(dead);
    parts.push(`${l.text} ${l.plural ? 'are' : 'is'} not alive`);
  }
  return parts.join('; ');
}

/**
 * The CAPACITY error for nodes that found no host: the first {@link DETAILED_NODES} nodes in full
 * (nodes with the same type and reasons on one line; also in `details`, one per node), the rest
 * counted by node type.
 */
export function capacityError(
  cluster: string,
  failures: readonly PlacementFailure[],
  newNodes: number,
  noHosts: string | null,
): TenksError {
  const detailed = failures.slice(0, DETAILED_NODES);
  const details: FieldError[] = detailed.map((f) => ({ field: f.node.name, message: describeFailure(f, noHosts) }));
  const groups = new Map<string, { type: string; names: string[]; message: string }>();
  detailed.forEach((f, i) => {
    const message = details[i]?.message ?? '';
    const key = `${f.node.nodeType}\n${message}`;
    const g = groups.get(key) ?? { type: f.node.nodeType, names: [], message };
    g.names.push(f.node.name);
    groups.set(key, g);
  });
  const lines = [...groups.values()].map(
    (g) => `${g.names.length > 1 ? 'nodes' : 'node'} ${g.names.join(', ')} (type ${g.type}): ${g.message}`,
  );
  const rest = failures.slice(DETAILED_NODES);
  if (rest.length > 0) {
    const byType = new Map<string, number>();
    for (const f of rest) byType.set(f.node.nodeType, (byType.get(f.node.nodeType) ?? 0) + 1);
    const types = [...byType];
    const summary =
      types.length === 1
        ? `and ${count(rest.length)} more nodes of type ${types[0]?.[0] ?? ''}`
        : `and ${count(rest.length)} more nodes: ${types.map(([t, k]) => `${count(k)} of type ${t}`).join(', ')}`;
    lines.push(summary);
    details.push({ field: 'nodes', message: summary });
  }
  const head = `cannot place ${count(failures.length)} of ${count(newNodes)} new nodes of cluster '${cluster}'; nothing was placed`;
  return new TenksError('CAPACITY', [head, ...lines].join('\n'), {
    details,
    hint: 'add or free hypervisors, lower counts or node sizes, or raise the allocation ratios in `scheduler`',
  });
}
