import { TenksError } from '../../common/errors.js';
import type { DiskSource } from './hypervisor.js';
import type { ImageInfo, Storage, VolumeCreate } from './storage.js';
import type { PoolInfo, VolumeFormat, VolumeInfo } from './types.js';

/**
 * An in-memory dir pool for unit tests. test/integration/storage-contract.test.ts holds it to the
 * libvirt adapter.
 */
export class FakeStorage implements Storage {
  readonly poolName = 'tenks';
  readonly poolType = 'dir' as const;
  readonly volumes = new Map<string, VolumeInfo>();
  /** Image files that "exist" on the fake host. */
  readonly images = new Map<string, ImageInfo>();
  /** Volume names whose creation fails. */
  readonly failCreate = new Set<string>();
  capacityBytes = 1024 ** 4;

  ensurePool(): Promise<PoolInfo> {
    return this.pool();
  }

  pool(): Promise<PoolInfo> {
    // As a dir pool: volumes are sparse, so only what is written (allocated) is used.
    let used = 0;
    for (const v of this.volumes.values()) used += v.allocationBytes;
    return Promise.resolve({
      name: this.poolName,
      type: 'dir',
      path: '/fake/pool',
      capacityBytes: this.capacityBytes,
      availableBytes: this.capacityBytes - used,
    });
  }

  listVolumes(): Promise<VolumeInfo[]> {
    return Promise.resolve([...this.volumes.values()].map((v) => ({ ...v })));
  }

  getVolume(name: string): Promise<VolumeInfo | null> {
    const v = this.volumes.get(name);
    return Promise.resolve(v ? { ...v } : null);
  }

  createVolume(v: VolumeCreate): Promise<VolumeInfo> {
    if (this.volumes.has(v.name)) return Promise.reject(new TenksError('ALREADY_EXISTS', `volume '${v.name}' exists`));
    if (this.failCreate.has(v.name))
      return Promise.reject(new TenksError('INTERNAL', `injected failure creating '${v.name}'`));
    if (v.source.kind !== 'blank' && !this.images.has(v.source.path))
      return Promise.reject(new TenksError('NOT_FOUND', `image '${v.source.path}' does not exist`));
    const info: VolumeInfo = {
      name: v.name,
      pool: this.poolName,
      path: `/fake/pool/${v.name}`,
      capacityBytes: Math.max(
        v.capacityBytes,
        v.source.kind === 'blank' ? 0 : (this.images.get(v.source.path)?.virtualBytes ?? 0),
      ),
      allocationBytes: 0,
      format: v.format,
    };
    this.volumes.set(v.name, info);
    return Promise.resolve({ ...info });
  }

  resizeVolume(name: string, capacityBytes: number): Promise<VolumeInfo> {
    const v = this.volumes.get(name);
    if (!v) return Promise.reject(new TenksError('NOT_FOUND', `volume '${name}' does not exist`));
    v.capacityBytes = Math.max(v.capacityBytes, capacityBytes);
    return Promise.resolve({ ...v });
  }

  deleteVolume(name: string): Promise<boolean> {
    return Promise.resolve(this.volumes.delete(name));
  }

  inspectImage(path: string): Promise<ImageInfo | null> {
    return Promise.resolve(this.images.get(path) ?? null);
  }

  diskSource(volumeName: string): DiskSource {
    return { type: 'volume', pool: this.poolName, volume: volumeName };
  }

  diskFormat(format: VolumeFormat): string {
    return format;
  }
}
