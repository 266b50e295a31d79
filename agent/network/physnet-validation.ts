import type { FieldError } from '../../common/index.js';
import { NAME_PATTERN } from '../compute/index.js';
import type { HostView } from './host-view.js';
import { marksFromAlias, marksFromExternalIds, type Marks } from './marks.js';
import { names } from './names.js';
import type { PlaneContext } from './plane-context.js';
import type { BridgeType, PhysnetMapping, SourceKind } from './types.js';

/** What the source device `device` is in `v`, or null when it does not exist. */
export function sourceKind(v: HostView, device: string): SourceKind | null {
  if (v.ovsBridges.has(device)) return 'ovsbridge';
  const l = v.links.get(device);
  if (!l) return null;
  return l.kind === 'bridge' ? 'linuxbridge' : 'interface';
}

/** Validates mappings against the host without changing anything; every problem at once. */
export function validateMappings(
  ctx: Pick<PlaneContext, 'hostname' | 'ovs' | 'physnets' | 'owned'>,
  bridgeType: BridgeType,
  mappings: readonly PhysnetMapping[],
  v: HostView,
): FieldError[] {
  const host = ctx.hostname;
  const errors: FieldError[] = [];
  if (bridgeType === 'openvswitch' && !ctx.ovs)
    errors.push({
      field: 'bridge_type',
      message: `host ${host}: Open vSwitch is not installed or not running (use linuxbridge, or start ovs-vswitchd)`,
    });
  const seen = new Map<string, number>();
  const byDevice = new Map<string, number[]>();
  mappings.forEach((m, i) => {
    const f = `physnet_mappings[${i}]`;
    if (!NAME_PATTERN.test(m.physnet))
      errors.push({ field: `${f}.physnet`, message: `'${m.physnet}' is not a usable physnet name` });
    const dup = seen.get(m.physnet);
    if (dup !== undefined)
      errors.push({
        field: `${f}.physnet`,
        message: `physnet '${m.physnet}' is mapped twice (also physnet_mappings[${dup}])`,
      });
    seen.set(m.physnet, i);
    if (!Number.isInteger(m.vlan) || m.vlan < 0 || m.vlan > 4094)
      errors.push({ field: `${f}.vlan`, message: `VLAN ${m.vlan} is not 1-4094 (0 for none)` });
    byDevice.set(m.device, [...(byDevice.get(m.device) ?? []), i]);

    const where = `host ${host}: physnet '${m.physnet}'`;
    if (m.device === '') {
      errors.push({ field: `${f}.device`, message: `${where}: no source device given` });
      return;
    }
    const existing = ctx.physnets.get(m.physnet);
    if (existing && (existing.device !== m.device || existing.vlan !== m.vlan || existing.bridgeType !== bridgeType))
      errors.push({
        field: f,
        message: `${where} is already set up on ${existing.device}${existing.vlan ? ` VLAN ${existing.vlan}` : ''} with ${existing.bridgeType} (clusters ${existing.clusters.join(', ')}); tear it down first to change it`,
      });
    // A device of ours' name that tenks did not create must not be adopted.
    const bridge = names.bridge(m.physnet);
    const occupant = v.links.get(bridge);
    const ovsOccupant = v.ovsBridges.get(bridge);
    const occupantMarks = ovsOccupant
      ? marksFromExternalIds(ovsOccupant.externalIds)
      : occupant
        ? marksFromAlias(occupant.alias)
        : null;
    if ((occupant || ovsOccupant) && !occupantMarks)
      errors.push({
        field: `${f}.physnet`,
        message: `${where}: a device named '${bridge}' already exists and was not created by tenks`,
      });
    else if (occupantMarks && !ctx.owned(occupantMarks)) {
      const other = (occupantMarks as Marks).agent ?? 'made before agents marked their objects';
      errors.push({
        field: `${f}.physnet`,
        message: `${where}: bridge '${bridge}' belongs to another tenks agent on this host (${other}); use another physnet name`,
      });
    }
    const kind = sourceKind(v, m.device);
    const link = v.links.get(m.device);
    if (kind === null) {
      errors.push({ field: `${f}.device`, message: `${where}: source device '${m.device}' does not exist` });
      return;
    }
    const ours = link
      ? marksFromAlias(link.alias)
      : marksFromExternalIds(v.ovsBridges.get(m.device)?.externalIds ?? {});
    if (ours) {
      errors.push({
        field: `${f}.device`,
        message: `${where}: '${m.device}' is a device tenks created (${ours.role ?? 'unknown role'}), not a source`,
      });
      return;
    }
    if (link?.loopback) errors.push({ field: `${f}.device`, message: `${where}: '${m.device}' is a loopback device` });
    if (kind === 'ovsbridge' && !ctx.ovs)
      errors.push({
        field: `${f}.device`,
        message: `${where}: '${m.device}' is an OVS bridge but Open vSwitch cannot be used`,
      });
    if (kind === 'interface' && (m.vlan === 0 || ctx.ovs)) {
      const mine = m.vlan === 0 ? existing?.bridge : names.trunk(m.device);
      const inOvs = v.ovsPorts.get(m.device);
      if (inOvs && inOvs.bridge !== mine)
        errors.push({
          field: `${f}.device`,
          message: `${where}: interface '${m.device}' is already a port of OVS bridge '${inOvs.bridge}'; map the physnet to that bridge instead`,
        });
      else if (!inOvs && link?.master && link.master !== mine && link.master !== 'ovs-system')
        errors.push({
          field: `${f}.device`,
          message: `${where}: interface '${m.device}' is already enslaved to bridge '${link.master}'; map the physnet to that bridge instead`,
        });
    }
  });
  for (const [device, idx] of byDevice) {
    if (idx.length < 2) continue;
    const vlans = idx.map((i) => mappings[i]?.vlan ?? 0);
    if (vlans.some((x) => x === 0) || new Set(vlans).size !== vlans.length)
      errors.push({
        field: `physnet_mappings[${idx[1] ?? 0}].device`,
        message: `host ${host}: device '${device}' is shared by several physnets; each needs its own VLAN`,
      });
  }
  return errors;
}
