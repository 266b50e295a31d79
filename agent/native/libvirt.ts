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

/** A libvirt domain. */
export class Domain {
  constructor(
    private readonly native: Native,
    readonly handle: NativeDomain,
  ) {}

  get name(): string {
    return this.native.domainGetName(this.handle);
  }
  get uuid(): string {
    return this.native.domainGetUuid(this.handle);
  }
  undefine(flags = 0): Promise<void> {
    return call(this.native.domainUndefine(this.handle, flags));
  }
  create(): Promise<void> {
    return call(this.native.domainCreate(this.handle));
  }
  destroy(flags = 0): Promise<void> {
    return call(this.native.domainDestroy(this.handle, flags));
  }
  shutdown(flags = 0): Promise<void> {
    return call(this.native.domainShutdown(this.handle, flags));
  }
  reset(): Promise<void> {
    return call(this.native.domainReset(this.handle));
  }
  injectNmi(): Promise<void> {
    return call(this.native.domainInjectNmi(this.handle));
  }
  state(): Promise<{ state: number; reason: number }> {
    return call(this.native.domainGetState(this.handle));
  }
  isActive(): Promise<boolean> {
    return call(this.native.domainIsActive(this.handle));
  }
  xml(flags = 0): Promise<string> {
    return call(this.native.domainGetXmlDesc(this.handle, flags));
  }
  /** Our metadata element in namespace `uri`, or null. */
  getMetadata(uri: string, flags = 0): Promise<string | null> {
    return call(this.native.domainGetMetadata(this.handle, METADATA_ELEMENT, uri, flags));
  }
  /** Sets (or with `xml` null removes) our metadata element under prefix `key` in namespace `uri`. */
  setMetadata(xml: string | null, key: string, uri: string, flags = 0): Promise<void> {
    return call(this.native.domainSetMetadata(this.handle, METADATA_ELEMENT, xml, key, uri, flags));
  }
  updateDevice(xml: string, flags = 0): Promise<void> {
    return call(this.native.domainUpdateDevice(this.handle, xml, flags));
  }
}

/** A storage volume. */
export class Volume {
  constructor(
    private readonly native: Native,
    readonly handle: NativeVolume,
  ) {}
  get name(): string {
    return this.native.storageVolGetName(this.handle);
  }
  info(): Promise<NativeVolumeInfo> {
    return call(this.native.storageVolGetInfo(this.handle));
  }
  path(): Promise<string> {
    return call(this.native.storageVolGetPath(this.handle));
  }
  xml(): Promise<string> {
    return call(this.native.storageVolGetXmlDesc(this.handle, 0));
  }
  upload(path: string): Promise<number> {
    return call(this.native.storageVolUpload(this.handle, path, 0));
  }
  delete(): Promise<void> {
    return call(this.native.storageVolDelete(this.handle, 0));
  }
  resize(capacityBytes: number, flags = 0): Promise<void> {
    return call(this.native.storageVolResize(this.handle, capacityBytes, flags));
  }
}

/** A storage pool. */
export class StoragePool {
  constructor(
    private readonly native: Native,
    readonly handle: NativePool,
  ) {}
  get name(): string {
    return this.native.storagePoolGetName(this.handle);
  }
  build(flags = 0): Promise<void> {
    return call(this.native.storagePoolBuild(this.handle, flags));
  }
  create(flags = 0): Promise<void> {
    return call(this.native.storagePoolCreate(this.handle, flags));
  }
  destroy(): Promise<void> {
    return call(this.native.storagePoolDestroy(this.handle));
  }
  undefine(): Promise<void> {
    return call(this.native.storagePoolUndefine(this.handle));
  }
  delete(flags = 0): Promise<void> {
    return call(this.native.storagePoolDelete(this.handle, flags));
  }
  setAutostart(on: boolean): Promise<void> {
    return call(this.native.storagePoolSetAutostart(this.handle, on));
  }
  isActive(): Promise<boolean> {
    return call(this.native.storagePoolIsActive(this.handle));
  }
  refresh(): Promise<void> {
    return call(this.native.storagePoolRefresh(this.handle, 0));
  }
  info(): Promise<NativePoolInfo> {
    return call(this.native.storagePoolGetInfo(this.handle));
  }
  xml(): Promise<string> {
    return call(this.native.storagePoolGetXmlDesc(this.handle, 0));
  }
  async volumes(): Promise<Volume[]> {
    const list = await call(this.native.storagePoolListAllVolumes(this.handle, 0));
    return list.map((v) => new Volume(this.native, v));
  }
  async volume(name: string): Promise<Volume> {
    return new Volume(this.native, await call(this.native.storageVolLookupByName(this.handle, name)));
  }
  async createVolume(xml: string): Promise<Volume> {
    return new Volume(this.native, await call(this.native.storageVolCreateXml(this.handle, xml, 0)));
  }
  async cloneVolume(xml: string, source: Volume): Promise<Volume> {
    return new Volume(this.native, await call(this.native.storageVolCreateXmlFrom(this.handle, xml, source.handle, 0)));
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

/** An open libvirt connection. */
export class Connection {
  private closed = false;
  private constructor(
    private readonly native: Native,
    readonly handle: NativeConnection,
    readonly uri: string,
  ) {}

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
    await call(this.native.connectClose(this.handle));
  }
  setKeepAlive(intervalS: number, count: number): Promise<void> {
    return call(this.native.connectSetKeepAlive(this.handle, intervalS, count));
  }
  isAlive(): Promise<boolean> {
    return call(this.native.connectIsAlive(this.handle));
  }
  hostname(): Promise<string> {
    return call(this.native.connectGetHostname(this.handle));
  }
  hypervisorVersion(): Promise<number> {
    return call(this.native.connectGetVersion(this.handle));
  }
  libVersion(): Promise<number> {
    return call(this.native.connectGetLibVersion(this.handle));
  }
  capabilities(): Promise<string> {
    return call(this.native.connectGetCapabilities(this.handle));
  }
  domainCapabilities(o: { emulatorBin?: string; arch?: string; machine?: string; virtType?: string }): Promise<string> {
    return call(
      this.native.connectGetDomainCapabilities(
        this.handle,
        o.emulatorBin ?? null,
        o.arch ?? null,
        o.machine ?? null,
        o.virtType ?? null,
      ),
    );
  }
  nodeInfo(): Promise<NativeNodeInfo> {
    return call(this.native.nodeGetInfo(this.handle));
  }
  freeMemoryBytes(): Promise<number> {
    return call(this.native.nodeGetFreeMemory(this.handle));
  }

  async listDomains(flags = 0): Promise<Domain[]> {
    const list = await call(this.native.connectListAllDomains(this.handle, flags));
    return list.map((d) => new Domain(this.native, d));
  }
  async domainByName(name: string): Promise<Domain> {
    return new Domain(this.native, await call(this.native.domainLookupByName(this.handle, name)));
  }
  async domainByUuid(uuid: string): Promise<Domain> {
    return new Domain(this.native, await call(this.native.domainLookupByUuid(this.handle, uuid)));
  }
  /** The domain, or null when libvirt has none of that name. */
  async findDomain(name: string): Promise<Domain | null> {
    try {
      return await this.domainByName(name);
    } catch (e) {
      if (e instanceof LibvirtError && e.code === VirErr.NO_DOMAIN) return null;
      throw e;
    }
  }
  async findDomainByUuid(uuid: string): Promise<Domain | null> {
    try {
      return await this.domainByUuid(uuid);
    } catch (e) {
      if (e instanceof LibvirtError && e.code === VirErr.NO_DOMAIN) return null;
      throw e;
    }
  }
  async defineDomain(xml: string, flags = 0): Promise<Domain> {
    return new Domain(this.native, await call(this.native.domainDefineXml(this.handle, xml, flags)));
  }

  async listPools(flags = 0): Promise<StoragePool[]> {
    const list = await call(this.native.connectListAllStoragePools(this.handle, flags));
    return list.map((p) => new StoragePool(this.native, p));
  }
  async poolByName(name: string): Promise<StoragePool> {
    return new StoragePool(this.native, await call(this.native.storagePoolLookupByName(this.handle, name)));
  }
  async findPool(name: string): Promise<StoragePool | null> {
    try {
      return await this.poolByName(name);
    } catch (e) {
      if (e instanceof LibvirtError && e.code === VirErr.NO_STORAGE_POOL) return null;
      throw e;
    }
  }
  async definePool(xml: string): Promise<StoragePool> {
    return new StoragePool(this.native, await call(this.native.storagePoolDefineXml(this.handle, xml, 0)));
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
