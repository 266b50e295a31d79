import type { CallOptions } from '../compute/index.js';
import type { HostOps } from './host-ops.js';
import type { HostView } from './host-view.js';
import { ipLine } from './ip-links.js';
import { aliasOf, externalIdsOf, marksFromAlias, marksFromExternalIds, ROLE, type Marks } from './marks.js';
import { names } from './names.js';
import type { PlaneContext } from './plane-context.js';
import type { SourceKind } from './types.js';
import { afterVethLines, vethPairLines } from './veth.js';

/**
 * Ensures the OVS trunk bridge of a source device shared by VLAN physnets, and its connection to the
 * device: the interface as a port, or a veth pair into the Linux bridge.
 */
export async function ensureTrunk(
  ctx: PlaneContext,
  device: string,
  kind: SourceKind,
  v: HostView,
  o: CallOptions,
): Promise<string[]> {
  const changes: string[] = [];
  const trunk = names.trunk(device);
  const source = v.links.get(device);
  const marks: Marks = {
    role: ROLE.trunk,
    agent: ctx.owner,
    device,
    srcdown: kind === 'interface' && source && !source.up ? '1' : '0',
  };
  const up: Marks = { role: ROLE.trunkUplink, agent: ctx.owner, device };
  const ops: HostOps = { ip: [], ovs: [] };
  const row = v.ovsBridges.get(trunk);
  if (!row) {
    ops.ovs.push(
      ['--may-exist', 'add-br', trunk],
      ['set', 'bridge', trunk, `datapath_type=${ctx.datapath}`, ...externalIdsOf(marks)],
    );
    changes.push(`OVS trunk bridge ${trunk} created for ${device}`);
  }
  if (kind === 'interface') {
    if (v.ovsPorts.get(device)?.bridge !== trunk) {
      ops.ovs.push(['--may-exist', 'add-port', trunk, device], ['set', 'port', device, ...externalIdsOf(up)]);
      changes.push(`${device} plugged into trunk ${trunk}`);
    }
    if (!source?.up) ops.ip.push(ipLine.up(device));
  } else {
    const a = names.trunkSource(device);
    const b = names.trunkPort(device);
    const veth = vethPairLines(v.links, { a, b, aliasA: aliasOf(up), aliasB: aliasOf(up), quiet: false });
    if (veth.length > 0) {
      ops.ip.push(...veth);
      changes.push(`trunk veth ${a}/${b} created`);
    }
    if (afterVethLines(v, { a, b }, veth).links.get(a)?.master !== device) ops.ip.push(ipLine.master(a, device));
    if (v.ovsPorts.get(b)?.bridge !== trunk)
      ops.ovs.push(['--may-exist', 'add-port', trunk, b], ['set', 'port', b, ...externalIdsOf(up)]);
  }
  await ctx.apply(ops, o);
  if (!row) await ctx.links.batch([ipLine.up(trunk)], o.signal).catch(() => undefined);
  return changes;
}

/** Removes a device's trunk bridge once no VLAN physnet uses it. */
export async function removeTrunk(ctx: PlaneContext, device: string, v: HostView, o: CallOptions): Promise<string[]> {
  const trunk = names.trunk(device);
  const row = v.ovsBridges.get(trunk);
  const marks = row ? marksFromExternalIds(row.externalIds) : null;
  if (!ctx.owned(marks) || marks.role !== ROLE.trunk) return [];
  await ctx.apply({ ip: [], ovs: [['--if-exists', 'del-br', trunk]] }, o);
  const ip: string[] = [];
  const a = names.trunkSource(device);
  if (marksFromAlias(v.links.get(a)?.alias)?.role === ROLE.trunkUplink) ip.push(ipLine.del(a));
  if (marks.srcdown === '1' && v.links.has(device)) ip.push(ipLine.down(device));
  await ctx.links.batch(ip, o.signal);
  return [`OVS trunk bridge ${trunk} removed`];
}
