/**
 * Typed, idiomatic wrapper over the native addon: classes instead of handles, named flags, libvirt
 * errors as {@link LibvirtError}, lifecycle events as an async iterator.
 */
import {
  loadNative,
  type Native,
  type NativeConnection,
  type NativeDomain,
  type NativeLifecycleEvent,
  type NativeNodeInfo,
  type NativePool,
  type NativePoolInfo,
  type NativeVolume,
  type NativeVolumeInfo,
} from './native.js';

/** libvirt error numbers we react to (virErrorNumber). */
export const VirErr = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  OPERATION_INVALID: 55,
  SYSTEM_ERROR: 38,
  NO_CONNECT: 5,
  NO_DOMAIN: 42,
  NO_STORAGE_POOL: 49,
  NO_STORAGE_VOL: 50,
  XML_ERROR: 27,
  CONFIG_UNSUPPORTED: 67,
  OPERATION_TIMEOUT: 68,
  AUTH_FAILED: 45,
  OPERATION_DENIED: 29,
  RPC: 39,
  NO_NAME: 21,
  XML_DETAIL: 35,
  STORAGE_PROBE_FAILED: 75,
  NO_DOMAIN_METADATA: 80,
  STORAGE_VOL_EXIST: 90,
  STORAGE_POOL_BUILT: 76,
  OPERATION_UNSUPPORTED: 84,
  AUTH_UNAVAILABLE: 94,
  AGENT_UNRESPONSIVE: 86,
  DOM_EXIST: 28,
  ACCESS_DENIED: 88,
} as const;

/** A failed libvirt call. `code` is libvirt's virErrorNumber. */
export class LibvirtError extends Error {
  override readonly name = 'LibvirtError';
  constructor(
    message: string,
    readonly code: number,
    readonly domain: number,
    readonly op: string,
  ) {
    super(message);
  }
}

function isNativeError(e: unknown): e is Error & { code: number; domain: number; op: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'number';
}

async function call<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isNativeError(e)) throw new LibvirtError(e.message, e.code, e.domain, e.op);
    throw e;
  }
}

/** `virDomainState`. */
export const DomainStateCode = {
  NOSTATE: 0,
  RUNNING: 1,
  BLOCKED: 2,
  PAUSED: 3,
  SHUTDOWN: 4,
  SHUTOFF: 5,
  CRASHED: 6,
  PMSUSPENDED: 7,
} as const;

/** `virDomainEventType`. */
export const DomainEventCode = {
  DEFINED: 0,
  UNDEFINED: 1,
  STARTED: 2,
  SUSPENDED: 3,
  RESUMED: 4,
  STOPPED: 5,
  SHUTDOWN: 6,
  PMSUSPENDED: 7,
  CRASHED: 8,
} as const;

/** Flags of `virDomainUndefineFlags`. */
export const UndefineFlags = {
  MANAGED_SAVE: 1,
  SNAPSHOTS_METADATA: 2,
  NVRAM: 4,
  KEEP_NVRAM: 8,
  CHECKPOINTS_METADATA: 16,
} as const;

/** Flags of `virConnectListAllDomains`. */
export const ListDomainsFlags = {
  ACTIVE: 1,
  INACTIVE: 2,
  PERSISTENT: 4,
  TRANSIENT: 8,
} as const;

/** `virDomainModificationImpact` / device-modify flags. */
export const ModifyFlags = {
  CURRENT: 0,
  LIVE: 1,
  CONFIG: 2,
  FORCE: 4,
} as const;

/** `virDomainXMLFlags`. */
export const DomainXmlFlags = {
  SECURE: 1,
  INACTIVE: 2,
  UPDATE_CPU: 4,
  MIGRATABLE: 8,
} as const;

/** `VIR_DOMAIN_METADATA_ELEMENT`. */
const METADATA_ELEMENT = 2;

/** `VIR_DOMAIN_DEFINE_VALIDATE`: validate the XML against the schema. */
export const DEFINE_VALIDATE = 1;

/** A lifecycle event with its libvirt codes. */
export type LifecycleEvent = NativeLifecycleEvent;

/** A libvirt object the addon hands out: its calls pass its handle and map libvirt errors. */
abstract class LibvirtObject<H> {
  constructor(
    protected readonly native: Native,
    readonly handle: H,
  ) {}

  /** Runs the addon call `op` on this object's handle. */
  protected run<T>(op: (native: Native, handle: H) => Promise<T>): Promise<T> {
    return call(op(this.native, this.handle));
  }
}

/** A libvirt domain. */
export class Domain extends LibvirtObject<NativeDomain> {
  get name(): string {
    return this.native.domainGetName(this.handle);
  }
  get uuid(): string {
    return this.native.domainGetUuid(this.handle);
  }
  state(): Promise<{ state: number; reason: number }> {
    return this.run((n, d) => n.domainGetState(d));
  }
  isActive(): Promise<boolean> {
    return this.run((n, d) => n.domainIsActive(d));
  }
  xml(flags = 0): Promise<string> {
    return this.run((n, d) => n.domainGetXmlDesc(d, flags));
  }
  /** Our metadata element in namespace `uri`, or null. */
  getMetadata(uri: string, flags = 0): Promise<string | null> {
    return this.run((n, d) => n.domainGetMetadata(d, METADATA_ELEMENT, uri, flags));
  }
  /** Sets (or with `xml` null removes) our metadata element under prefix `key` in namespace `uri`. */
  setMetadata(xml: string | null, key: string, uri: string, flags = 0): Promise<void> {
    return this.run((n, d) => n.domainSetMetadata(d, METADATA_ELEMENT, xml, key, uri, flags));
  }
  updateDevice(xml: string, flags = 0): Promise<void> {
    return this.run((n, d) => n.domainUpdateDevice(d, xml, flags));
  }
  create(): Promise<void> {
    return this.run((n, d) => n.domainCreate(d));
  }
  shutdown(flags = 0): Promise<void> {
    return this.run((n, d) => n.domainShutdown(d, flags));
  }
  destroy(flags = 0): Promise<void> {
    return this.run((n, d) => n.domainDestroy(d, flags));
  }
  reset(): Promise<void> {
    return this.run((n, d) => n.domainReset(d));
  }
  injectNmi(): Promise<void> {
    return this.run((n, d) => n.domainInjectNmi(d));
  }
  undefine(flags = 0): Promise<void> {
    return this.run((n, d) => n.domainUndefine(d, flags));
  }
}

/** A storage volume. */
export class Volume extends LibvirtObject<NativeVolume> {
  get name(): string {
    return this.native.storageVolGetName(this.handle);
  }
  /** Where the volume's data is on the host (a file, or a block device in an LVM pool). */
  path(): Promise<string> {
    return this.run((n, v) => n.storageVolGetPath(v));
  }
  /** Replaces the volume's content with the file at `path` (which libvirt reads itself). */
  upload(path: string): Promise<number> {
    return this.run((n, v) => n.storageVolUpload(v, path, 0));
  }
  resize(capacityBytes: number, flags = 0): Promise<void> {
    return this.run((n, v) => n.storageVolResize(v, capacityBytes, flags));
  }
  info(): Promise<NativeVolumeInfo> {
    return this.run((n, v) => n.storageVolGetInfo(v));
  }
  xml(): Promise<string> {
    return this.run((n, v) => n.storageVolGetXmlDesc(v, 0));
  }
  delete(): Promise<void> {
    return this.run((n, v) => n.storageVolDelete(v, 0));
  }
}

/** A storage pool. */
export class StoragePool extends LibvirtObject<NativePool> {
  get name(): string {
    return this.native.storagePoolGetName(this.handle);
  }
  info(): Promise<NativePoolInfo> {
    return this.run((n, p) => n.storagePoolGetInfo(p));
  }
  xml(): Promise<string> {
    return this.run((n, p) => n.storagePoolGetXmlDesc(p, 0));
  }
  isActive(): Promise<boolean> {
    return this.run((n, p) => n.storagePoolIsActive(p));
  }
  async volumes(): Promise<Volume[]> {
    const list = await this.run((n, p) => n.storagePoolListAllVolumes(p, 0));
    return list.map((v) => new Volume(this.native, v));
  }
  async volume(name: string): Promise<Volume> {
    return new Volume(this.native, await this.run((n, p) => n.storageVolLookupByName(p, name)));
  }
  async createVolume(xml: string): Promise<Volume> {
    return new Volume(this.native, await this.run((n, p) => n.storageVolCreateXml(p, xml, 0)));
  }
  async cloneVolume(xml: string, source: Volume): Promise<Volume> {
    return new Volume(this.native, await this.run((n, p) => n.storageVolCreateXmlFrom(p, xml, source.handle, 0)));
  }
  refresh(): Promise<void> {
    return this.run((n, p) => n.storagePoolRefresh(p, 0));
  }
  build(flags = 0): Promise<void> {
    return this.run((n, p) => n.storagePoolBuild(p, flags));
  }
  create(flags = 0): Promise<void> {
    return this.run((n, p) => n.storagePoolCreate(p, flags));
  }
  setAutostart(on: boolean): Promise<void> {
    return this.run((n, p) => n.storagePoolSetAutostart(p, on));
  }
  destroy(): Promise<void> {
    return this.run((n, p) => n.storagePoolDestroy(p));
  }
  delete(flags = 0): Promise<void> {
    return this.run((n, p) => n.storagePoolDelete(p, flags));
  }
  undefine(): Promise<void> {
    return this.run((n, p) => n.storagePoolUndefine(p));
  }
}

/**
 * Queue behind the lifecycle-event async iterator. Events are pushed from the native callback (on
 * the JS thread) and pulled by `for await`; a bounded buffer drops the oldest when nobody reads.
 */
class EventQueue {
  private readonly buffer: LifecycleEvent[] = [];
  private waiter: ((r: IteratorResult<LifecycleEvent>) => void) | null = null;
  private closed = false;
  constructor(private readonly max: number) {}
  push(e: LifecycleEvent): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: e, done: false });
      return;
    }
    if (this.buffer.length >= this.max) this.buffer.shift();
    this.buffer.push(e);
  }
  close(): void {
    this.closed = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: undefined, done: true });
    }
  }
  next(): Promise<IteratorResult<LifecycleEvent>> {
    const e = this.buffer.shift();
    if (e) return Promise.resolve({ value: e, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

/** `p`'s value, or null when it fails with libvirt error `code` (there is no such object). */
async function orNull<T>(p: Promise<T>, code: number): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof LibvirtError && e.code === code) return null;
    throw e;
  }
}

/** An open libvirt connection. */
export class Connection extends LibvirtObject<NativeConnection> {
  private closed = false;
  private constructor(
    native: Native,
    handle: NativeConnection,
    readonly uri: string,
  ) {
    super(native, handle);
  }

  /** Opens `uri` (`qemu:///system`, `test:///default`, `qemu:///embed?root=DIR`, remote URIs). */
  static async open(uri: string, native: Native = loadNative()): Promise<Connection> {
    const handle = await call(native.connectOpen(uri));
    return new Connection(native, handle, uri);
  }

  /** libvirt library version (major*1e6 + minor*1e3 + release). */
  libraryVersion(): number {
    return this.native.getVersion();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.run((n, c) => n.connectClose(c));
  }
  setKeepAlive(intervalS: number, count: number): Promise<void> {
    return this.run((n, c) => n.connectSetKeepAlive(c, intervalS, count));
  }
  isAlive(): Promise<boolean> {
    return this.run((n, c) => n.connectIsAlive(c));
  }
  hostname(): Promise<string> {
    return this.run((n, c) => n.connectGetHostname(c));
  }
  hypervisorVersion(): Promise<number> {
    return this.run((n, c) => n.connectGetVersion(c));
  }
  libVersion(): Promise<number> {
    return this.run((n, c) => n.connectGetLibVersion(c));
  }
  capabilities(): Promise<string> {
    return this.run((n, c) => n.connectGetCapabilities(c));
  }
  domainCapabilities(o: { emulatorBin?: string; arch?: string; machine?: string; virtType?: string }): Promise<string> {
    return this.run((n, c) =>
      n.connectGetDomainCapabilities(c, o.emulatorBin ?? null, o.arch ?? null, o.machine ?? null, o.virtType ?? null),
    );
  }
  nodeInfo(): Promise<NativeNodeInfo> {
    return this.run((n, c) => n.nodeGetInfo(c));
  }
  freeMemoryBytes(): Promise<number> {
    return this.run((n, c) => n.nodeGetFreeMemory(c));
  }

  async listDomains(flags = 0): Promise<Domain[]> {
    const list = await this.run((n, c) => n.connectListAllDomains(c, flags));
    return list.map((d) => new Domain(this.native, d));
  }
  async domainByName(name: string): Promise<Domain> {
    return new Domain(this.native, await this.run((n, c) => n.domainLookupByName(c, name)));
  }
  async domainByUuid(uuid: string): Promise<Domain> {
    return new Domain(this.native, await this.run((n, c) => n.domainLookupByUuid(c, uuid)));
  }
  /** The domain, or null when libvirt has none of that name. */
  findDomain(name: string): Promise<Domain | null> {
    return orNull(this.domainByName(name), VirErr.NO_DOMAIN);
  }
  /** The domain, or null when libvirt has none of that UUID. */
  findDomainByUuid(uuid: string): Promise<Domain | null> {
    return orNull(this.domainByUuid(uuid), VirErr.NO_DOMAIN);
  }
  async defineDomain(xml: string, flags = 0): Promise<Domain> {
    return new Domain(this.native, await this.run((n, c) => n.domainDefineXml(c, xml, flags)));
  }

  async listPools(flags = 0): Promise<StoragePool[]> {
    const list = await this.run((n, c) => n.connectListAllStoragePools(c, flags));
    return list.map((p) => new StoragePool(this.native, p));
  }
  async poolByName(name: string): Promise<StoragePool> {
    return new StoragePool(this.native, await this.run((n, c) => n.storagePoolLookupByName(c, name)));
  }
  /** The pool, or null when libvirt has none of that name. */
  findPool(name: string): Promise<StoragePool | null> {
    return orNull(this.poolByName(name), VirErr.NO_STORAGE_POOL);
  }
  async definePool(xml: string): Promise<StoragePool> {
    return new StoragePool(this.native, await this.run((n, c) => n.storagePoolDefineXml(c, xml, 0)));
  }

  /**
   * Lifecycle events of every domain on this connection, until `signal` aborts or the iterator is
   * returned. libvirt accepts one registration of a callback per connection and event, so every
   * subscriber shares one native registration: the first subscriber makes it, the last undoes it.
   */
  async *lifecycleEvents(signal?: AbortSignal, bufferSize = 10_000): AsyncGenerator<LifecycleEvent> {
    const queue = new EventQueue(bufferSize);
    this.subscribers.add(queue);
    const onAbort = (): void => {
      queue.close();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.registerLifecycle();
      if (signal?.aborted) return;
      for (;;) {
        const r = await queue.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      queue.close();
      this.subscribers.delete(queue);
      await this.deregisterLifecycle();
    }
  }

  /** Every subscriber's queue. */
  private readonly subscribers = new Set<EventQueue>();
  /** The native registration (its id once made), shared by all subscribers. */
  private registration: Promise<number> | null = null;

  /** A deregistration in flight: a new registration waits for it (libvirt would refuse a duplicate). */
  private unregistering: Promise<void> = Promise.resolve();

  private registerLifecycle(): Promise<number> {
    this.registration ??= this.unregistering
      .then(() =>
        call(
          this.native.domainEventRegisterLifecycle(this.handle, (e) => {
            for (const q of this.subscribers) q.push(e);
          }),
        ),
      )
      .catch((e: unknown) => {
        this.registration = null;
        throw e;
      });
    return this.registration;
  }

  private async deregisterLifecycle(): Promise<void> {
    const reg = this.registration;
    if (this.subscribers.size > 0 || reg === null) return;
    this.registration = null;
    const done = reg
      .catch(() => null)
      .then(async (id) => {
        if (id !== null && !this.closed)
          await call(this.native.domainEventDeregister(this.handle, id)).catch(() => undefined);
      });
    this.unregistering = done;
    await done;
  }
}
