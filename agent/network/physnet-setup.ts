import { invalidSpec } from '../../common/index.js';
import type { CallOptions } from '../compute/index.js';
import { plugInto, type HostOps } from './host-ops.js';
import { bridgeMarks, type HostView } from './host-view.js';
import { ipLine, type LinkInfo } from './ip-links.js';
import { aliasOf, externalIdsOf, marksFromExternalIds, ROLE, sameMarks, type Marks } from './marks.js';
import { bridgeMac, names } from './names.js';
import type { PlaneContext } from './plane-context.js';
import { sourceKind, validateMappings } from './physnet-validation.js';
import { ensureTrunk } from './trunk.js';
import type { BridgeType, HostChange, PhysnetMapping, SourceKind } from './types.js';
import { afterVethLines, vethPairLines } from './veth.js';

/**
 * Ensures the tenks bridge and uplink of every mapping, for `cluster`, after checking every mapping
 * against the host. Idempotent. The caller holds the host lock.
 */
export async function setupPhysnets(
  ctx: PlaneContext,
  cluster: string,
  bridgeType: BridgeType,
  mappings: readonly PhysnetMapping[],
  o: CallOptions,
): Promise<HostChange> {
  const v = await ctx.view.get(true);
  ctx.physnets.load(v);
  const errors = validateMappings(ctx, bridgeType, mappings, v);
  if (errors.length > 0) throw invalidSpec(errors, 'fix physnet_mappings for this host');
  const changes: string[] = [];
  for (const m of mappings) {
    const job: PhysnetJob = {
      ctx,
      cluster,
      bridgeType,
      m,
      kind: sourceKind(v, m.device) as SourceKind,
      v,
      o,
      bridge: names.bridge(m.physnet),
      source: v.links.get(m.device),
    };
    changes.push(...(await ensureBridge(job)), ...(await ensureUplink(job)));
  }
  // Read back what changed (bridge MACs come from the kernel); nothing changed, nothing to read.
  if (changes.length > 0) {
    ctx.view.invalidate();
    ctx.physnets.load(await ctx.view.get(true));
  }
  if (changes.length > 0) ctx.log.info('physnets set up', { cluster, changes: changes.length });
  return { changed: changes.length > 0, changes };
}

/** One mapping being set up, and the host as read before any change. */
interface PhysnetJob {
  ctx: PlaneContext;
  cluster: string;
  bridgeType: BridgeType;
  m: PhysnetMapping;
  kind: SourceKind;
  v: HostView;
  o: CallOptions;
  /** The physnet's tenks bridge. */
  bridge: string;
  /** The source device's link (none for an OVS bridge without a kernel interface). */
  source: LinkInfo | undefined;
}

/** Ensures the tenks bridge of a physnet, with its marks (clusters added) and its fixed MAC. */
async function ensureBridge({
  ctx,
  cluster,
  bridgeType,
  m,
  kind,
  v,
  o,
  bridge,
  source,
}: PhysnetJob): Promise<string[]> {
  const changes: string[] = [];
  const existing = ctx.physnets.get(m.physnet);
  const clusters = [...new Set([...(existing?.clusters ?? []), cluster])].sort();
  const prevMarks = bridgeMarks(v, bridgeType, bridge);
  const marks: Marks = {
    role: ROLE.bridge,
    agent: ctx.owner,
    physnet: m.physnet,
    device: m.device,
    vlan: String(m.vlan),
    clusters: clusters.join('+'),
    // Remember whether a directly plugged interface was down, to leave it so at teardown.
    srcdown: prevMarks?.srcdown ?? (kind === 'interface' && m.vlan === 0 && source && !source.up ? '1' : '0'),
  };
  const ops: HostOps = { ip: [], ovs: [] };
  const mac = bridgeMac(ctx.owner, bridge);
  const macNow = v.links.get(bridge)?.mac.toLowerCase();
  if (bridgeType === 'linuxbridge') {
    if (!v.links.has(bridge)) {
      ops.ip.push(
        ipLine.addBridge(bridge, mac),
        ipLine.alias(bridge, aliasOf(marks)),
        ipLine.quiet(bridge),
        ipLine.up(bridge),
      );
      changes.push(`bridge ${bridge} created for physnet ${m.physnet}`);
    } else {
      if (v.links.get(bridge)?.alias !== aliasOf(marks)) {
        ops.ip.push(ipLine.alias(bridge, aliasOf(marks)));
        if (!existing?.clusters.includes(cluster)) changes.push(`bridge ${bridge}: cluster ${cluster} added`);
      }
      // Bridges made before their MAC was fixed: fixed now (Ironic's ports follow on the next apply).
      if (macNow !== mac) {
        ops.ip.push(ipLine.address(bridge, mac));
        changes.push(`bridge ${bridge}: MAC fixed at ${mac} (was ${macNow ?? 'unknown'}, its lowest port's)`);
      }
    }
  } else {
    const row = v.ovsBridges.get(bridge);
    if (!row) {
      ops.ovs.push(
        ['--may-exist', 'add-br', bridge],
        [
          'set',
          'bridge',
          bridge,
          `datapath_type=${ctx.datapath}`,
          `other_config:hwaddr="${mac}"`,
          ...externalIdsOf(marks),
        ],
      );
      changes.push(`OVS bridge ${bridge} (${ctx.datapath}) created for physnet ${m.physnet}`);
    } else {
      if (!sameMarks(marksFromExternalIds(row.externalIds), marks)) {
        ops.ovs.push(['set', 'bridge', bridge, ...externalIdsOf(marks)]);
        if (!existing?.clusters.includes(cluster)) changes.push(`OVS bridge ${bridge}: cluster ${cluster} added`);
      }
      if (macNow !== mac) {
        ops.ovs.push(['set', 'bridge', bridge, `other_config:hwaddr="${mac}"`]);
        changes.push(`OVS bridge ${bridge}: MAC fixed at ${mac} (was ${macNow ?? 'unknown'}, its lowest port's)`);
      }
    }
  }
  // OVS bridges must exist before their ports are added, and Linux links before OVS adds them.
  await ctx.apply(ops, o);
  if (bridgeType === 'openvswitch' && !v.links.get(bridge)?.up)
    await ctx.links.batch([ipLine.up(bridge)], o.signal).catch(() => undefined);
  return changes;
}

/** Ensures the uplink between a physnet's tenks bridge and its source device. */
async function ensureUplink({ ctx, bridgeType, m, kind, v: seen, o, bridge, source }: PhysnetJob): Promise<string[]> {
  // The host as the ops so far leave it (a rebuilt veth pair's ends are new and unplugged).
  let v = seen;
  const changes: string[] = [];
  const uplink: Marks = { role: ROLE.uplink, agent: ctx.owner, physnet: m.physnet };
  const ops: HostOps = { ip: [], ovs: [] };
  const vlanLink = names.uplinkVlan(m.physnet);
  const s = names.uplinkSource(m.physnet);
  const u = names.uplinkTenks(m.physnet);
  const vethPair = (a: string, b: string): void => {
    const lines = vethPairLines(v.links, { a, b, aliasA: aliasOf(uplink), aliasB: aliasOf(uplink), quiet: false });
    v = afterVethLines(v, { a, b }, lines);
    if (lines.length === 0) return;
    ops.ip.push(...lines);
    changes.push(`uplink veth ${a}/${b} created`);
  };
  const vlanOn = (parent: string): string => {
    if (!v.links.has(vlanLink)) {
      ops.ip.push(
        ipLine.addVlan(parent, vlanLink, m.vlan),
        ipLine.alias(vlanLink, aliasOf(uplink)),
        ipLine.up(vlanLink),
      );
      changes.push(`VLAN ${m.vlan} link ${vlanLink} on ${parent} created`);
    }
    return vlanLink;
  };
  const plugNoted = (port: string): void => {
    const before = ops.ip.length + ops.ovs.length;
    plugInto(ops, v, bridgeType, bridge, port, uplink);
    if (ops.ip.length + ops.ovs.length > before) changes.push(`${port} plugged into ${bridge}`);
  };
  const patchPorts = (sourceBridge: string, tag: string[]): string[][] => [
    ['--may-exist', 'add-port', sourceBridge, s],
    ['set', 'interface', s, 'type=patch', `options:peer=${u}`],
    ['set', 'port', s, ...tag, ...externalIdsOf(uplink)],
    ['--may-exist', 'add-port', bridge, u],
    ['set', 'interface', u, 'type=patch', `options:peer=${s}`],
    ['set', 'port', u, ...externalIdsOf(uplink)],
  ];

  if (m.vlan > 0 && kind !== 'ovsbridge' && ctx.ovs) {
    // VLANs on an interface or Linux bridge: an OVS trunk bridge per source device does the
    // tagging in Open vSwitch (no 8021q or bridge VLAN filtering needed in the kernel).
    changes.push(...(await ensureTrunk(ctx, m.device, kind, v, o)));
    const trunk = names.trunk(m.device);
    const tag = [`tag=${m.vlan}`];
    if (bridgeType === 'openvswitch') {
      if (v.ovsPorts.get(s)?.bridge !== trunk || v.ovsPorts.get(u)?.bridge !== bridge) {
        ops.ovs.push(...patchPorts(trunk, tag));
        changes.push(`patch ports ${s} (on trunk ${trunk}, VLAN ${m.vlan}) and ${u} created`);
      }
    } else {
      vethPair(s, u);
      if (v.ovsPorts.get(s)?.bridge !== trunk) {
        ops.ovs.push(['--may-exist', 'add-port', trunk, s], ['set', 'port', s, ...tag, ...externalIdsOf(uplink)]);
        changes.push(`${s} added to trunk ${trunk} with VLAN ${m.vlan}`);
      }
      plugNoted(u);
    }
  } else if (kind === 'interface') {
    plugNoted(m.vlan === 0 ? m.device : vlanOn(m.device));
    if (!source?.up) ops.ip.push(ipLine.up(m.device));
  } else if (kind === 'linuxbridge') {
    vethPair(s, u);
    if (v.links.get(s)?.master !== m.device) ops.ip.push(ipLine.master(s, m.device));
    plugNoted(m.vlan === 0 ? u : vlanOn(u));
  } else if (bridgeType === 'openvswitch') {
    if (v.ovsPorts.get(s)?.bridge !== m.device || v.ovsPorts.get(u)?.bridge !== bridge) {
      ops.ovs.push(...patchPorts(m.device, m.vlan > 0 ? [`tag=${m.vlan}`] : []));
      changes.push(`patch ports ${s} (on ${m.device}${m.vlan ? `, VLAN ${m.vlan}` : ''}) and ${u} created`);
    }
  } else {
    vethPair(s, u);
    if (v.ovsPorts.get(s)?.bridge !== m.device) {
      ops.ovs.push(
        ['--may-exist', 'add-port', m.device, s],
        ['set', 'port', s, ...(m.vlan > 0 ? [`tag=${m.vlan}`] : []), ...externalIdsOf(uplink)],
      );
      changes.push(`${s} added to OVS bridge ${m.device}`);
    }
    plugNoted(u);
  }
  await ctx.apply(ops, o);
  return changes;
}
