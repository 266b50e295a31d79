import { TenksError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { Semaphore, throwIfAborted } from '../../common/semaphore.js';
import {
  Connection,
  DomainEventCode,
  DomainXmlFlags,
  DomainStateCode,
  LibvirtError,
  ModifyFlags,
  UndefineFlags,
  VirErr,
  type Domain,
} from '../native/index.js';
import { cdromXml, domainXml, METADATA_KEY, METADATA_NS, metadataXml, parseMetadata } from './domain-xml.js';
import type {
  CallOptions,
  DomainEvent,
  DomainPowerOp,
  DomainSpec,
  DomainSummary,
  DiskSource,
  Hypervisor,
  NodeMetadata,
} from './hypervisor.js';
import {
  readCapabilities,
  type Capabilities,
  type CapabilityOptions,
  type FirmwareArches,
} from './libvirt-capabilities.js';
import { fromLibvirt, isVirCode, lv } from './libvirt-errors.js';
import { cdromBus, domainFirmware, withoutFirmwareSelection } from './libvirt-xml.js';
import type { HostFacts, PowerState } from './types.js';

/** Options of the libvirt hypervisor adapter. */
export interface LibvirtHypervisorOptions extends Pick<CapabilityOptions, 'uri' | 'engine' | 'kvmProbeCache' | 'log'> {
  /** Most libvirt calls in flight at once on this connection. Default 16. */
  concurrency?: number;
  /** Keepalive interval in seconds for remote connections (0: off). Default 5. */
  keepaliveIntervalS?: number;
  /**
   * Host RAM and CPUs to report instead of libvirt's (each null: libvirt's); free memory shrinks by
   * what libvirt counts as used. For the test driver only (the agent's `test_capacity`).
   */
  reportedCapacity?: { memoryBytes: number | null; cpus: number | null; arches?: string[] | null };
}

/** Maps `virDomainState` to tenks' power state. */
export function powerStateOf(state: number): PowerState {
  switch (state) {
    case DomainStateCode.RUNNING:
    case DomainStateCode.BLOCKED:
      return 'on';
    case DomainStateCode.PAUSED:
      return 'paused';
    case DomainStateCode.SHUTDOWN:
      return 'shutting_down';
    case DomainStateCode.SHUTOFF:
      return 'off';
    case DomainStateCode.CRASHED:
      return 'crashed';
    case DomainStateCode.PMSUSPENDED:
      return 'suspended';
    default:
      return 'unknown';
  }
}

const EVENT_TYPE: Record<number, DomainEvent['type']> = {
  [DomainEventCode.DEFINED]: 'defined',
  [DomainEventCode.UNDEFINED]: 'undefined',
  [DomainEventCode.STARTED]: 'started',
  [DomainEventCode.STOPPED]: 'stopped',
  [DomainEventCode.SUSPENDED]: 'suspended',
  [DomainEventCode.RESUMED]: 'resumed',
  [DomainEventCode.SHUTDOWN]: 'shutdown',
  [DomainEventCode.CRASHED]: 'crashed',
};

/** The Hypervisor port on a real libvirt connection (through the native addon). */
export class LibvirtHypervisor implements Hypervisor {
  private readonly limit: Semaphore;

  private constructor(
    private readonly conn: Connection,
    private readonly caps: Capabilities,
    private readonly firmware: FirmwareArches,
    private readonly log: Logger,
    concurrency: number,
    private readonly reported: LibvirtHypervisorOptions['reportedCapacity'] | null,
  ) {
    this.limit = new Semaphore(concurrency);
  }

  /** Connects and detects the engine (kvm when libvirt offers it, else TCG) and UEFI firmware. */
  static async connect(o: LibvirtHypervisorOptions): Promise<LibvirtHypervisor> {
    let conn: Connection;
    try {
      conn = await Connection.open(o.uri);
    } catch (e) {
      throw new TenksError('UNAVAILABLE', `cannot connect to libvirt at '${o.uri}': ${(e as Error).message}`, {
        cause: e,
        hint: 'is libvirtd running? (libvirtd -d, or systemctl start libvirtd)',
      });
    }
    try {
      const remote = /^[a-z]+\+[a-z]+:/.test(o.uri) || /^qemu:\/\/\/(system|session)/.test(o.uri);
      const interval = o.keepaliveIntervalS ?? 5;
      if (remote && interval > 0) await conn.setKeepAlive(interval, 3).catch(() => undefined);
      const { caps, firmware } = await readCapabilities(conn, { ...o, testArches: o.reportedCapacity?.arches ?? null });
      o.log.info('libvirt connected', {
        uri: o.uri,
        engine: caps.engine,
        domainType: caps.domainType,
        arches: caps.arches,
        uefiArches: firmware.uefiArches,
      });
      return new LibvirtHypervisor(conn, caps, firmware, o.log, o.concurrency ?? 16, o.reportedCapacity ?? null);
    } catch (e) {
      await conn.close().catch(() => undefined);
      throw e;
    }
  }

  get uri(): string {
    return this.conn.uri;
  }

  /** The detected engine and domain type. */
  get capabilities(): Capabilities {
    return this.caps;
  }

  private run<T>(o: CallOptions | undefined, task: () => Promise<T>): Promise<T> {
    return this.limit.run(async () => {
      throwIfAborted(o?.signal);
      return task();
    }, o?.signal);
  }

  async facts(o?: CallOptions): Promise<HostFacts> {
    return this.run(o, async () => {
      const [hostname, info, free, libVersion, hvVersion] = await Promise.all([
        lv(this.conn.hostname(), 'reading hostname'),
        lv(this.conn.nodeInfo(), 'reading node info'),
        lv(this.conn.freeMemoryBytes(), 'reading free memory'),
        lv(this.conn.libVersion(), 'reading libvirt version'),
        lv(this.conn.hypervisorVersion(), 'reading hypervisor version').catch(() => 0),
      ]);
      const memoryBytes = info.memoryKiB * 1024;
      const reported = this.reported;
      const reportedMemory = reported?.memoryBytes ?? memoryBytes;
      return {
        hostname,
        libvirtUri: this.conn.uri,
        libvirtVersion: libVersion,
        hypervisorVersion: hvVersion,
        engine: this.caps.engine,
        cpus: reported?.cpus ?? info.cpus,
        memoryBytes: reportedMemory,
        freeMemoryBytes: Math.max(0, reportedMemory - (memoryBytes - free)),
        uefiAvailable: this.firmware.uefiArches.includes('x86_64'),
        arches: [...this.caps.arches],
        uefiArches: [...this.firmware.uefiArches],
        secureBootArches: [...this.firmware.secureBootArches],
        kvmArches: this.caps.engine === 'kvm' ? [...this.caps.kvmArches] : [],
      };
    });
  }

  private async summary(d: Domain): Promise<DomainSummary | null> {
    try {
      const [state, meta] = await Promise.all([
        d.state(),
        // The persistent definition's metadata: redefining a running domain changes only that one.
        // A transient domain (undefined while running, or started without a definition) has only
        // its live definition.
        d
          .getMetadata(METADATA_NS, ModifyFlags.CONFIG)
          .catch((e: unknown) => {
            if (isVirCode(e, VirErr.OPERATION_INVALID)) return d.getMetadata(METADATA_NS, ModifyFlags.LIVE);
            throw e;
          })
          .catch((e: unknown) => {
            if (isVirCode(e, VirErr.NO_DOMAIN_METADATA)) return null;
            throw e;
          }),
      ]);
      return {
        name: d.name,
        uuid: d.uuid,
        powerState: powerStateOf(state.state),
        metadata: meta === null ? null : parseMetadata(meta),
      };
    } catch (e) {
      // The domain went away between listing and reading it.
      if (isVirCode(e, VirErr.NO_DOMAIN)) return null;
      throw fromLibvirt(e, `reading domain '${d.name}'`);
    }
  }

  async listDomains(o?: CallOptions): Promise<DomainSummary[]> {
    const domains = await this.run(o, () => lv(this.conn.listDomains(), 'listing domains'));
    const out = await Promise.all(domains.map((d) => this.run(o, () => this.summary(d))));
    return out.filter((d): d is DomainSummary => d !== null);
  }

  async getDomain(name: string, o?: CallOptions): Promise<DomainSummary | null> {
    return this.run(o, async () => {
      const d = await lv(this.conn.findDomain(name), `looking up domain '${name}'`);
      return d === null ? null : this.summary(d);
    });
  }

  async getDomainByUuid(uuid: string, o?: CallOptions): Promise<DomainSummary | null> {
    return this.run(o, async () => {
      const d = await lv(this.conn.findDomainByUuid(uuid), `looking up domain ${uuid}`);
      return d === null ? null : this.summary(d);
    });
  }

  /** The domain XML this adapter would define for `spec` (for tests and `--dry-run`). */
  renderXml(spec: DomainSpec): string {
    // The test driver takes only its own domain type; otherwise the node's engine (a spec may force TCG).
    const type = this.caps.domainType === 'test' ? 'test' : spec.engine;
    return domainXml(spec, type, spec.arch === 'x86_64' ? this.caps.arch : spec.arch);
  }

  async defineDomain(spec: DomainSpec, o?: CallOptions): Promise<DomainSummary> {
    if (!this.caps.arches.includes(spec.arch))
      throw new TenksError(
        'UNSUPPORTED',
        `node '${spec.name}' is ${spec.arch}, which libvirt at '${this.conn.uri}' does not run (it runs ${this.caps.arches.join(', ')})`,
        { field: 'node.arch', ...(spec.arch === 'aarch64' ? { hint: 'install qemu-system-arm' } : {}) },
      );
    if (spec.bootMode === 'uefi' && !this.firmware.uefiArches.includes(spec.arch))
      throw new TenksError(
        'UNSUPPORTED',
        `node '${spec.name}' wants UEFI but no ${spec.arch} UEFI firmware is available to libvirt`,
        {
          field: 'node.boot_mode',
          hint:
            spec.arch === 'aarch64' ? 'install qemu-efi-aarch64' : 'install the ovmf package, or use boot_mode: bios',
        },
      );
    const xml = this.renderXml(spec);
    return this.run(o, async () => {
      // A UEFI domain switched to BIOS would leave its NVRAM file behind: while it is off, undefine
      // it with its NVRAM first (same name and UUID come back with the new definition).
      let restore: string | null = null;
      if (spec.bootMode === 'bios') {
        const previous = await this.conn.findDomain(spec.name).catch(() => null);
        const oldXml = previous
          ? await previous.xml(DomainXmlFlags.INACTIVE | DomainXmlFlags.SECURE).catch(() => '')
          : '';
        const uefi = oldXml === '' ? null : domainFirmware(oldXml);
        if (previous && (uefi?.selectsEfi === true || uefi?.hasLoader === true)) {
          if (await previous.isActive().catch(() => true))
            this.log.warn('node switched to BIOS while running: its NVRAM file stays until it is deleted', {
              node: spec.name,
            });
          else {
            await lv(previous.undefine(UndefineFlags.NVRAM), `removing the UEFI definition of '${spec.name}'`);
            restore = oldXml;
          }
        }
      }
      let d: Domain;
      try {
        d = await lv(this.conn.defineDomain(xml), `defining domain '${spec.name}'`);
      } catch (e) {
        // Put the previous definition back rather than lose the node.
        if (restore !== null) await this.conn.defineDomain(restore).catch(() => undefined);
        throw e;
      }
      const state = await lv(d.state(), `reading state of '${spec.name}'`);
      // The metadata is what was just defined: no need to read it back.
      return { name: d.name, uuid: d.uuid, powerState: powerStateOf(state.state), metadata: spec.metadata };
    });
  }

  async setMetadata(name: string, metadata: NodeMetadata, o?: CallOptions): Promise<void> {
    await this.run(o, async () => {
      const d = await lv(this.conn.domainByName(name), `looking up domain '${name}'`);
      // CONFIG so the metadata persists; LIVE too when running (libvirt rejects LIVE on inactive domains).
      const active = await lv(d.isActive(), `reading domain '${name}'`);
      const flags = ModifyFlags.CONFIG | (active ? ModifyFlags.LIVE : 0);
      await lv(d.setMetadata(metadataXml(metadata), METADATA_KEY, METADATA_NS, flags), `setting metadata of '${name}'`);
    });
  }

  async undefineDomain(name: string, o?: CallOptions): Promise<void> {
    await this.run(o, async () => {
      const d = await lv(this.conn.findDomain(name), `looking up domain '${name}'`);
      if (!d) return;
      const flags =
        UndefineFlags.NVRAM |
        UndefineFlags.MANAGED_SAVE |
        UndefineFlags.SNAPSHOTS_METADATA |
        UndefineFlags.CHECKPOINTS_METADATA;
      try {
        await d.undefine(flags);
      } catch (e) {
        // Drivers without NVRAM/checkpoint support (e.g. the test driver) reject the flags: retry plainly.
        if (
          e instanceof LibvirtError &&
          (e.code === VirErr.NO_SUPPORT || e.code === VirErr.INVALID_ARG || e.code === VirErr.OPERATION_UNSUPPORTED)
        ) {
          await lv(d.undefine(UndefineFlags.MANAGED_SAVE), `undefining domain '${name}'`).catch(async (e2: unknown) => {
            if (e2 instanceof TenksError && e2.code === 'UNSUPPORTED')
              await lv(d.undefine(0), `undefining domain '${name}'`);
            else throw e2;
          });
        } else if (isVirCode(e, VirErr.NO_DOMAIN)) {
          return;
        } else {
          throw fromLibvirt(e, `undefining domain '${name}'`);
        }
      }
    });
  }

  async power(name: string, op: DomainPowerOp, o?: CallOptions): Promise<void> {
    await this.run(o, async () => {
      const d = await lv(this.conn.domainByName(name), `looking up domain '${name}'`);
      const what = `${op} of domain '${name}'`;
      switch (op) {
        case 'start':
          return lv(d.create(), what);
        case 'destroy':
          return lv(d.destroy(), what);
        case 'shutdown':
          return lv(d.shutdown(), what);
        case 'reset':
          return lv(d.reset(), what);
        case 'nmi':
          return lv(d.injectNmi(), what);
      }
    });
  }

  async powerState(name: string, o?: CallOptions): Promise<PowerState> {
    return this.run(o, async () => {
      const d = await lv(this.conn.domainByName(name), `looking up domain '${name}'`);
      return powerStateOf((await lv(d.state(), `reading state of '${name}'`)).state);
    });
  }

  async changeLiveMedia(name: string, media: DiskSource | null, o?: CallOptions): Promise<boolean> {
    return this.run(o, async () => {
      const d = await lv(this.conn.domainByName(name), `looking up domain '${name}'`);
      if (!(await lv(d.isActive(), `reading domain '${name}'`))) return false;
      const bus = cdromBus(await lv(d.xml(), `reading domain '${name}'`));
      if (bus === null) {
        this.log.warn('node has no CD drive while running: new media shows at its next power-on', { node: name });
        return false;
      }
      // cdromXml picks the target from the architecture and machine type; the live drive's bus tells which.
      const [arch, machine] =
        bus === 'scsi' ? (['aarch64', 'virt'] as const) : (['x86_64', bus === 'sata' ? 'q35' : 'pc'] as const);
      await lv(d.updateDevice(cdromXml(media, machine, arch), ModifyFlags.LIVE), `changing the CD of '${name}'`);
      return true;
    });
  }

  async resetNvram(name: string, o?: CallOptions): Promise<void> {
    await this.run(o, async () => {
      const d = await lv(this.conn.domainByName(name), `looking up domain '${name}'`);
      if (await lv(d.isActive(), `reading domain '${name}'`))
        throw new TenksError('CONFLICT', `node '${name}' is running: its NVRAM is re-created at its next start`);
      const xml = await lv(d.xml(DomainXmlFlags.INACTIVE | DomainXmlFlags.SECURE), `reading domain '${name}'`);
      if (!domainFirmware(xml).selectsEfi) return;
      const fresh = withoutFirmwareSelection(xml);
      await lv(d.undefine(UndefineFlags.NVRAM), `removing the NVRAM of '${name}'`);
      try {
        await lv(this.conn.defineDomain(fresh), `redefining '${name}'`);
      } catch (e) {
        await this.conn.defineDomain(xml).catch(() => undefined);
        throw e;
      }
    });
  }

  async *events(signal: AbortSignal): AsyncIterable<DomainEvent> {
    for await (const e of this.conn.lifecycleEvents(signal)) {
      yield { type: EVENT_TYPE[e.event] ?? 'other', name: e.name, uuid: e.uuid, timeMs: Date.now() };
    }
  }

  /** The raw libvirt connection, for the storage adapter sharing it. */
  get connection(): Connection {
    return this.conn;
  }

  async close(): Promise<void> {
    await this.conn.close().catch((e: unknown) => {
      this.log.warn('closing libvirt connection failed', { error: String(e) });
    });
  }
}
