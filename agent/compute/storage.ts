import type { CallOptions, DiskSource } from './hypervisor.js';
import type { PoolInfo, VolumeFormat, VolumeInfo, VolumeSource } from './types.js';

/** A volume to create in the pool. */
export interface VolumeCreate {
  name: string;
  capacityBytes: number;
  format: VolumeFormat;
  /** `blank`, `image` (copy) or `backing` (copy-on-write); `existing` volumes are never created. */
  source: Exclude<VolumeSource, { kind: 'existing' }>;
}

/** What is known of an image file on the hypervisor. */
export interface ImageInfo {
  format: string;
  virtualBytes: number;
}

/** The storage side of a hypervisor host: one pool of node volumes. Dir and LVM pools implement it. */
export interface Storage {
  readonly poolName: string;
  readonly poolType: 'dir' | 'logical';
  /** Creates, builds, starts and autostarts the pool when missing; returns it. */
  ensurePool(o?: CallOptions): Promise<PoolInfo>;
  pool(o?: CallOptions): Promise<PoolInfo>;
  listVolumes(o?: CallOptions): Promise<VolumeInfo[]>;
  /** The volume, or null. */
  getVolume(name: string, o?: CallOptions): Promise<VolumeInfo | null>;
  createVolume(v: VolumeCreate, o?: CallOptions): Promise<VolumeInfo>;
  /** Grows a volume to `capacityBytes` (never shrinks). */
  resizeVolume(name: string, capacityBytes: number, o?: CallOptions): Promise<VolumeInfo>;
  /** Deletes a volume; false when it did not exist. */
  deleteVolume(name: string, o?: CallOptions): Promise<boolean>;
  /** Format and virtual size of an image file, or null when there is no such file. */
  inspectImage(path: string, o?: CallOptions): Promise<ImageInfo | null>;
  /** How a domain disk refers to a pool volume. */
  diskSource(volumeName: string): DiskSource;
  /** The format domain disks must declare for this pool's volumes of `format`. */
  diskFormat(format: VolumeFormat): string;
}
