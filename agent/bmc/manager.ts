import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TenksError, type Logger } from '../../common/index.js';
import type { BootDevice, NodeManager, NodeRef } from '../compute/index.js';
import type { BmcBackend, BmcBootDevice, BmcPowerAction } from './backend.js';
import { IpmiBmc } from './ipmi/bmc.js';
import { listenIpmi, type IpmiListener } from './ipmi/server.js';
import { Privilege } from './ipmi/session.js';
import { BmcStore } from './store.js';

/** Options of the BMC plane. */
export interface BmcManagerOptions {
  /** Address the BMC sockets bind (`0.0.0.0`, `::`, or one address). */
  listenAddress: string;
  /** Address reported to Ironic (never a wildcard). */
  advertiseAddress: string;
  /** IPMI ports are taken from [start, end]; start 0 lets the OS choose (tests). */
  ipmiPortStart: number;
  ipmiPortEnd: number;
  /** Directory of the credentials file (`bmc-<hash of the libvirt URI>.json`, mode 0600). */
  stateDir: string;
  /** The agent's libvirt URI: agents of different hypervisors on one host keep separate files. */
  libvirtUri: string;
  /** User name of BMCs whose spec names none. */
  defaultUsername: string;
  nodes: NodeManager;
  log: Logger;
}

/** What a node's BMC should be (empty fields: keep or choose). */
export interface BmcSettings {
  ipmiEnabled: boolean;
  username: string;
  password: string;
  ipmiPort: number;
}

/** A node's BMC endpoints. */
export interface BmcEndpoints {
  ipmi: { address: string; port: number; username: string; password: string } | null;
}

/** Every BMC of this agent: IPMI sockets on one event loop, backed by the node manager. */
export class BmcManager implements BmcBackend {
  private readonly listeners = new Map<string, IpmiListener>();
  private readonly store: BmcStore;

  private constructor(private readonly o: BmcManagerOptions) {
    const key = createHash('sha256').update(o.libvirtUri).digest('hex').slice(0, 12);
    this.store = new BmcStore(join(o.stateDir, `bmc-${key}.json`));
  }

  /** Loads the credentials and brings back the BMCs of nodes that still exist. */
  static async create(o: BmcManagerOptions): Promise<BmcManager> {
    const m = new BmcManager(o);
    await m.store.load();
    const present = new Set((await o.nodes.list('')).map((n) => n.uuid));
    for (const [uuid, rec] of m.store.entries()) {
      if (!present.has(uuid)) {
        await m.store.delete(uuid);
        continue;
      }
      if (rec.ipmiPort > 0)
        await m.listen(uuid, rec.username, rec.password, rec.ipmiPort).catch((e: unknown) => {
          o.log.warn('BMC not restored: its port is taken', { node: rec.name, port: rec.ipmiPort, error: String(e) });
        });
    }
    o.log.info('BMCs restored', { count: m.listeners.size });
    return m;
  }

  /** The IPMI BMC of a node, if any (tests, stats). */
  bmc(uuid: string): IpmiBmc | undefined {
    return this.listeners.get(uuid)?.bmc;
  }

  private async listen(uuid: string, username: string, password: string, port: number): Promise<number> {
    const bmc = new IpmiBmc(uuid, { username, password, maxPrivilege: Privilege.ADMINISTRATOR }, this);
    const l = await listenIpmi(bmc, this.o.listenAddress, port, this.o.log);
    this.listeners.set(uuid, l);
    return l.port;
  }

  private async bindFree(uuid: string, username: string, password: string): Promise<number> {
    if (this.o.ipmiPortStart === 0) return this.listen(uuid, username, password, 0);
    const used = this.store.usedPorts();
    for (let p = this.o.ipmiPortStart; p <= this.o.ipmiPortEnd; p++) {
      if (used.has(p)) continue;
      try {
        return await this.listen(uuid, username, password, p);
      } catch {
        // Taken by another process: try the next one.
      }
    }
    throw new TenksError('CAPACITY', `no free IPMI port in ${this.o.ipmiPortStart}-${this.o.ipmiPortEnd}`, {
      hint: 'widen bmc.ipmi_port_range_start/end in the agent config',
    });
  }

  /** Makes a node's BMC match `s`; an unchanged BMC keeps running (no outage). */
  async ensure(node: { uuid: string; name: string }, s: BmcSettings): Promise<{ changed: boolean }> {
    const rec = this.store.get(node.uuid);
    if (!s.ipmiEnabled) {
      if (!rec) return { changed: false };
      await this.remove(node.uuid);
      return { changed: true };
    }
    const username = s.username !== '' ? s.username : (rec?.username ?? this.o.defaultUsername);
    const password = s.password !== '' ? s.password : (rec?.password ?? randomBytes(12).toString('base64url'));
    const live = this.listeners.get(node.uuid);
    const wantPort = s.ipmiPort !== 0 ? s.ipmiPort : (rec?.ipmiPort ?? 0);
    if (rec && live?.port === wantPort && rec.username === username && rec.password === password)
      return { changed: false };
    if (live && (wantPort === 0 || live.port === wantPort)) {
      live.bmc.setUser({ username, password, maxPrivilege: Privilege.ADMINISTRATOR });
      await this.store.set(node.uuid, { name: node.name, username, password, ipmiPort: live.port });
      return { changed: true };
    }
    if (live) {
      await live.close();
      this.listeners.delete(node.uuid);
    }
    const port =
      wantPort !== 0
        ? await this.listen(node.uuid, username, password, wantPort)
        : await this.bindFree(node.uuid, username, password);
    await this.store.set(node.uuid, { name: node.name, username, password, ipmiPort: port });
    this.o.log.info('BMC started', { node: node.name, port });
    return { changed: true };
  }

  /** Stops and forgets a node's BMC. */
  async remove(uuid: string): Promise<boolean> {
    const l = this.listeners.get(uuid);
    if (l) {
      await l.close();
      this.listeners.delete(uuid);
    }
    const had = this.store.get(uuid) !== undefined;
    await this.store.delete(uuid);
    return had || l !== undefined;
  }

  /** A node's endpoints; the password only when asked. */
  info(uuid: string, includeSecrets: boolean): BmcEndpoints {
    const rec = this.store.get(uuid);
    const l = this.listeners.get(uuid);
    if (!rec || !l) return { ipmi: null };
    return {
      ipmi: {
        address: this.o.advertiseAddress,
        port: l.port,
        username: rec.username,
        password: includeSecrets ? rec.password : '',
      },
    };
  }

  private ref(uuid: string): NodeRef {
    return { cluster: '', name: '', uuid };
  }

  async powerState(uuid: string): Promise<'on' | 'off'> {
    const s = await this.o.nodes.powerState(this.ref(uuid));
    return s === 'off' || s === 'unknown' ? 'off' : 'on';
  }

  async power(uuid: string, action: BmcPowerAction): Promise<void> {
    // A powered-off chassis ignores reset, NMI and soft-off, as real BMCs (and VirtualBMC) do.
    if ((action === 'reset' || action === 'nmi' || action === 'soft_off') && (await this.powerState(uuid)) === 'off')
      return;
    await this.o.nodes.power(this.ref(uuid), action);
  }

  async bootDevice(uuid: string): Promise<BmcBootDevice> {
    return this.o.nodes.bootDevice(this.ref(uuid));
  }

  async setBootDevice(uuid: string, device: BootDevice, persistent: boolean): Promise<void> {
    await this.o.nodes.setBootDevice(this.ref(uuid), device, persistent);
  }

  async close(): Promise<void> {
    await Promise.all([...this.listeners.values()].map((l) => l.close()));
    this.listeners.clear();
  }
}
