import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TenksError, type Logger } from '../../common/index.js';
import type {
  Arch,
  BootDevice,
  DomainEvent,
  FirmwarePatch,
  NodeLock,
  NodeManager,
  NodeRef,
  NodeStatus,
} from '../compute/index.js';
import { POWER_AFTER_EVENT } from '../compute/index.js';
import type {
  BmcBootDevice,
  BmcInventory,
  BmcPowerAction,
  FirmwareSupport,
  MediaInsert,
  RedfishBackend,
} from './backend.js';
import { IpmiBmc } from './ipmi/bmc.js';
import type { IpmiListener } from './ipmi/server.js';
import { Privilege } from './ipmi/session.js';
import { RedfishService } from './redfish/server.js';
import { sameSecret } from './redfish/sessions.js';
import { BmcStore } from './store.js';
import { socketTransport, type BmcTransport } from './transport.js';

/** How long an observed node (and its power state) answers BMC reads before libvirt is asked again. */
const STATUS_TTL_MS = 2_000;

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
  /** Redfish service port (0: any free port). */
  redfishPort: number;
  /** HTTPS identity for Redfish, or null for HTTP. */
  redfishTls: { cert: Buffer; key: Buffer } | null;
  /** The architectures this host has UEFI firmware for, and Secure Boot firmware (Redfish firmware choices). */
  firmware: { uefiArches: readonly string[]; secureBootArches: readonly string[] };
  nodes: NodeManager;
  log: Logger;
  /** How BMCs are bound to the network. Default: real sockets. */
  transport?: BmcTransport;
  /** The credentials file, already loaded ({@link BmcManager.openStore}); default: loaded by create. */
  store?: BmcStore;
}

/** What a node's BMC should be (empty fields: keep or choose). */
export interface BmcSettings {
  ipmiEnabled: boolean;
  redfishEnabled: boolean;
  username: string;
  password: string;
  ipmiPort: number;
}

/** A node's BMC endpoints. */
export interface BmcEndpoints {
  ipmi: { address: string; port: number; username: string; password: string } | null;
  redfish: { url: string; systemId: string; username: string; password: string } | null;
}

/**
 * Every BMC of this agent: IPMI sockets and the Redfish service on one event loop, backed by the
 * node manager through one libvirt connection. Node reads are cached briefly and kept fresh by
 * libvirt's lifecycle events, so a burst of BMC traffic does not become a burst of libvirt calls.
 */
export class BmcManager implements RedfishBackend {
  private readonly listeners = new Map<string, IpmiListener>();
  private readonly store: BmcStore;
  readonly redfish: RedfishService;
  /** Redfish credentials: user name → node UUID → password. */
  private redfishUsers = new Map<string, Map<string, string>>();
  /** Redfish node name → UUID. */
  private redfishNames = new Map<string, string>();
  private readonly cache = new Map<string, { status: NodeStatus; atMs: number }>();
  /** Reads that went to libvirt (stats, tests). */
  readonly cacheStats = { hits: 0, misses: 0 };
  private readonly transport: BmcTransport;

  private constructor(private readonly o: BmcManagerOptions) {
    this.transport = o.transport ?? socketTransport;
    this.store = o.store ?? new BmcStore(bmcStorePath(o.stateDir, o.libvirtUri));
    this.redfish = new RedfishService({
      listenAddress: o.listenAddress,
      port: o.redfishPort,
      tls: o.redfishTls,
      backend: this,
      log: o.log,
      scratchDir: join(o.stateDir, 'media-tmp'),
    });
  }

  firmwareFor(arch: Arch): FirmwareSupport {
    return {
      uefi: this.o.firmware.uefiArches.includes(arch),
      secureBoot: this.o.firmware.secureBootArches.includes(arch),
    };
  }

  private reindex(): void {
    const users = new Map<string, Map<string, string>>();
    const names = new Map<string, string>();
    for (const [uuid, r] of this.store.entries()) {
      if (!r.redfish) continue;
      let m = users.get(r.username);
      if (!m) users.set(r.username, (m = new Map<string, string>()));
      m.set(uuid, r.password);
      names.set(r.name, uuid);
    }
    this.redfishUsers = users;
    this.redfishNames = names;
  }

  redfishLogin(username: string, password: string): Set<string> {
    const out = new Set<string>();
    const nodes = this.redfishUsers.get(username);
    if (!nodes) return out;
    for (const [uuid, pw] of nodes) if (sameSecret(pw, password)) out.add(uuid);
    return out;
  }

  redfishUuidOf(name: string): string | null {
    return this.redfishNames.get(name) ?? null;
  }

  /** A node as observed, from the cache when fresh. */
  async node(uuid: string): Promise<NodeStatus> {
    const c = this.cache.get(uuid);
    if (c && Date.now() - c.atMs < STATUS_TTL_MS) {
      this.cacheStats.hits++;
      return c.status;
    }
    this.cacheStats.misses++;
    const status = await this.o.nodes.get(this.ref(uuid));
    this.cache.set(uuid, { status, atMs: Date.now() });
    return status;
  }

  private invalidate(uuid: string): void {
    this.cache.delete(uuid);
  }

  /** Keeps cached power states current; call with every libvirt lifecycle event. */
  onDomainEvent(e: DomainEvent): void {
    const c = this.cache.get(e.uuid);
    if (!c) return;
    const power = POWER_AFTER_EVENT[e.type];
    if (power === undefined) this.cache.delete(e.uuid);
    else c.status = { ...c.status, powerState: power };
  }

  /** Reads the credentials file of an agent (state directory, libvirt URI) without changing anything. */
  static async openStore(stateDir: string, libvirtUri: string): Promise<BmcStore> {
    const store = new BmcStore(bmcStorePath(stateDir, libvirtUri));
    await store.load();
    return store;
  }

  /** Loads the credentials and brings back the BMCs of nodes that still exist. */
  static async create(o: BmcManagerOptions): Promise<BmcManager> {
    const m = new BmcManager(o);
    if (!o.store) await m.store.load();
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
    m.reindex();
    try {
      await m.transport.startRedfish(m.redfish);
    } catch (e) {
      await m.close();
      throw e;
    }
    o.log.info('BMCs restored', { ipmi: m.listeners.size, redfish: m.redfishNames.size });
    return m;
  }

  /** The IPMI BMC of a node, if any (tests, stats). */
  bmc(uuid: string): IpmiBmc | undefined {
    return this.listeners.get(uuid)?.bmc;
  }

  private async listen(uuid: string, username: string, password: string, port: number): Promise<number> {
    const bmc = new IpmiBmc(uuid, { username, password, maxPrivilege: Privilege.ADMINISTRATOR }, this);
    const l = await this.transport.listenIpmi(bmc, this.o.listenAddress, port, this.o.log);
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

  /**
   * Makes a node's BMC match `s`; an unchanged BMC keeps running (no outage). One change of the
   * node (see NodeManager.serialise), so concurrent ensures bind one socket.
   */
  async ensure(node: { uuid: string; name: string }, s: BmcSettings): Promise<{ changed: boolean }> {
    return this.o.nodes.serialise(node.name, (lock) => this.ensureHeld(lock, node, s));
  }

  /** {@link ensure} for a caller holding the node's lock. */
  async ensureHeld(
    lock: NodeLock,
    node: { uuid: string; name: string },
    s: BmcSettings,
  ): Promise<{ changed: boolean }> {
    this.o.nodes.assertHeld(lock, node.name);
    const before = this.store.get(node.uuid);
    const r = await this.ensureRecord(node, s);
    if (r.changed) {
      this.invalidate(node.uuid);
      this.reindex();
      // Sessions opened with old credentials end with them.
      const after = this.store.get(node.uuid);
      if (before && (after?.username !== before.username || after.password !== before.password || !after.redfish))
        this.redfish.forget(before.username);
    }
    return r;
  }

  private async ensureRecord(node: { uuid: string; name: string }, s: BmcSettings): Promise<{ changed: boolean }> {
    const rec = this.store.get(node.uuid);
    if (!s.ipmiEnabled && !s.redfishEnabled) {
      if (!rec) return { changed: false };
      await this.removeRecord(node.uuid);
      return { changed: true };
    }
    const username = s.username !== '' ? s.username : (rec?.username ?? this.o.defaultUsername);
    const password = s.password !== '' ? s.password : (rec?.password ?? randomBytes(12).toString('base64url'));
    const live = this.listeners.get(node.uuid);
    const sameUser = rec?.username === username && rec.password === password;
    if (!s.ipmiEnabled) {
      if (live) {
        await live.close();
        this.listeners.delete(node.uuid);
      }
      if (sameUser && rec.ipmiPort === 0 && rec.redfish) return { changed: false };
      await this.store.set(node.uuid, { name: node.name, username, password, ipmiPort: 0, redfish: true });
      return { changed: true };
    }
    const wantPort = s.ipmiPort !== 0 ? s.ipmiPort : (rec?.ipmiPort ?? 0);
    if (sameUser && live?.port === wantPort && rec.redfish === s.redfishEnabled) return { changed: false };
    if (live && (wantPort === 0 || live.port === wantPort)) {
      live.bmc.setUser({ username, password, maxPrivilege: Privilege.ADMINISTRATOR });
      await this.store.set(node.uuid, {
        name: node.name,
        username,
        password,
        ipmiPort: live.port,
        redfish: s.redfishEnabled,
      });
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
    await this.store.set(node.uuid, { name: node.name, username, password, ipmiPort: port, redfish: s.redfishEnabled });
    this.o.log.info('BMC started', { node: node.name, port, redfish: s.redfishEnabled });
    return { changed: true };
  }

  /** IPMI ports in use and the Redfish service URL (for heartbeats). */
  portUsage(): { ipmiPortsUsed: number; redfishUrl: string } {
    const host = this.o.advertiseAddress.includes(':') ? `[${this.o.advertiseAddress}]` : this.o.advertiseAddress;
    return { ipmiPortsUsed: this.listeners.size, redfishUrl: `${this.redfish.scheme}://${host}:${this.redfish.port}` };
  }

  /** Stops and forgets a node's BMC, as one change of the node (see NodeManager.serialise). */
  async remove(uuid: string): Promise<boolean> {
    const name = this.store.get(uuid)?.name ?? (await this.o.nodes.lockName({ cluster: '', name: '', uuid }));
    // Neither a record nor a domain: nothing of this node to change under a lock.
    if (name === null) return this.removeNow(uuid);
    return this.o.nodes.serialise(name, (lock) => this.removeHeld(lock, uuid));
  }

  /** {@link remove} for a caller holding the node's lock. */
  async removeHeld(lock: NodeLock, uuid: string): Promise<boolean> {
    this.o.nodes.assertHeld(lock, this.store.get(uuid)?.name ?? lock.name);
    return this.removeNow(uuid);
  }

  private async removeNow(uuid: string): Promise<boolean> {
    const rec = this.store.get(uuid);
    const had = await this.removeRecord(uuid);
    this.invalidate(uuid);
    this.reindex();
    if (rec) this.redfish.forget(rec.username);
    return had;
  }

  private async removeRecord(uuid: string): Promise<boolean> {
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
    if (!rec) return { ipmi: null, redfish: null };
    const password = includeSecrets ? rec.password : '';
    const host = this.o.advertiseAddress.includes(':') ? `[${this.o.advertiseAddress}]` : this.o.advertiseAddress;
    return {
      ipmi: l ? { address: this.o.advertiseAddress, port: l.port, username: rec.username, password } : null,
      redfish: rec.redfish
        ? {
            url: `${this.redfish.scheme}://${host}:${this.redfish.port}`,
            systemId: `/redfish/v1/Systems/${uuid}`,
            username: rec.username,
            password,
          }
        : null,
    };
  }

  private ref(uuid: string): NodeRef {
    return { cluster: '', name: '', uuid };
  }

  async powerState(uuid: string): Promise<'on' | 'off'> {
    const s = (await this.node(uuid)).powerState;
    return s === 'off' || s === 'unknown' ? 'off' : 'on';
  }

  async power(uuid: string, action: BmcPowerAction): Promise<void> {
    // A powered-off chassis ignores reset, NMI and soft-off, as real BMCs (and VirtualBMC) do.
    if ((action === 'reset' || action === 'nmi' || action === 'soft_off') && (await this.powerState(uuid)) === 'off')
      return;
    this.invalidate(uuid);
    try {
      await this.o.nodes.power(this.ref(uuid), action);
    } finally {
      this.invalidate(uuid);
    }
  }

  async bootDevice(uuid: string): Promise<BmcBootDevice> {
    const n = await this.node(uuid);
    return { device: n.bootDevice, persistent: n.bootPersistent, uefi: n.firmware.bootMode === 'uefi' };
  }

  async inventory(uuid: string): Promise<BmcInventory> {
    const n = await this.node(uuid);
    return { name: n.name, arch: n.arch };
  }

  async setBootDevice(uuid: string, device: BootDevice, persistent: boolean): Promise<void> {
    try {
      await this.o.nodes.setBootDevice(this.ref(uuid), device, persistent);
    } finally {
      this.invalidate(uuid);
    }
  }

  async setFirmware(uuid: string, patch: FirmwarePatch): Promise<void> {
    try {
      await this.o.nodes.setFirmware(this.ref(uuid), patch);
    } finally {
      this.invalidate(uuid);
    }
  }

  async insertMedia(uuid: string, media: MediaInsert): Promise<void> {
    try {
      await this.o.nodes.insertMedia(this.ref(uuid), media);
    } finally {
      this.invalidate(uuid);
    }
  }

  async ejectMedia(uuid: string): Promise<boolean> {
    try {
      return await this.o.nodes.ejectMedia(this.ref(uuid));
    } finally {
      this.invalidate(uuid);
    }
  }

  async close(): Promise<void> {
    await this.redfish.close();
    await Promise.all([...this.listeners.values()].map((l) => l.close()));
    this.listeners.clear();
  }
}

/** The credentials file: agents of different hypervisors on one host keep separate files. */
function bmcStorePath(stateDir: string, libvirtUri: string): string {
  const key = createHash('sha256').update(libvirtUri).digest('hex').slice(0, 12);
  return join(stateDir, `bmc-${key}.json`);
}
