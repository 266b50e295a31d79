import type { CallOptions } from '../compute/index.js';
import type { HostOps } from './host-ops.js';
import { bridgeMarks, type HostView } from './host-view.js';
import { ipLine } from './ip-links.js';
import { aliasOf, externalIdsOf, marksFromAlias, marksFromExternalIds, ROLE } from './marks.js';
import type { PlaneContext } from './plane-context.js';
import { removeTrunk } from './trunk.js';
import type { HostChange, PhysnetState } from './types.js';

/**
 * Removes the node ports of `cluster` (every cluster when empty), and the physnets no other cluster
 * uses. The caller holds the host lock.
 */
export async function teardownPhysnets(ctx: PlaneContext, cluster: string, o: CallOptions): Promise<HostChange> {
  const v = await ctx.view.get(true);
  ctx.physnets.load(v);
  const inCluster = (c: string | undefined): boolean => cluster === '' || c === cluster;
  const changes: string[] = [];
  // Node ports of the cluster first (their VMs should be gone already).
  const ports = new Set<string>();
  for (const l of v.links.values()) {
    const m = marksFromAlias(l.alias);
    if (ctx.owned(m) && (m.role === ROLE.switchPort || m.role === ROLE.vmPort) && inCluster(m.cluster))
      ports.add(l.name);
  }
  const ovsFirst: string[][] = [];
  for (const [name, at] of v.ovsPorts) {
    const m = marksFromExternalIds(at.row.externalIds);
    if (ctx.owned(m) && m.role === ROLE.switchPort && inCluster(m.cluster))
      ovsFirst.push(['--if-exists', 'del-port', at.bridge, name]);
  }
  const deleted = new Set<string>();
  const gone: string[] = [];
  for (const name of ports) {
    const peer = v.links.get(name)?.link;
    if (peer && deleted.has(peer)) continue;
    gone.push(name);
    deleted.add(name);
    changes.push(`node port ${name} removed`);
  }
  await ctx.apply({ ovsFirst, ip: [], ipDelete: gone, ovs: [] }, o);

  for (const st of ctx.physnets.list()) {
    if (cluster !== '' && !st.clusters.includes(cluster)) continue;
    const remaining = cluster === '' ? [] : st.clusters.filter((c) => c !== cluster);
    if (remaining.length > 0) {
      const marks = { ...(bridgeMarks(v, st.bridgeType, st.bridge) ?? {}), clusters: remaining.join('+') };
      if (st.bridgeType === 'linuxbridge') await ctx.links.batch([ipLine.alias(st.bridge, aliasOf(marks))], o.signal);
      else await ctx.apply({ ip: [], ovs: [['set', 'bridge', st.bridge, ...externalIdsOf(marks)]] }, o);
      changes.push(`bridge ${st.bridge}: cluster ${cluster} removed (still used by ${remaining.join(', ')})`);
      st.clusters = remaining;
      continue;
    }
    changes.push(...(await removePhysnet(ctx, st, v, o)));
    ctx.physnets.delete(st.physnet);
    if (st.vlan > 0 && !ctx.physnets.list().some((p) => p.device === st.device && p.vlan > 0))
      changes.push(...(await removeTrunk(ctx, st.device, v, o)));
  }
  // The physnet table is already up to date (removed or narrowed above): no read-back needed.
  if (changes.length > 0) ctx.view.invalidate();
  if (changes.length > 0) ctx.log.info('physnets torn down', { cluster, changes: changes.length });
  return { changed: changes.length > 0, changes };
}

/** Removes a physnet's uplink and bridge, and gives a directly plugged source interface back. */
async function removePhysnet(ctx: PlaneContext, st: PhysnetState, v: HostView, o: CallOptions): Promise<string[]> {
  const changes: string[] = [];
  const ops: HostOps = { ip: [], ovs: [] };
  const marks = bridgeMarks(v, st.bridgeType, st.bridge);
  // OVS uplink ports (patch ports, a veth end in a source OVS bridge, a plugged interface).
  for (const [name, at] of v.ovsPorts) {
    const m = marksFromExternalIds(at.row.externalIds);
    if (m?.role === ROLE.uplink && m.physnet === st.physnet) {
      ops.ovs.push(['--if-exists', 'del-port', at.bridge, name]);
      changes.push(`OVS port ${name} removed from ${at.bridge}`);
    }
  }
  // Linux uplink links (veth pairs, VLAN links).
  const deleted = new Set<string>();
  for (const l of v.links.values()) {
    const m = marksFromAlias(l.alias);
    if (m?.role !== ROLE.uplink || m.physnet !== st.physnet) continue;
    if (l.link && deleted.has(l.link)) continue;
    ops.ip.push(ipLine.del(l.name));
    deleted.add(l.name);
    changes.push(`link ${l.name} removed`);
  }
  // A directly plugged interface goes back to how it was.
  const src = v.links.get(st.device);
  if (st.vlan === 0 && src && !marksFromAlias(src.alias)) {
    if (st.bridgeType === 'linuxbridge' && src.master === st.bridge) {
      ops.ip.push(ipLine.nomaster(st.device));
      changes.push(`${st.device} released from ${st.bridge}`);
    }
    if (marks?.srcdown === '1') ops.ip.push(ipLine.down(st.device));
  }
  // One OVS transaction, then one ip batch: a veth end must leave OVS before the link goes.
  if (st.bridgeType === 'linuxbridge') ops.ip.push(ipLine.del(st.bridge));
  else ops.ovs.push(['--if-exists', 'del-br', st.bridge]);
  await ctx.apply({ ovsFirst: ops.ovs, ip: ops.ip, ovs: [] }, o);
  changes.push(`bridge ${st.bridge} removed`);
  return changes;
}
