/**
 * The whole surface of the tenks libvirt addon (`agent/native/src/*.cc`), declared in one place.
 *
 * Handles are opaque: JS never looks inside them, it only passes them back. Every call that can
 * block on libvirt (an RPC to libvirtd, disk I/O, QEMU) runs on the libuv thread pool and returns a
 * Promise; the few synchronous calls only read data libvirt keeps in the handle.
 *
 * Rejections are `Error`s that carry libvirt's error as {@link NativeLibvirtErrorFields}.
 * Nullable values are explicit `null`, never `undefined`; no field is optional.
 */
import { createRequire } from 'node:module';

declare const connectionBrand: unique symbol;
declare const domainBrand: unique symbol;
declare const poolBrand: unique symbol;
declare const volumeBrand: unique symbol;

/** An open `virConnectPtr`. Closed by {@link Native.connectClose}; freed when garbage-collected. */
export interface NativeConnection {
  readonly [connectionBrand]: true;
}
/** A `virDomainPtr`; freed when garbage-collected. */
export interface NativeDomain {
  readonly [domainBrand]: true;
}
/** A `virStoragePoolPtr`; freed when garbage-collected. */
export interface NativePool {
  readonly [poolBrand]: true;
}
/** A `virStorageVolPtr`; freed when garbage-collected. */
export interface NativeVolume {
  readonly [volumeBrand]: true;
}

/** Fields on every Error the addon rejects with (from `virGetLastError()` on the failing thread). */
export interface NativeLibvirtErrorFields {
  /** `virErrorNumber`, e.g. 42 = VIR_ERR_NO_DOMAIN; -1 when the addon itself failed before libvirt. */
  readonly code: number;
  /** `virErrorDomain`, e.g. 10 = VIR_FROM_QEMU; -1 when not from libvirt. */
  readonly domain: number;
  /** libvirt's message, without prefix. */
  readonly message: string;
  /** `virErrorLevel`: 1 warning, 2 error. */
  readonly level: number;
  /** The addon function that failed, e.g. `domainDefineXml`. */
  readonly op: string;
}

/** `virNodeInfo`. */
export interface NativeNodeInfo {
  readonly model: string;
  /** KiB. */
  readonly memoryKiB: number;
  readonly cpus: number;
  /** MHz. */
  readonly mhz: number;
  readonly nodes: number;
  readonly sockets: number;
  readonly cores: number;
  readonly threads: number;
}

/** `virDomainGetState`. */
export interface NativeDomainState {
  /** `virDomainState`: 0 nostate, 1 running, 2 blocked, 3 paused, 4 shutdown, 5 shutoff, 6 crashed, 7 pmsuspended. */
  readonly state: number;
  /** The reason enum matching `state` (e.g. `virDomainShutoffReason`). */
  readonly reason: number;
}

/** `virStoragePoolInfo`. */
export interface NativePoolInfo {
  /** `virStoragePoolState`: 0 inactive, 1 building, 2 running, 3 degraded, 4 inaccessible. */
  readonly state: number;
  readonly capacityBytes: number;
  readonly allocationBytes: number;
  readonly availableBytes: number;
}

/** `virStorageVolInfo`. */
export interface NativeVolumeInfo {
  /** `virStorageVolType`: 0 file, 1 block, 2 dir, 3 network, 4 netdir, 5 ploop. */
  readonly type: number;
  readonly capacityBytes: number;
  readonly allocationBytes: number;
}

/** A domain lifecycle event (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`), as delivered to JS. */
export interface NativeLifecycleEvent {
  readonly name: string;
  /** Lower-case canonical UUID string. */
  readonly uuid: string;
  /** `virDomainEventType`: 0 defined, 1 undefined, 2 started, 3 suspended, 4 resumed, 5 stopped, 6 shutdown, 7 pmsuspended, 8 crashed. */
  readonly event: number;
  /** The detail enum matching `event`. */
  readonly detail: number;
}

/** The addon's exports. */
export interface Native {
  /** libvirt's library version as major*1e6 + minor*1e3 + release. Synchronous. */
  getVersion(): number;
  /**
   * Registers libvirt's default event loop implementation and starts one native thread running it.
   * Idempotent. Must be called before the first {@link connectOpen}; {@link connectOpen} calls it.
   */
  eventLoopStart(): void;

  connectOpen(uri: string): Promise<NativeConnection>;
  connectClose(conn: NativeConnection): Promise<void>;
  /** `virConnectSetKeepAlive`. */
  connectSetKeepAlive(conn: NativeConnection, intervalS: number, count: number): Promise<void>;
  connectIsAlive(conn: NativeConnection): Promise<boolean>;
  connectGetUri(conn: NativeConnection): Promise<string>;
  connectGetHostname(conn: NativeConnection): Promise<string>;
  /** Hypervisor version, encoded as in {@link getVersion}. */
  connectGetVersion(conn: NativeConnection): Promise<number>;
  connectGetLibVersion(conn: NativeConnection): Promise<number>;
  connectGetCapabilities(conn: NativeConnection): Promise<string>;
  /** `virConnectGetDomainCapabilities`; `null` arguments let libvirt choose. */
  connectGetDomainCapabilities(
    conn: NativeConnection,
    emulatorBin: string | null,
    arch: string | null,
    machine: string | null,
    virtType: string | null,
  ): Promise<string>;
  nodeGetInfo(conn: NativeConnection): Promise<NativeNodeInfo>;
  /** Bytes. */
  nodeGetFreeMemory(conn: NativeConnection): Promise<number>;

  /** `virConnectListAllDomains(conn, &list, flags)`. */
  connectListAllDomains(conn: NativeConnection, flags: number): Promise<NativeDomain[]>;
  domainLookupByName(conn: NativeConnection, name: string): Promise<NativeDomain>;
  domainLookupByUuid(conn: NativeConnection, uuid: string): Promise<NativeDomain>;
  /** `virDomainDefineXMLFlags`. */
  domainDefineXml(conn: NativeConnection, xml: string, flags: number): Promise<NativeDomain>;
  /** `virDomainUndefineFlags` (VIR_DOMAIN_UNDEFINE_NVRAM = 4, _MANAGED_SAVE = 1, ...). */
  domainUndefine(dom: NativeDomain, flags: number): Promise<void>;
  /** `virDomainCreate` (start a defined domain). */
  domainCreate(dom: NativeDomain): Promise<void>;
  /** `virDomainDestroyFlags`. */
  domainDestroy(dom: NativeDomain, flags: number): Promise<void>;
  /** `virDomainShutdownFlags`. */
  domainShutdown(dom: NativeDomain, flags: number): Promise<void>;
  /** `virDomainReset`. */
  domainReset(dom: NativeDomain): Promise<void>;
  /** `virDomainInjectNMI`. */
  domainInjectNmi(dom: NativeDomain): Promise<void>;
  domainGetState(dom: NativeDomain): Promise<NativeDomainState>;
  domainIsActive(dom: NativeDomain): Promise<boolean>;
  /** `virDomainGetXMLDesc`. */
  domainGetXmlDesc(dom: NativeDomain, flags: number): Promise<string>;
  /**
   * `virDomainGetMetadata(dom, type, uri, flags)`; type 2 = VIR_DOMAIN_METADATA_ELEMENT.
   * Resolves `null` when there is no such metadata (VIR_ERR_NO_DOMAIN_METADATA).
   */
  domainGetMetadata(dom: NativeDomain, type: number, uri: string | null, flags: number): Promise<string | null>;
  /** `virDomainSetMetadata(dom, type, metadata, key, uri, flags)`; `metadata` null removes it. */
  domainSetMetadata(
    dom: NativeDomain,
    type: number,
    metadata: string | null,
    key: string | null,
    uri: string | null,
    flags: number,
  ): Promise<void>;
  /** `virDomainUpdateDeviceFlags` (e.g. change a CD-ROM's media). */
  domainUpdateDevice(dom: NativeDomain, xml: string, flags: number): Promise<void>;
  /** Synchronous: the name stored in the handle. */
  domainGetName(dom: NativeDomain): string;
  /** Synchronous: the UUID stored in the handle, lower-case canonical form. */
  domainGetUuid(dom: NativeDomain): string;

  /**
   * Registers a lifecycle event callback on `conn` for all domains (`virConnectDomainEventRegisterAny`).
   * `onEvent` runs on the JS thread (thread-safe function); it does not keep the process alive.
   * Resolves the callback id.
   */
  domainEventRegisterLifecycle(conn: NativeConnection, onEvent: (event: NativeLifecycleEvent) => void): Promise<number>;
  domainEventDeregister(conn: NativeConnection, callbackId: number): Promise<void>;

  connectListAllStoragePools(conn: NativeConnection, flags: number): Promise<NativePool[]>;
  storagePoolLookupByName(conn: NativeConnection, name: string): Promise<NativePool>;
  storagePoolDefineXml(conn: NativeConnection, xml: string, flags: number): Promise<NativePool>;
  storagePoolBuild(pool: NativePool, flags: number): Promise<void>;
  storagePoolCreate(pool: NativePool, flags: number): Promise<void>;
  storagePoolDestroy(pool: NativePool): Promise<void>;
  storagePoolUndefine(pool: NativePool): Promise<void>;
  storagePoolDelete(pool: NativePool, flags: number): Promise<void>;
  storagePoolSetAutostart(pool: NativePool, autostart: boolean): Promise<void>;
  storagePoolIsActive(pool: NativePool): Promise<boolean>;
  storagePoolRefresh(pool: NativePool, flags: number): Promise<void>;
  storagePoolGetInfo(pool: NativePool): Promise<NativePoolInfo>;
  storagePoolGetXmlDesc(pool: NativePool, flags: number): Promise<string>;
  storagePoolListAllVolumes(pool: NativePool, flags: number): Promise<NativeVolume[]>;
  storagePoolGetName(pool: NativePool): string;

  storageVolLookupByName(pool: NativePool, name: string): Promise<NativeVolume>;
  /** `virStorageVolCreateXML`. */
  storageVolCreateXml(pool: NativePool, xml: string, flags: number): Promise<NativeVolume>;
  /** `virStorageVolCreateXMLFrom`: a new volume whose content is cloned from `source`. */
  storageVolCreateXmlFrom(pool: NativePool, xml: string, source: NativeVolume, flags: number): Promise<NativeVolume>;
  /**
   * Uploads the whole local file at `path` into the volume (`virStorageVolUpload` + a stream fed
   * from the file on the worker thread). Resolves the number of bytes sent.
   */
  storageVolUpload(vol: NativeVolume, path: string, flags: number): Promise<number>;
  storageVolDelete(vol: NativeVolume, flags: number): Promise<void>;
  /** `virStorageVolResize(vol, capacityBytes, flags)`. */
  storageVolResize(vol: NativeVolume, capacityBytes: number, flags: number): Promise<void>;
  storageVolGetInfo(vol: NativeVolume): Promise<NativeVolumeInfo>;
  storageVolGetPath(vol: NativeVolume): Promise<string>;
  storageVolGetXmlDesc(vol: NativeVolume, flags: number): Promise<string>;
  /** Synchronous: the name stored in the handle. */
  storageVolGetName(vol: NativeVolume): string;
}

/** Loads the compiled addon (built by `npm ci` through node-gyp). */
export function loadNative(): Native {
  const require = createRequire(import.meta.url);
  return require('./build/Release/tenks_libvirt.node') as Native;
}
