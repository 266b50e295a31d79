/**
 * An in-memory host network for unit tests of the network plane: Linux links changed by `ip -batch`
 * lines and an Open vSwitch database changed by `ovs-vsctl` transactions, with the kernel's and
 * OVSDB's semantics the plane relies on. An `ip` batch stops at its first failing line, the lines
 * before it applied (as `ip -batch` does); an OVS transaction is all or nothing.
 */
import { TenksError } from '../../common/index.js';
import type { HostLinks, LinkInfo } from '../../agent/network/ip-links.js';
import type { OvsRow, OvsSwitch } from '../../agent/network/ovs.js';

interface FakeLink extends LinkInfo {
  group: number;
  /** `addrgenmode none`: no IPv6 link-local address. */
  quiet: boolean;
}

interface FakeOvsBridge {
  externalIds: Record<string, string>;
  otherConfig: Record<string, string>;
  datapathType: string;
  ports: string[];
}

interface FakeOvsPort {
  bridge: string;
  externalIds: Record<string, string>;
  tag: number | null;
  interfaceType: string;
  options: Record<string, string>;
}

/** One change the plane made to the host. */
export type FakeNetCall = { kind: 'ip'; lines: string[] } | { kind: 'ovs'; commands: string[][] };

const IFNAME_MAX = 15;

/** The host network: its links, OVS database and the changes made to them. */
export class FakeHostNet {
  links = new Map<string, FakeLink>();
  ovsBridges = new Map<string, FakeOvsBridge>();
  ovsPorts = new Map<string, FakeOvsPort>();
  /** Every `ip` batch and OVS transaction, in order (failed ones too). */
  readonly calls: FakeNetCall[] = [];
  /** How many times every link was read. */
  reads = 0;
  /** An `ip` line, or an OVS command (its words joined by spaces), that this matches fails. */
  failing: ((what: string) => boolean) | null = null;
  private macs = 0;

  /** The `ip` side, as the plane uses it. */
  readonly ip: HostLinks = {
    list: () => {
      this.reads++;
      return Promise.resolve([...this.links.values()].map(({ group: _g, quiet: _q, ...l }) => ({ ...l })));
    },
    batch: (lines) => {
      if (lines.length === 0) return Promise.resolve();
      this.calls.push({ kind: 'ip', lines: [...lines] });
      for (const [i, line] of lines.entries()) {
        try {
          if (this.failing?.(line)) throw new Error('RTNETLINK answers: Operation not permitted');
          this.ipLine(line);
        } catch (e) {
          return Promise.reject(
            new TenksError(
              'INTERNAL',
              `changing host links failed: ${(e as Error).message}; Command failed -:${i + 1}`,
            ),
          );
        }
      }
      return Promise.resolve();
    },
  };

  /** The Open vSwitch side, as the plane uses it (userspace datapath). */
  readonly ovs: OvsSwitch = {
    datapathType: () => Promise.resolve('netdev'),
    transact: (commands) => {
      if (commands.length === 0) return Promise.resolve('');
      this.calls.push({ kind: 'ovs', commands: commands.map((c) => [...c]) });
      const saved = this.save();
      try {
        for (const c of commands) {
          if (this.failing?.(c.join(' '))) throw new Error(`refused: ${c.join(' ')}`);
          this.ovsCommand([...c]);
        }
      } catch (e) {
        this.restore(saved);
        return Promise.reject(new TenksError('INTERNAL', `Open vSwitch refused the change: ${(e as Error).message}`));
      }
      return Promise.resolve('');
    },
    bridgesAndPorts: () =>
      Promise.resolve({
        bridges: [...this.ovsBridges].map(([name, b]): OvsRow => ({
          name,
          externalIds: { ...b.externalIds },
          tag: null,
          datapathType: b.datapathType,
          ports: [...b.ports],
        })),
        ports: [...this.ovsPorts].map(([name, p]): OvsRow => ({
          name,
          externalIds: { ...p.externalIds },
          tag: p.tag,
          datapathType: '',
          ports: [],
        })),
      }),
  };

  /** Adds a link as the host had it before tenks: a NIC (`kind` null), a bridge, a veth end... */
  addLink(name: string, fields: Partial<LinkInfo> = {}): void {
    this.links.set(name, {
      name,
      kind: null,
      master: null,
      alias: null,
      mac: this.nextMac(),
      up: true,
      link: null,
      loopback: false,
      group: 0,
      quiet: false,
      ...fields,
    });
  }

  /** Adds an OVS bridge as the host had it before tenks. */
  addOvsBridge(name: string, externalIds: Record<string, string> = {}): void {
    this.ovsCommand(['add-br', name]);
    const bridge = this.ovsBridges.get(name);
    if (bridge) bridge.externalIds = { ...externalIds };
  }

  link(name: string): FakeLink | undefined {
    return this.links.get(name);
  }

  /** Everything on the host as sorted text lines, to compare states. */
  snapshot(): string[] {
    const out = [...this.links.values()].map(
      (l) =>
        `link ${l.name} kind=${l.kind ?? '-'} master=${l.master ?? '-'} alias=${l.alias ?? '-'} up=${l.up} peer=${l.link ?? '-'} mac=${l.mac}`,
    );
    for (const [name, b] of this.ovsBridges)
      out.push(`ovs-bridge ${name} ids=${JSON.stringify(b.externalIds)} ports=${[...b.ports].sort().join(',')}`);
    for (const [name, p] of this.ovsPorts)
      out.push(`ovs-port ${p.bridge}/${name} tag=${p.tag ?? '-'} ids=${JSON.stringify(p.externalIds)}`);
    return out.sort();
  }

  /** The `ip` lines of every batch so far, in order. */
  ipLines(): string[] {
    return this.calls.flatMap((c) => (c.kind === 'ip' ? c.lines : []));
  }

  private nextMac(): string {
    this.macs++;
    return `02:00:00:00:${((this.macs >> 8) & 0xff).toString(16).padStart(2, '0')}:${(this.macs & 0xff).toString(16).padStart(2, '0')}`;
  }

  private need(name: string | undefined): FakeLink {
    const l = name === undefined ? undefined : this.links.get(name);
    if (!l) throw new Error(`Cannot find device "${name ?? ''}"`);
    return l;
  }

  private create(name: string | undefined, fields: Partial<FakeLink>): void {
    if (name === undefined || name.length > IFNAME_MAX) throw new Error(`"${name ?? ''}" is not a valid ifname`);
    if (this.links.has(name)) throw new Error('RTNETLINK answers: File exists');
    this.addLink(name, { up: false, ...fields });
  }

  /** Deletes a link as the kernel does: a veth takes its peer along, a device its VLANs, a bridge frees its ports. */
  private remove(name: string): void {
    const l = this.links.get(name);
    if (!l) return;
    this.links.delete(name);
    if (l.kind === 'veth' && l.link !== null) this.links.delete(l.link);
    for (const other of [...this.links.values()]) {
      if (other.kind === 'vlan' && other.link === name) this.remove(other.name);
      if (other.master === name) other.master = null;
    }
  }

  private ipLine(line: string): void {
    const w = line.split(' ');
    const [object, verb] = w;
    if (object !== 'link') throw new Error(`unexpected line '${line}'`);
    if (verb === 'add' && w[3] === 'type' && w[4] === 'veth') {
      const [a, b] = [w[2], w[7]];
      if (b === undefined || this.links.has(b)) throw new Error('RTNETLINK answers: File exists');
      this.create(a, { kind: 'veth', link: b });
      this.create(b, { kind: 'veth', link: a ?? null });
    } else if (verb === 'add' && w[3] === 'address' && w[5] === 'type' && w[6] === 'bridge') {
      this.create(w[2], { kind: 'bridge', mac: w[4] ?? '' });
    } else if (verb === 'add' && w[2] === 'link' && w[6] === 'type' && w[7] === 'vlan') {
      this.need(w[3]);
      this.create(w[5], { kind: 'vlan', link: w[3] ?? null });
    } else if (verb === 'set' && w[2] === 'dev') {
      const l = this.need(w[3]);
      const value = w[5] ?? '';
      switch (w[4]) {
        case 'address':
          l.mac = value;
          break;
        case 'alias':
          l.alias = value;
          break;
        case 'up':
          l.up = true;
          break;
        case 'down':
          l.up = false;
          break;
        case 'addrgenmode':
          l.quiet = value === 'none';
          break;
        case 'master':
          if (this.need(value).kind !== 'bridge') throw new Error(`Device "${value}" is not a bridge`);
          l.master = value;
          break;
        case 'nomaster':
          l.master = null;
          break;
        case 'group':
          l.group = Number(value);
          break;
        default:
          throw new Error(`unexpected line '${line}'`);
      }
    } else if (verb === 'del' && w[2] === 'dev') {
      this.need(w[3]);
      this.remove(w[3] ?? '');
    } else if (verb === 'del' && w[2] === 'group') {
      for (const l of [...this.links.values()]) if (l.group === Number(w[3])) this.remove(l.name);
    } else throw new Error(`unexpected line '${line}'`);
  }

  private ovsCommand(c: string[]): void {
    const flags = new Set<string>();
    while (c[0]?.startsWith('--')) flags.add(c.shift() ?? '');
    const [verb, a, b] = c;
    if (verb === 'add-br' && a !== undefined) {
      if (this.ovsBridges.has(a)) {
        if (flags.has('--may-exist')) return;
        throw new Error(`a bridge named ${a} already exists`);
      }
      this.ovsBridges.set(a, { externalIds: {}, otherConfig: {}, datapathType: '', ports: [a] });
      this.ovsPorts.set(a, { bridge: a, externalIds: {}, tag: null, interfaceType: 'internal', options: {} });
      // The bridge's own interface: a tap device with the userspace datapath.
      this.addLink(a, { kind: 'tun', up: false });
    } else if (verb === 'del-br' && a !== undefined) {
      const bridge = this.ovsBridges.get(a);
      if (!bridge) {
        if (flags.has('--if-exists')) return;
        throw new Error(`no bridge named ${a}`);
      }
      for (const p of bridge.ports) this.ovsPorts.delete(p);
      this.ovsBridges.delete(a);
      this.links.delete(a);
    } else if (verb === 'add-port' && a !== undefined && b !== undefined) {
      const bridge = this.ovsBridges.get(a);
      if (!bridge) throw new Error(`no bridge named ${a}`);
      const at = this.ovsPorts.get(b);
      if (at) {
        if (at.bridge === a && flags.has('--may-exist')) return;
        throw new Error(
          `cannot create a port named ${b} because a port named ${b} already exists on bridge ${at.bridge}`,
        );
      }
      bridge.ports.push(b);
      this.ovsPorts.set(b, { bridge: a, externalIds: {}, tag: null, interfaceType: '', options: {} });
    } else if (verb === 'del-port' && a !== undefined && b !== undefined) {
      const at = this.ovsPorts.get(b);
      if (at?.bridge !== a) {
        if (flags.has('--if-exists')) return;
        throw new Error(`bridge ${a} does not have a port ${b}`);
      }
      this.ovsPorts.delete(b);
      const bridge = this.ovsBridges.get(a);
      if (bridge) bridge.ports = bridge.ports.filter((p) => p !== b);
    } else if (verb === 'set' && a !== undefined && b !== undefined) {
      for (const kv of c.slice(3)) this.ovsSet(a, b, kv);
    } else throw new Error(`unexpected command '${c.join(' ')}'`);
  }

  private ovsSet(table: string, record: string, kv: string): void {
    const i = kv.indexOf('=');
    const key = kv.slice(0, i);
    const value = kv.slice(i + 1).replace(/^"(.*)"$/, '$1');
    const [column, mapKey] = key.split(':');
    if (table === 'bridge') {
      const bridge = this.ovsBridges.get(record);
      if (!bridge) throw new Error(`no row "${record}" in table Bridge`);
      if (column === 'external_ids' && mapKey) bridge.externalIds[mapKey] = value;
      else if (column === 'other_config' && mapKey) {
        bridge.otherConfig[mapKey] = value;
        const l = this.links.get(record);
        if (mapKey === 'hwaddr' && l) l.mac = value;
      } else if (column === 'datapath_type') bridge.datapathType = value;
      else throw new Error(`unexpected column ${key}`);
      return;
    }
    const port = this.ovsPorts.get(record);
    if (!port) throw new Error(`no row "${record}" in table ${table}`);
    if (table === 'port' && column === 'external_ids' && mapKey) port.externalIds[mapKey] = value;
    else if (table === 'port' && column === 'tag') port.tag = Number(value);
    else if (table === 'interface' && column === 'type') port.interfaceType = value;
    else if (table === 'interface' && column === 'options' && mapKey) port.options[mapKey] = value;
    else throw new Error(`unexpected column ${table}.${key}`);
  }

  private save(): string {
    return JSON.stringify({ links: [...this.links], bridges: [...this.ovsBridges], ports: [...this.ovsPorts] });
  }

  private restore(saved: string): void {
    const s = JSON.parse(saved) as {
      links: [string, FakeLink][];
      bridges: [string, FakeOvsBridge][];
      ports: [string, FakeOvsPort][];
    };
    this.links = new Map(s.links);
    this.ovsBridges = new Map(s.bridges);
    this.ovsPorts = new Map(s.ports);
  }
}
