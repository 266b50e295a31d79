import { stat } from 'node:fs/promises';
import { TenksError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { Semaphore, throwIfAborted } from '../../common/semaphore.js';
import { VirErr, type Connection, type StoragePool, type Volume } from '../native/index.js';
import { runCommand } from '../os/index.js';
import type { CallOptions, DiskSource } from './hypervisor.js';
import { fromLibvirt, isVirCode, lv } from './libvirt-errors.js';
import { poolTarget, volumeFormat } from './libvirt-xml.js';
import type { ImageInfo, Storage, VolumeCreate } from './storage.js';
import type { PoolInfo, VolumeFormat, VolumeInfo } from './types.js';
import { xmlEscape as e } from './xml.js';

/** Options of a libvirt-backed storage pool. */
export interface LibvirtStorageOptions {
  /** Pool name (upstream default `tenks`). */
  poolName: string;
  /** `dir`: a directory of qcow2/raw files. `logical`: an existing LVM volume group. */
  poolType: 'dir' | 'logical';
  /** Directory (dir) or volume group name (logical). */
  poolPath: string;
  /** Bound on concurrent storage calls (copies are heavy). Default 4. */
  concurrency?: number;
  /**
   * Pool capacity to report instead of libvirt's (available space shrinks by what libvirt counts
   * as allocated). For the test driver only (the agent's `test_capacity`). Default: libvirt's.
   */
  reportedCapacityBytes?: number | null;
  log: Logger;
}

/** `virStorageVolResize` flag: grow only. */
const RESIZE_ALLOCATE = 0;

/** The Storage port on a libvirt storage pool (dir or LVM `logical`). */
export class LibvirtStorage implements Storage {
  private readonly limit: Semaphore;
  private handle: StoragePool | null = null;
  private targetPath: string;

  constructor(
    private readonly conn: Connection,
    private readonly o: LibvirtStorageOptions,
  ) {
    this.limit = new Semaphore(o.concurrency ?? 4);
    this.targetPath = o.poolType === 'dir' ? o.poolPath : `/dev/${o.poolPath}`;
  }

  get poolName(): string {
    return this.o.poolName;
  }
  get poolType(): 'dir' | 'logical' {
    return this.o.poolType;
  }

  private poolXml(): string {
    if (this.o.poolType === 'dir')
      return `<pool type='dir'><name>${e(this.o.poolName)}</name><target><path>${e(this.o.poolPath)}</path><permissions><mode>0711</mode></permissions></target></pool>`;
    return (
      `<pool type='logical'><name>${e(this.o.poolName)}</name><source><name>${e(this.o.poolPath)}</name>` +
      `<format type='lvm2'/></source><target><path>/dev/${e(this.o.poolPath)}</path></target></pool>`
    );
  }

  private async getPool(): Promise<StoragePool> {
    if (this.handle) return this.handle;
    const p = await lv(this.conn.findPool(this.o.poolName), `looking up pool '${this.o.poolName}'`);
    if (!p)
      throw new TenksError('NOT_FOUND', `storage pool '${this.o.poolName}' does not exist`, {
        hint: 'the agent creates it at start; check its log',
      });
    this.handle = p;
    return p;
  }

  async ensurePool(o?: CallOptions): Promise<PoolInfo> {
    throwIfAborted(o?.signal);
    let pool = await lv(this.conn.findPool(this.o.poolName), `looking up pool '${this.o.poolName}'`);
    if (pool) {
      const { type, path } = poolTarget(await lv(pool.xml(), `reading pool '${this.o.poolName}'`));
      if (type !== this.o.poolType || (path !== null && path.replace(/\/$/, '') !== this.targetPath.replace(/\/$/, '')))
        throw new TenksError(
          'CONFLICT',
          `storage pool '${this.o.poolName}' exists as ${type ?? '?'} at '${path ?? '?'}', but the agent is configured for ${this.o.poolType} at '${this.targetPath}'`,
          { field: 'storage', hint: 'change storage.pool_name or storage.pool_path' },
        );
    } else {
      if (this.o.poolType === 'logical') await this.checkVolumeGroup();
      pool = await lv(this.conn.definePool(this.poolXml()), `defining pool '${this.o.poolName}'`);
      if (this.o.poolType === 'dir') {
        await pool.build(0).catch((err: unknown) => {
          if (!isVirCode(err, VirErr.STORAGE_POOL_BUILT)) throw fromLibvirt(err, `building pool '${this.o.poolName}'`);
        });
      }
      this.o.log.info('storage pool defined', { pool: this.o.poolName, type: this.o.poolType, path: this.o.poolPath });
    }
    if (!(await lv(pool.isActive(), `reading pool '${this.o.poolName}'`)))
      await lv(pool.create(0), `starting pool '${this.o.poolName}'`);
    await pool.setAutostart(true).catch(() => undefined);
    this.handle = pool;
    return this.pool(o);
  }

  private async checkVolumeGroup(): Promise<void> {
    try {
      await runCommand('vgs', ['--noheadings', this.o.poolPath], { timeoutMs: 10_000 });
    } catch (err) {
      throw new TenksError(
        'NOT_FOUND',
        `LVM volume group '${this.o.poolPath}' does not exist or LVM is not usable here`,
        {
          cause: err,
          field: 'storage.pool_path',
          hint: 'create the volume group first (vgcreate), or use storage.pool_type: dir',
        },
      );
    }
  }

  async pool(o?: CallOptions): Promise<PoolInfo> {
    throwIfAborted(o?.signal);
    const pool = await this.getPool();
    const info = await lv(pool.info(), `reading pool '${this.o.poolName}'`);
    const capacityBytes = this.o.reportedCapacityBytes ?? info.capacityBytes;
    return {
      name: this.o.poolName,
      type: this.o.poolType,
      path: this.targetPath,
      capacityBytes,
      availableBytes: Math.max(0, capacityBytes - (info.capacityBytes - info.availableBytes)),
    };
  }

  /** Volume facts; `knownFormat` saves reading the volume XML when the caller knows it. */
  private async volumeInfo(v: Volume, knownFormat?: string): Promise<VolumeInfo> {
    const [info, path, format] = await Promise.all([
      v.info(),
      v.path(),
      knownFormat !== undefined
        ? Promise.resolve(knownFormat)
        : this.o.poolType === 'logical'
          ? Promise.resolve('raw')
          : v.xml().then(volumeFormat),
    ]);
    return {
      name: v.name,
      pool: this.o.poolName,
      path,
      capacityBytes: info.capacityBytes,
      allocationBytes: info.allocationBytes,
      format,
    };
  }

  async listVolumes(o?: CallOptions): Promise<VolumeInfo[]> {
    throwIfAborted(o?.signal);
    const pool = await this.getPool();
    const vols = await lv(pool.volumes(), `listing volumes of '${this.o.poolName}'`);
    const out = await Promise.all(
      vols.map((v) =>
        this.volumeInfo(v).catch((err: unknown) => {
          if (isVirCode(err, VirErr.NO_STORAGE_VOL)) return null;
          throw fromLibvirt(err, `reading volume '${v.name}'`);
        }),
      ),
    );
    return out.filter((v): v is VolumeInfo => v !== null);
  }

  private async findVolume(name: string): Promise<Volume | null> {
    const pool = await this.getPool();
    try {
      return await pool.volume(name);
    } catch (err) {
      if (isVirCode(err, VirErr.NO_STORAGE_VOL)) return null;
      throw fromLibvirt(err, `looking up volume '${name}'`);
    }
  }

  async getVolume(name: string, o?: CallOptions): Promise<VolumeInfo | null> {
    throwIfAborted(o?.signal);
    const v = await this.findVolume(name);
    if (!v) return null;
    try {
      return await this.volumeInfo(v);
    } catch (err) {
      if (isVirCode(err, VirErr.NO_STORAGE_VOL)) return null;
      throw fromLibvirt(err, `reading volume '${name}'`);
    }
  }

  private volumeXml(v: VolumeCreate, format: string, backing: ImageInfo | null): string {
    const fmt = this.o.poolType === 'logical' ? '' : `<format type='${e(format)}'/>`;
    const backingXml =
      v.source.kind === 'backing' && backing
        ? `<backingStore><path>${e(v.source.path)}</path><format type='${e(backing.format)}'/></backingStore>`
        : '';
    const allocation = this.o.poolType === 'dir' ? "<allocation unit='bytes'>0</allocation>" : '';
    return `<volume><name>${e(v.name)}</name><capacity unit='bytes'>${v.capacityBytes}</capacity>${allocation}<target>${fmt}</target>${backingXml}</volume>`;
  }

  async createVolume(v: VolumeCreate, o?: CallOptions): Promise<VolumeInfo> {
    return this.limit.run(async () => {
      throwIfAborted(o?.signal);
      const pool = await this.getPool();
      const format = this.o.poolType === 'logical' ? 'raw' : v.format;
      let image: ImageInfo | null = null;
      if (v.source.kind !== 'blank') {
        image = await this.inspectImage(v.source.path, o);
        if (!image)
          throw new TenksError('NOT_FOUND', `image '${v.source.path}' does not exist on this host`, {
            field: 'volume.image',
          });
      }
      if (v.source.kind === 'backing' && this.o.poolType === 'logical')
        throw new TenksError('UNSUPPORTED', 'backing_image (copy-on-write) needs a dir pool; LVM volumes are raw', {
          field: 'volume.backing_image',
        });
      const capacityBytes = Math.max(v.capacityBytes, image?.virtualBytes ?? 0);
      const vol = await lv(
        pool.createVolume(this.volumeXml({ ...v, capacityBytes }, format, image)),
        `creating volume '${v.name}'`,
      );
      try {
        if (v.source.kind === 'image' && image) {
          const src = v.source.path;
          if (image.format === format) {
            await lv(vol.upload(src), `uploading '${src}' into volume '${v.name}'`);
            // The upload replaced the header, so the size is the image's again: grow to the wanted size.
            if (capacityBytes > image.virtualBytes)
              await lv(vol.resize(capacityBytes, RESIZE_ALLOCATE), `resizing volume '${v.name}'`);
          } else {
            const path = await lv(vol.path(), `reading volume '${v.name}'`);
            await runCommand('qemu-img', ['convert', '-n', '-O', format, src, path], {
              signal: o?.signal,
              timeoutMs: 3_600_000,
            }).catch((err: unknown) => {
              throw new TenksError(
                'INTERNAL',
                `converting '${src}' into volume '${v.name}' failed: ${(err as Error).message}`,
                { cause: err },
              );
            });
          }
          await pool.refresh().catch(() => undefined);
        }
        return await lv(this.volumeInfo(vol, format), `reading volume '${v.name}'`);
      } catch (err) {
        await vol.delete().catch(() => undefined);
        throw err;
      }
    }, o?.signal);
  }

  async resizeVolume(name: string, capacityBytes: number, o?: CallOptions): Promise<VolumeInfo> {
    throwIfAborted(o?.signal);
    const v = await this.findVolume(name);
    if (!v) throw new TenksError('NOT_FOUND', `volume '${name}' does not exist`);
    const info = await lv(v.info(), `reading volume '${name}'`);
    if (capacityBytes > info.capacityBytes)
      await lv(v.resize(capacityBytes, RESIZE_ALLOCATE), `resizing volume '${name}'`);
    return lv(this.volumeInfo(v), `reading volume '${name}'`);
  }

  async deleteVolume(name: string, o?: CallOptions): Promise<boolean> {
    return this.limit.run(async () => {
      const v = await this.findVolume(name);
      if (!v) return false;
      try {
        await v.delete();
        return true;
      } catch (err) {
        if (isVirCode(err, VirErr.NO_STORAGE_VOL)) return false;
        throw fromLibvirt(err, `deleting volume '${name}'`);
      }
    }, o?.signal);
  }

  async inspectImage(path: string, o?: CallOptions): Promise<ImageInfo | null> {
    try {
      const s = await stat(path);
      if (!s.isFile() && !s.isBlockDevice()) return null;
    } catch {
      return null;
    }
    try {
      const stdout = await runCommand('qemu-img', ['info', '--output=json', '-U', path], {
        signal: o?.signal,
        timeoutMs: 60_000,
      });
      const info = JSON.parse(stdout) as { format?: string; 'virtual-size'?: number };
      if (typeof info.format !== 'string' || typeof info['virtual-size'] !== 'number')
        throw new Error('qemu-img gave no format or size');
      return { format: info.format, virtualBytes: info['virtual-size'] };
    } catch (err) {
      throw new TenksError('INVALID_SPEC', `cannot read image '${path}': ${(err as Error).message}`, {
        cause: err,
        field: 'volume.image',
      });
    }
  }

  diskSource(volumeName: string): DiskSource {
    return { type: 'volume', pool: this.o.poolName, volume: volumeName };
  }

  diskFormat(format: VolumeFormat): string {
    return this.o.poolType === 'logical' ? 'raw' : format;
  }
}
