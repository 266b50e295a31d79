import { invalidSpec, KeyedMutex, TenksError, type FieldError, type Logger } from '../../common/index.js';
import type { CallOptions, DomainNic, NicWiring, NodeSpec, NodeStatus } from '../compute/index.js';
import { NAME_PATTERN } from '../compute/index.js';
import { ipLine, type IpLinks, type LinkInfo } from './ip-links.js';
import { aliasOf, clustersOf, externalIdsOf, marksFromAlias, marksFromExternalIds, type Marks } from './marks.js';
import { bridgeMac, names } from './names.js';
import type { Ovs, OvsRow } from './ovs.js';

/** Which kind of switch the tenks bridges of a physnet are. */
export type BridgeType = 'openvswitch' | 'linuxbridge';

/** A physnet mapping of this host: the source device, and an optional VLAN on it (0: none). */
export interface PhysnetMapping {
  physnet: string;
  device: string;
  vlan: number;
}

/** A physnet as set up on this host. */
export interface PhysnetState extends PhysnetMapping {
  bridge: string;
  bridgeMac: string;
  bridgeType: BridgeType;
  clusters: string[];
}

/** What the source device of a physnet is. */
export type SourceKind = 'interface' | 'linuxbridge' | 'ovsbridge';

/** Result of a host setup or teardown. */
export interface HostChange {
  changed: boolean;
  changes: string[];
}

/** The host's links and OVS rows at one moment. */
interface HostView {
  links: Map<string, LinkInfo>;
  ovsBridges: Map<string, OvsRow>;
  /** OVS port name → its row and bridge. */
  ovsPorts: Map<string, { row: OvsRow; bridge: string }>;
}

/** One batch of host changes: `ip -batch` lines, then one OVSDB transaction. */
interface Ops {
  /** OVS commands to run before the links change (e.g. removing ports whose links go). */
  ovsFirst?: string[][];
  ip: string[];
  /** Links to delete, in one `ip link del group` (deleting links one by one costs ~20 ms each). */
  ipDelete?: string[];
  ovs: string[][];
}

/** Marks equal regardless of key order (OVSDB returns maps sorted by key). */
function sameMarks(a: Marks | null, b: Marks): boolean {
  if (!a) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** `ip -batch` lines deleting `links` at once: put them in a fresh group, delete the group. */
export function groupDeleteLines(links: readonly string[]): string[] {
  if (links.length === 0) return [];
  // Group 0 is every link's default: never use it. A random group avoids meeting anyone's.
  const group = 1_000_000 + Math.floor(Math.random() * 2_000_000_000);
  return [...links.map((l) => `link set dev ${l} group ${group}`), `link del group ${group}`];
}

/** Options of the network plane. */
export interface NetworkPlaneOptions {
  /** Host name, for error messages ("host hv1: physnet p1: ..."). */
  hostname: string;
  /**
   * The agent owning what this plane creates (its id), marked on every bridge, uplink and port:
   * several agents on one host (another libvirt URI, a test's) each manage only their own.
   */
  owner: string;
  /** Whether objects marked before owners were recorded (no owner mark) are this agent's. */
  ownsUnmarked: boolean;
  links: IpLinks;
  /** Open vSwitch, or null where it is not installed/running. */
  ovs: Ovs | null;
  log: Logger;
  /** How long a read of the host's links may be reused by idempotence checks (ms). Default 2000. */
  viewTtlMs?: number;
}

const ROLE = {
  bridge: 'bridge',
  uplink: 'uplink',
  trunk: 'trunk',
  trunkUplink: 'trunk-uplink',
  switchPort: 'switch-port',
  vmPort: 'vm-port',
} as const;

/**
 * Physical networks and node NIC wiring on one host, on Linux bridges or Open vSwitch.
 *
 * Per physnet: a tenks bridge (`tb-<physnet>`), plugged into the mapped source device: an interface
 * directly (or through a VLAN link), a Linux bridge through a veth pair, an OVS bridge through patch
 * ports (or a veth pair when the tenks bridge is a Linux bridge). Per node NIC: a veth pair whose
 * switch-side end sits in the tenks bridge whether or not the VM runs, and whose other end is the
 * lower device of the VM's macvtap (passthrough). Everything carries tenks marks (aliases,
 * external_ids), which are the only record: the state is read back from the host.
 */
export class NetworkPlane implements NicWiring {
  private physnets = new Map<string, PhysnetState>();
  private view: { at: number; value: Promise<HostView> } | null = null;
  private readonly hostLock = new KeyedMutex();
  private pending: { ops: Ops; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private datapath: 'system' | 'netdev' = 'netdev';

  private constructor(private readonly o: NetworkPlaneOptions) {}

  /** Whether `m` marks an object of this agent (or, when it owns those, one made before owners were marked). */
  private owned(m: Marks | null): m is Marks {
    return m !== null && (m.agent === undefined ? this.o.ownsUnmarked : m.agent === this.o.owner);
  }

  /** Creates the plane and reads the physnets already set up on this host. */
  static async create(o: NetworkPlaneOptions): Promise<NetworkPlane> {
    const plane = new NetworkPlane(o);
    if (o.ovs) plane.datapath = await o.ovs.datapathType();
    await plane.load();
    return plane;
  }

  /** OVS datapath type used for new bridges (`system` with the kernel module, else `netdev`). */
  get ovsDatapath(): 'system' | 'netdev' {
    return this.datapath;
  }

  /** Whether Open vSwitch can be used here. */
  get ovsAvailable(): boolean {
    return this.o.ovs !== null;
  }

  private async readView(): Promise<HostView> {
    const [links, ovs] = await Promise.all([
      this.o.links.list(),
      this.o.ovs ? this.o.ovs.bridgesAndPorts() : Promise.resolve({ bridges: [], ports: [] }),
    ]);
    const ovsBridges = ovs.bridges;
    const ovsPorts = new Map<string, { row: OvsRow; bridge: string }>();
    if (ovsBridges.length > 0) {
      const ports = new Map(ovs.ports.map((p) => [p.name, p]));
      for (const b of ovsBridges)
        for (const p of b.ports) {
          const row = ports.get(p);
          if (row) ovsPorts.set(p, { row, bridge: b.name });
        }
    }
    return {
      links: new Map(links.map((l) => [l.name, l])),
      ovsBridges: new Map(ovsBridges.map((b) => [b.name, b])),
      ovsPorts,
    };
  }

  /** The host view, reused for `viewTtlMs` unless `fresh`. */
  private hostView(fresh = false): Promise<HostView> {
    const ttl = this.o.viewTtlMs ?? 2000;
    if (!fresh && this.view && Date.now() - this.view.at < ttl) return this.view.value;
    const value = this.readView();
    this.view = { at: Date.now(), value };
    value.catch(() => {
      if (this.view?.value === value) this.view = null;
    });
    return value;
  }

  private invalidate(): void {
    this.view = null;
  }

  /** Rebuilds the physnet table from the marks on the host's bridges (from `view` when given). */
  async load(view?: HostView): Promise<void> {
    const v = view ?? (await this.hostView(true));
    const physnets = new Map<string, PhysnetState>();
    for (const l of v.links.values()) {
      const m = marksFromAlias(l.alias);
      if (!this.owned(m) || m.role !== ROLE.bridge || l.kind !== 'bridge') continue;
      physnets.set(m.physnet ?? '', this.stateFrom(m, l.name, l.mac, 'linuxbridge'));
    }
    for (const b of v.ovsBridges.values()) {
      const m = marksFromExternalIds(b.externalIds);
      if (!this.owned(m) || m.role !== ROLE.bridge) continue;
      physnets.set(m.physnet ?? '', this.stateFrom(m, b.name, v.links.get(b.name)?.mac ?? '', 'openvswitch'));
    }
    physnets.delete('');
    this.physnets = physnets;
  }

  private stateFrom(m: Marks, bridge: string, mac: string, bridgeType: BridgeType): PhysnetState {
    return {
      physnet: m.physnet ?? '',
      device: m.device ?? '',
      vlan: Number(m.vlan ?? 0),
      bridge,
      bridgeMac: mac,
      bridgeType,
      clusters: clustersOf(m),
    };
  }

  /** Physnets set up on this host. */
  list(): PhysnetState[] {
    return [...this.physnets.values()].sort((a, b) => (a.physnet < b.physnet ? -1 : 1));
  }

  // ---------------------------------------------------------------- host setup

  private sourceKind(v: HostView, device: string): SourceKind | null {
    if (v.ovsBridges.has(device)) return 'ovsbridge';
    const l = v.links.get(device);
    if (!l) return null;
    return l.kind === 'bridge' ? 'linuxbridge' : 'interface';
  }

  /** Validates mappings against the host without changing anything; every problem at once. */
  private validate(bridgeType: BridgeType, mappings: readonly PhysnetMapping[], v: HostView): FieldError[] {
    const host = this.o.hostname;
    const errors: FieldError[] = [];
    if (bridgeType === 'openvswitch' && !this.o.ovs)
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
      const existing = this.physnets.get(m.physnet);
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
      else if (occupantMarks && !this.owned(occupantMarks)) {
        const other = (occupantMarks as Marks).agent ?? 'made before agents marked their objects';
        errors.push({
          field: `${f}.physnet`,
          message: `${where}: bridge '${bridge}' belongs to another tenks agent on this host (${other}); use another physnet name`,
        });
      }
      const kind = this.sourceKind(v, m.device);
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
      if (link?.loopback)
        errors.push({ field: `${f}.device`, message: `${where}: '${m.device}' is a loopback device` });
      if (kind === 'ovsbridge' && !this.o.ovs)
        errors.push({
          field: `${f}.device`,
          message: `${where}: '${m.device}' is an OVS bridge but Open vSwitch cannot be used`,
        });
      if (kind === 'interface' && (m.vlan === 0 || this.o.ovs)) {
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

  /** Ensures the tenks bridge and uplink of every mapping, for `cluster`. Idempotent. */
  async setup(
    cluster: string,
    bridgeType: BridgeType,
    mappings: readonly PhysnetMapping[],
    o: CallOptions = {},
  ): Promise<HostChange> {
    return this.hostLock.run('host', async () => {
      const v = await this.hostView(true);
      await this.load(v);
      const errors = this.validate(bridgeType, mappings, v);
      if (errors.length > 0) throw invalidSpec(errors, 'fix physnet_mappings for this host');
      const changes: string[] = [];
      for (const m of mappings) {
        const kind = this.sourceKind(v, m.device) as SourceKind;
        changes.push(...(await this.ensurePhysnet(cluster, bridgeType, m, kind, v, o)));
      }
      // Read back what changed (bridge MACs come from the kernel); nothing changed, nothing to read.
      if (changes.length > 0) {
        this.invalidate();
        await this.load();
      }
      if (changes.length > 0) this.o.log.info('physnets set up', { cluster, changes: changes.length });
      return { changed: changes.length > 0, changes };
    });
  }

  private async apply(ops: Ops, o: CallOptions & { noWait?: boolean }): Promise<void> {
    const ovs = (commands: string[][]): Promise<unknown> => {
      if (commands.length === 0) return Promise.resolve();
      if (!this.o.ovs) throw new TenksError('UNSUPPORTED', 'Open vSwitch is not available on this host');
      return this.o.ovs.transact(commands, o.signal, { noWait: o.noWait ?? false });
    };
    await ovs(ops.ovsFirst ?? []);
    await this.o.links.batch([...ops.ip, ...groupDeleteLines(ops.ipDelete ?? [])], o.signal);
    await ovs(ops.ovs);
  }

  /** Plugs `port` into tenks bridge `bridge` of the given type, unless it already is. */
  private plug(ops: Ops, v: HostView, bridgeType: BridgeType, bridge: string, port: string, marks: Marks): void {
    if (bridgeType === 'linuxbridge') {
      if (v.links.get(port)?.master !== bridge) ops.ip.push(ipLine.master(port, bridge));
      return;
    }
    const at = v.ovsPorts.get(port);
    if (at?.bridge === bridge) return;
    if (at) ops.ovs.push(['del-port', at.bridge, port]);
    ops.ovs.push(['--may-exist', 'add-port', bridge, port], ['set', 'port', port, ...externalIdsOf(marks)]);
  }

  private async ensurePhysnet(
    cluster: string,
    bridgeType: BridgeType,
    m: PhysnetMapping,
    kind: SourceKind,
    v: HostView,
    o: CallOptions,
  ): Promise<string[]> {
    const changes: string[] = [];
    const bridge = names.bridge(m.physnet);
    const existing = this.physnets.get(m.physnet);
    const clusters = [...new Set([...(existing?.clusters ?? []), cluster])].sort();
    const source = v.links.get(m.device);
    const prevMarks =
      bridgeType === 'linuxbridge'
        ? marksFromAlias(v.links.get(bridge)?.alias)
        : marksFromExternalIds(v.ovsBridges.get(bridge)?.externalIds ?? {});
    const marks: Marks = {
      role: ROLE.bridge,
      agent: this.o.owner,
      physnet: m.physnet,
      device: m.device,
      vlan: String(m.vlan),
      clusters: clusters.join('+'),
      // Remember whether a directly plugged interface was down, to leave it so at teardown.
      srcdown: prevMarks?.srcdown ?? (kind === 'interface' && m.vlan === 0 && source && !source.up ? '1' : '0'),
    };
    const uplink: Marks = { role: ROLE.uplink, agent: this.o.owner, physnet: m.physnet };
    const ops: Ops = { ip: [], ovs: [] };

    // The bridge.
    const mac = bridgeMac(this.o.owner, bridge);
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
            `datapath_type=${this.datapath}`,
            `other_config:hwaddr="${mac}"`,
            ...externalIdsOf(marks),
          ],
        );
        changes.push(`OVS bridge ${bridge} (${this.datapath}) created for physnet ${m.physnet}`);
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
    await this.apply({ ip: ops.ip, ovs: ops.ovs }, o);
    if (bridgeType === 'openvswitch' && !v.links.get(bridge)?.up)
      await this.o.links.batch([ipLine.up(bridge)], o.signal).catch(() => undefined);
    ops.ip = [];
    ops.ovs = [];

    // The uplink to the source.
    const vlanLink = names.uplinkVlan(m.physnet);
    const s = names.uplinkSource(m.physnet);
    const u = names.uplinkTenks(m.physnet);
    const vethPair = (a: string, b: string): void => {
      const la = v.links.get(a);
      if (la && v.links.has(b) && la.link === b) return;
      if (la) ops.ip.push(ipLine.del(a));
      else if (v.links.has(b)) ops.ip.push(ipLine.del(b));
      ops.ip.push(
        ipLine.addVeth(a, b),
        ipLine.alias(a, aliasOf(uplink)),
        ipLine.alias(b, aliasOf(uplink)),
        ipLine.up(a),
        ipLine.up(b),
      );
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
      this.plug(ops, v, bridgeType, bridge, port, uplink);
      if (ops.ip.length + ops.ovs.length > before) changes.push(`${port} plugged into ${bridge}`);
    };

    if (m.vlan > 0 && kind !== 'ovsbridge' && this.o.ovs) {
      // VLANs on an interface or Linux bridge: an OVS trunk bridge per source device does the
      // tagging in Open vSwitch (no 8021q or bridge VLAN filtering needed in the kernel).
      changes.push(...(await this.ensureTrunk(m.device, kind, v, o)));
      const trunk = names.trunk(m.device);
      const tag = [`tag=${m.vlan}`];
      if (bridgeType === 'openvswitch') {
        if (v.ovsPorts.get(s)?.bridge !== trunk || v.ovsPorts.get(u)?.bridge !== bridge) {
          ops.ovs.push(
            ['--may-exist', 'add-port', trunk, s],
            ['set', 'interface', s, 'type=patch', `options:peer=${u}`],
            ['set', 'port', s, ...tag, ...externalIdsOf(uplink)],
            ['--may-exist', 'add-port', bridge, u],
            ['set', 'interface', u, 'type=patch', `options:peer=${s}`],
            ['set', 'port', u, ...externalIdsOf(uplink)],
          );
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
      if (m.vlan === 0) {
        plugNoted(m.device);
        if (!source?.up) ops.ip.push(ipLine.up(m.device));
      } else {
        plugNoted(vlanOn(m.device));
        if (!source?.up) ops.ip.push(ipLine.up(m.device));
      }
    } else if (kind === 'linuxbridge') {
      vethPair(s, u);
      if (v.links.get(s)?.master !== m.device) ops.ip.push(ipLine.master(s, m.device));
      plugNoted(m.vlan === 0 ? u : vlanOn(u));
    } else if (bridgeType === 'openvswitch') {
      const tag = m.vlan > 0 ? [`tag=${m.vlan}`] : [];
      const sAt = v.ovsPorts.get(s);
      const uAt = v.ovsPorts.get(u);
      if (sAt?.bridge !== m.device || uAt?.bridge !== bridge) {
        ops.ovs.push(
          ['--may-exist', 'add-port', m.device, s],
          ['set', 'interface', s, 'type=patch', `options:peer=${u}`],
          ['set', 'port', s, ...tag, ...externalIdsOf(uplink)],
          ['--may-exist', 'add-port', bridge, u],
          ['set', 'interface', u, 'type=patch', `options:peer=${s}`],
          ['set', 'port', u, ...externalIdsOf(uplink)],
        );
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
    await this.apply(ops, o);
    return changes;
  }

  /** Ensures the OVS trunk bridge of a shared source device and its connection to the device. */
  private async ensureTrunk(device: string, kind: SourceKind, v: HostView, o: CallOptions): Promise<string[]> {
    const changes: string[] = [];
    const trunk = names.trunk(device);
    const source = v.links.get(device);
    const marks: Marks = {
      role: ROLE.trunk,
      agent: this.o.owner,
      device,
      srcdown: kind === 'interface' && source && !source.up ? '1' : '0',
    };
    const up: Marks = { role: ROLE.trunkUplink, agent: this.o.owner, device };
    const ops: Ops = { ip: [], ovs: [] };
    const row = v.ovsBridges.get(trunk);
    if (!row) {
      ops.ovs.push(
        ['--may-exist', 'add-br', trunk],
        ['set', 'bridge', trunk, `datapath_type=${this.datapath}`, ...externalIdsOf(marks)],
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
      const la = v.links.get(a);
      if (!la || !v.links.has(b) || la.link !== b) {
        if (la) ops.ip.push(ipLine.del(a));
        else if (v.links.has(b)) ops.ip.push(ipLine.del(b));
        ops.ip.push(
          ipLine.addVeth(a, b),
          ipLine.alias(a, aliasOf(up)),
          ipLine.alias(b, aliasOf(up)),
          ipLine.up(a),
          ipLine.up(b),
        );
        changes.push(`trunk veth ${a}/${b} created`);
      }
      if (la?.master !== device) ops.ip.push(ipLine.master(a, device));
      if (v.ovsPorts.get(b)?.bridge !== trunk)
        ops.ovs.push(['--may-exist', 'add-port', trunk, b], ['set', 'port', b, ...externalIdsOf(up)]);
    }
    await this.apply(ops, o);
    if (!row) await this.o.links.batch([ipLine.up(trunk)], o.signal).catch(() => undefined);
    return changes;
  }

  /** Removes a device's trunk bridge once no VLAN physnet uses it. */
  private async removeTrunk(device: string, v: HostView, o: CallOptions): Promise<string[]> {
    const trunk = names.trunk(device);
    const row = v.ovsBridges.get(trunk);
    const marks = row ? marksFromExternalIds(row.externalIds) : null;
    if (!this.owned(marks) || marks.role !== ROLE.trunk) return [];
    await this.apply({ ip: [], ovs: [['--if-exists', 'del-br', trunk]] }, o);
    const ip: string[] = [];
    const a = names.trunkSource(device);
    if (marksFromAlias(v.links.get(a)?.alias)?.role === ROLE.trunkUplink) ip.push(ipLine.del(a));
    if (marks.srcdown === '1' && v.links.has(device)) ip.push(ipLine.down(device));
    await this.o.links.batch(ip, o.signal);
    return [`OVS trunk bridge ${trunk} removed`];
  }

  /** Removes the physnets of `cluster` (every cluster when empty) that no other cluster uses, and its node ports. */
  async teardown(cluster: string, o: CallOptions = {}): Promise<HostChange> {
    return this.hostLock.run('host', async () => {
      const v = await this.hostView(true);
      await this.load(v);
      const changes: string[] = [];
      // Node ports of the cluster first (their VMs should be gone already).
      const ports = new Set<string>();
      for (const l of v.links.values()) {
        const m = marksFromAlias(l.alias);
        if (
          this.owned(m) &&
          (m.role === ROLE.switchPort || m.role === ROLE.vmPort) &&
          (cluster === '' || m.cluster === cluster)
        )
          ports.add(l.name);
      }
      const ops: Ops = { ip: [], ovs: [] };
      for (const [name, at] of v.ovsPorts) {
        const m = marksFromExternalIds(at.row.externalIds);
        if (this.owned(m) && m.role === ROLE.switchPort && (cluster === '' || m.cluster === cluster))
          ops.ovs.push(['--if-exists', 'del-port', at.bridge, name]);
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
      await this.apply({ ovsFirst: ops.ovs, ip: [], ipDelete: gone, ovs: [] }, o);

      for (const st of this.list()) {
        if (cluster !== '' && !st.clusters.includes(cluster)) continue;
        const remaining = cluster === '' ? [] : st.clusters.filter((c) => c !== cluster);
        if (remaining.length > 0) {
          const m =
            st.bridgeType === 'linuxbridge'
              ? marksFromAlias(v.links.get(st.bridge)?.alias)
              : marksFromExternalIds(v.ovsBridges.get(st.bridge)?.externalIds ?? {});
          const marks = { ...(m ?? {}), clusters: remaining.join('+') };
          if (st.bridgeType === 'linuxbridge')
            await this.o.links.batch([ipLine.alias(st.bridge, aliasOf(marks))], o.signal);
          else await this.apply({ ip: [], ovs: [['set', 'bridge', st.bridge, ...externalIdsOf(marks)]] }, o);
          changes.push(`bridge ${st.bridge}: cluster ${cluster} removed (still used by ${remaining.join(', ')})`);
          st.clusters = remaining;
          continue;
        }
        changes.push(...(await this.removePhysnet(st, v, o)));
        this.physnets.delete(st.physnet);
        if (st.vlan > 0 && ![...this.physnets.values()].some((p) => p.device === st.device && p.vlan > 0))
          changes.push(...(await this.removeTrunk(st.device, v, o)));
      }
      // The physnet table is already up to date (removed or narrowed above): no read-back needed.
      if (changes.length > 0) this.invalidate();
      if (changes.length > 0) this.o.log.info('physnets torn down', { cluster, changes: changes.length });
      return { changed: changes.length > 0, changes };
    });
  }

  private async removePhysnet(st: PhysnetState, v: HostView, o: CallOptions): Promise<string[]> {
    const changes: string[] = [];
    const ops: Ops = { ip: [], ovs: [] };
    const bridgeMarks =
      st.bridgeType === 'linuxbridge'
        ? marksFromAlias(v.links.get(st.bridge)?.alias)
        : marksFromExternalIds(v.ovsBridges.get(st.bridge)?.externalIds ?? {});
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
      if (bridgeMarks?.srcdown === '1') ops.ip.push(ipLine.down(st.device));
    }
    // One OVS transaction, then one ip batch: a veth end must leave OVS before the link goes.
    if (st.bridgeType === 'linuxbridge') ops.ip.push(ipLine.del(st.bridge));
    else ops.ovs.push(['--if-exists', 'del-br', st.bridge]);
    await this.apply({ ovsFirst: ops.ovs, ip: ops.ip, ovs: [] }, o);
    changes.push(`bridge ${st.bridge} removed`);
    return changes;
  }

  // ---------------------------------------------------------------- node NICs

  /** Queues host changes; concurrent callers share one `ip -batch` and one OVSDB transaction. */
  private submit(ops: Ops): Promise<void> {
    if (ops.ip.length === 0 && ops.ovs.length === 0 && !ops.ovsFirst?.length && !ops.ipDelete?.length)
      return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending.push({ ops, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flushing = this.flushing
          .then(() => this.flush())
          .catch((e: unknown) => {
            this.o.log.error('host change batch failed', { error: String(e) });
          });
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.apply(
        {
          ovsFirst: batch.flatMap((b) => b.ops.ovsFirst ?? []),
          ip: batch.flatMap((b) => b.ops.ip),
          ipDelete: batch.flatMap((b) => b.ops.ipDelete ?? []),
          ovs: batch.flatMap((b) => b.ops.ovs),
        },
        { noWait: true },
      );
      for (const b of batch) b.resolve();
    } catch (e) {
      if (batch.length === 1) {
        batch[0]?.reject(e);
        return;
      }
      // One bad request must not fail its neighbours: retry each alone.
      this.invalidate();
      for (const b of batch) {
        try {
          await this.apply(b.ops, { noWait: true });
          b.resolve();
        } catch (e2) {
          b.reject(e2);
        }
      }
      this.invalidate();
    }
  }

  /**
   * Records in the cached host view what a successful attach/detach did, so the next caller does
   * not re-read every link of the host (which would make wiring N nodes cost O(N^2)).
   */
  private async note(spec: NodeSpec, attached: boolean): Promise<void> {
    if (!this.view) return;
    const v = await this.view.value.catch(() => null);
    if (!v) return;
    spec.nics.forEach((n, i) => {
      const sp = names.switchPort(spec.name, i);
      const vp = names.vmPort(spec.name, i);
      if (!attached) {
        v.links.delete(sp);
        v.links.delete(vp);
        v.ovsPorts.delete(sp);
        return;
      }
      const st = this.physnets.get(n.physnet);
      if (!st) return;
      // The marks attach() set, so a later check() of this node recognises its own ports.
      const marks: Marks = {
        role: ROLE.switchPort,
        agent: this.o.owner,
        cluster: spec.cluster,
        node: spec.name,
        nic: String(i),
        physnet: n.physnet,
      };
      const base = { kind: 'veth', mac: '', up: true, loopback: false };
      v.links.set(sp, {
        ...base,
        name: sp,
        alias: aliasOf(marks),
        link: vp,
        master: st.bridgeType === 'linuxbridge' ? st.bridge : null,
      });
      v.links.set(vp, { ...base, name: vp, alias: aliasOf({ ...marks, role: ROLE.vmPort }), link: sp, master: null });
      if (st.bridgeType === 'openvswitch')
        v.ovsPorts.set(sp, {
          row: { name: sp, externalIds: {}, tag: null, datapathType: '', ports: [] },
          bridge: st.bridge,
        });
    });
  }

  /** Field errors for NICs whose physnet is not set up here. */
  async check(spec: NodeSpec): Promise<FieldError[]> {
    const errors: FieldError[] = [];
    const v = await this.hostView();
    spec.nics.forEach((_n, i) => {
      for (const name of [names.switchPort(spec.name, i), names.vmPort(spec.name, i)]) {
        const l = v.links.get(name);
        const m = l ? marksFromAlias(l.alias) : null;
        if (l && m?.node !== spec.name)
          errors.push({
            field: `node.nics[${i}]`,
            message: `host ${this.o.hostname}: a device named '${name}' already exists and is not this node's`,
          });
      }
    });
    if (spec.nics.length > 36)
      errors.push({ field: 'node.nics', message: `at most 36 NICs per node (got ${spec.nics.length})` });
    spec.nics.forEach((n, i) => {
      if (!this.physnets.has(n.physnet))
        errors.push({
          field: `node.nics[${i}].physnet`,
          message: `physnet '${n.physnet}' is not set up on host ${this.o.hostname} (set up: ${
            this.list()
              .map((p) => p.physnet)
              .join(', ') || 'none'
          })`,
        });
    });
    return errors;
  }

  private physnet(name: string): PhysnetState {
    const st = this.physnets.get(name);
    if (!st) throw new TenksError('NOT_FOUND', `physnet '${name}' is not set up on host ${this.o.hostname}`);
    return st;
  }

  /** True when every NIC's veth pair exists, is up, and its switch port sits in the right bridge. */
  async verify(spec: NodeSpec): Promise<boolean> {
    const v = await this.hostView();
    return spec.nics.every((n, i) => {
      const st = this.physnets.get(n.physnet);
      if (!st) return false;
      const sp = v.links.get(names.switchPort(spec.name, i));
      const vp = v.links.get(names.vmPort(spec.name, i));
      if (sp?.link !== vp?.name || !sp || !vp || !sp.up || !vp.up) return false;
      return st.bridgeType === 'linuxbridge' ? sp.master === st.bridge : v.ovsPorts.get(sp.name)?.bridge === st.bridge;
    });
  }

  async attach(spec: NodeSpec, o: CallOptions = {}): Promise<DomainNic[]> {
    const v = await this.hostView();
    const ops: Ops = { ip: [], ovs: [] };
    const nics = spec.nics.map((n, i): DomainNic => {
      const st = this.physnet(n.physnet);
      const sp = names.switchPort(spec.name, i);
      const vp = names.vmPort(spec.name, i);
      const marks: Marks = {
        role: ROLE.switchPort,
        agent: this.o.owner,
        cluster: spec.cluster,
        node: spec.name,
        nic: String(i),
        physnet: n.physnet,
      };
      const spLink = v.links.get(sp);
      if (!spLink || !v.links.has(vp) || spLink.link !== vp) {
        if (spLink) ops.ip.push(ipLine.del(sp));
        else if (v.links.has(vp)) ops.ip.push(ipLine.del(vp));
        ops.ip.push(
          ipLine.addVeth(sp, vp),
          ipLine.alias(sp, aliasOf(marks)),
          ipLine.alias(vp, aliasOf({ ...marks, role: ROLE.vmPort })),
          ipLine.quiet(sp),
          ipLine.quiet(vp),
          ipLine.up(sp),
          ipLine.up(vp),
        );
        // The fresh link is in no bridge yet.
        if (st.bridgeType === 'linuxbridge') ops.ip.push(ipLine.master(sp, st.bridge));
        else {
          const at = v.ovsPorts.get(sp);
          if (at && at.bridge !== st.bridge) ops.ovs.push(['del-port', at.bridge, sp]);
          ops.ovs.push(['--may-exist', 'add-port', st.bridge, sp], ['set', 'port', sp, ...externalIdsOf(marks)]);
        }
      } else {
        if (!spLink.up) ops.ip.push(ipLine.up(sp));
        if (!v.links.get(vp)?.up) ops.ip.push(ipLine.up(vp));
        this.plug(ops, v, st.bridgeType, st.bridge, sp, marks);
      }
      if (n.mac === null) throw new TenksError('INTERNAL', `NIC ${i} of '${spec.name}' has no MAC`);
      return { mac: n.mac, attach: { type: 'direct', device: vp }, alias: `nic${i}` };
    });
    if (o.signal?.aborted) throw new TenksError('CANCELLED', 'cancelled');
    await this.submit(ops);
    await this.note(spec, true);
    return nics;
  }

  describe(spec: NodeSpec): NodeStatus['nics'] {
    return spec.nics.map((n, i) => {
      const st = this.physnets.get(n.physnet);
      return {
        physnet: n.physnet,
        mac: n.mac ?? '',
        bridge: st?.bridge ?? '',
        bridgeMac: st?.bridgeMac ?? '',
        switchPort: names.switchPort(spec.name, i),
      };
    });
  }

  async detach(spec: NodeSpec, _o: CallOptions = {}): Promise<string[]> {
    if (spec.nics.length === 0) return [];
    const v = await this.hostView();
    const ops: Ops = { ovsFirst: [], ip: [], ipDelete: [], ovs: [] };
    const removed: string[] = [];
    spec.nics.forEach((_n, i) => {
      const sp = names.switchPort(spec.name, i);
      const vp = names.vmPort(spec.name, i);
      const at = v.ovsPorts.get(sp);
      // OVS first, so a port never points at a deleted link.
      if (at) ops.ovsFirst?.push(['--if-exists', 'del-port', at.bridge, sp]);
      if (v.links.has(sp)) ops.ipDelete?.push(sp);
      else if (v.links.has(vp)) ops.ipDelete?.push(vp);
      if (at || v.links.has(sp) || v.links.has(vp)) removed.push(`switch port ${sp}`);
    });
    await this.submit(ops);
    await this.note(spec, false);
    return removed;
  }
}
