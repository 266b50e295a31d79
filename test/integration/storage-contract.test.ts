/**
 * The Storage port's contract, run alike over the libvirt adapter (a dir pool of its own on
 * libvirt's test driver, `test:///default`) and over the in-memory FakeStorage the unit tests use,
 * so the fake cannot drift from what libvirt does.
 *
 * The test driver keeps volumes in memory: it cannot copy an image into a volume or grow one, so
 * those are left to the system tests (on QEMU's storage driver). Where it answers otherwise than
 * the storage driver, the case says so and expects each its own answer; the fake follows the
 * storage driver there.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ErrorCode } from '../../common/errors.js';
import { nullLogger } from '../../common/logger.js';
import type { Storage } from '../../agent/compute/storage.js';
import { FakeStorage } from '../../agent/compute/storage-fake.js';
import { LibvirtStorage } from '../../agent/compute/storage-libvirt.js';
import type { Connection } from '../../agent/native/index.js';
import { cleanupLibvirt, openLibvirt, rejectsWith, suffix } from './helpers.js';

const MiB = 1024 ** 2;

/** One adapter under test, with what the contract needs beyond the port. */
interface Subject {
  storage: Storage;
  /** Makes an image file of `format` and virtual size `bytes` at `path` on the host. */
  addImage(path: string, format: 'qcow2' | 'raw', bytes: number): Promise<void>;
  /** libvirt's test driver, where it answers otherwise than the storage driver (and the fake). */
  testDriver: boolean;
  close(): Promise<void>;
}

const SUBJECTS: { name: string; open(dir: string): Promise<Subject> }[] = [
  {
    name: 'LibvirtStorage (dir pool) on test:///default',
    async open(dir) {
      const conn: Connection = await openLibvirt();
      const pool = `tkc-${suffix()}`;
      return {
        storage: new LibvirtStorage(conn, {
          poolName: pool,
          poolType: 'dir',
          poolPath: join(dir, 'pool'),
          log: nullLogger,
        }),
        testDriver: true,
        async addImage(path, format, bytes) {
          await promisify(execFile)('qemu-img', ['create', '-q', '-f', format, path, String(bytes)]);
        },
        async close() {
          await cleanupLibvirt(conn, { domainPart: pool, pool });
          await conn.close();
        },
      };
    },
  },
  {
    name: 'FakeStorage',
    open() {
      const storage = new FakeStorage();
      return Promise.resolve({
        storage,
        testDriver: false,
        addImage(path, format, bytes) {
          storage.images.set(path, { format, virtualBytes: bytes });
          return Promise.resolve();
        },
        close: () => Promise.resolve(),
      });
    },
  },
];

for (const subject of SUBJECTS) {
  describe(`Storage contract: ${subject.name}`, function () {
    let s: Subject;
    let dir: string;
    let n = 0;
    /** A fresh volume name of this run. */
    const name = (): string => `vol-${n++}`;

    before(async function () {
      dir = await mkdtemp(join(tmpdir(), 'tenks-storage-contract-'));
      s = await subject.open(dir);
      await s.storage.ensurePool();
    });
    after(async function () {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    /** Expects the test driver's code where it differs from the storage driver's (and the fake's). */
    const storageOrTest = (storage: ErrorCode, test: ErrorCode): ErrorCode => (s.testDriver ? test : storage);

    it('ensures its pool again without change, and reports it', async function () {
      const first = await s.storage.pool();
      const again = await s.storage.ensurePool();
      assert.equal(again.name, s.storage.poolName);
      assert.equal(again.type, s.storage.poolType);
      assert.equal(again.path, first.path);
      assert.equal(again.capacityBytes, first.capacityBytes);
      assert.ok(again.availableBytes >= 0 && again.availableBytes <= again.capacityBytes);
    });

    it('creates blank volumes of each format, found by name and listed', async function () {
      for (const format of ['qcow2', 'raw'] as const) {
        const volume = name();
        const created = await s.storage.createVolume({
          name: volume,
          capacityBytes: 2 * MiB,
          format,
          source: { kind: 'blank' },
        });
        assert.equal(created.name, volume);
        assert.equal(created.pool, s.storage.poolName);
        assert.equal(created.format, format);
        assert.equal(created.capacityBytes, 2 * MiB);
        assert.ok(created.path.endsWith(`/${volume}`), created.path);
        assert.deepEqual(await s.storage.getVolume(volume), created);
        assert.deepEqual(
          (await s.storage.listVolumes()).find((v) => v.name === volume),
          created,
        );
      }
    });

    it('takes no space from the pool for a blank volume until it is written (volumes are sparse)', async function () {
      const before = (await s.storage.pool()).availableBytes;
      const created = await s.storage.createVolume({
        name: name(),
        capacityBytes: 64 * MiB,
        format: 'raw',
        source: { kind: 'blank' },
      });
      assert.equal(created.allocationBytes, 0);
      assert.equal((await s.storage.pool()).availableBytes, before);
    });

    it('refuses a volume that exists, keeping it as it was', async function () {
      const volume = name();
      const created = await s.storage.createVolume({
        name: volume,
        capacityBytes: MiB,
        format: 'qcow2',
        source: { kind: 'blank' },
      });
      // The storage driver says VIR_ERR_STORAGE_VOL_EXIST; the test driver, a failed operation.
      await rejectsWith(
        s.storage.createVolume({ name: volume, capacityBytes: 4 * MiB, format: 'raw', source: { kind: 'blank' } }),
        storageOrTest('ALREADY_EXISTS', 'INTERNAL'),
      );
      assert.deepEqual(await s.storage.getVolume(volume), created);
    });

    it('never shrinks a volume, and cannot resize one that does not exist (NOT_FOUND)', async function () {
      const volume = name();
      await s.storage.createVolume({
        name: volume,
        capacityBytes: 4 * MiB,
        format: 'qcow2',
        source: { kind: 'blank' },
      });
      assert.equal((await s.storage.resizeVolume(volume, MiB)).capacityBytes, 4 * MiB);
      assert.equal((await s.storage.resizeVolume(volume, 4 * MiB)).capacityBytes, 4 * MiB);
      await rejectsWith(s.storage.resizeVolume(name(), MiB), 'NOT_FOUND');
    });

    it('deletes a volume once: true, then false', async function () {
      const volume = name();
      await s.storage.createVolume({ name: volume, capacityBytes: MiB, format: 'qcow2', source: { kind: 'blank' } });
      assert.equal(await s.storage.deleteVolume(volume), true);
      assert.equal(await s.storage.getVolume(volume), null);
      assert.equal(await s.storage.deleteVolume(volume), false);
      assert.ok(!(await s.storage.listVolumes()).some((v) => v.name === volume));
    });

    it('finds no volume that does not exist', async function () {
      assert.equal(await s.storage.getVolume(name()), null);
    });

    it('inspects image files: format and virtual size; nothing where there is no file', async function () {
      const qcow2 = join(dir, 'image.qcow2');
      const raw = join(dir, 'image.raw');
      await s.addImage(qcow2, 'qcow2', 3 * MiB);
      await s.addImage(raw, 'raw', MiB);
      assert.deepEqual(await s.storage.inspectImage(qcow2), { format: 'qcow2', virtualBytes: 3 * MiB });
      assert.deepEqual(await s.storage.inspectImage(raw), { format: 'raw', virtualBytes: MiB });
      assert.equal(await s.storage.inspectImage(join(dir, 'missing.qcow2')), null);
      const subdir = join(dir, 'a-directory');
      await mkdir(subdir);
      assert.equal(await s.storage.inspectImage(subdir), null);
    });

    it('makes a copy-on-write volume on an image, at least as large as the image', async function () {
      const base = join(dir, 'base.qcow2');
      await s.addImage(base, 'qcow2', 3 * MiB);
      const asIs = await s.storage.createVolume({
        name: name(),
        capacityBytes: 0,
        format: 'qcow2',
        source: { kind: 'backing', path: base },
      });
      assert.equal(asIs.capacityBytes, 3 * MiB);
      assert.equal(asIs.format, 'qcow2');
      const larger = await s.storage.createVolume({
        name: name(),
        capacityBytes: 8 * MiB,
        format: 'qcow2',
        source: { kind: 'backing', path: base },
      });
      assert.equal(larger.capacityBytes, 8 * MiB);
    });

    it('refuses a volume from an image that does not exist (NOT_FOUND), creating nothing', async function () {
      const volume = name();
      const missing = join(dir, 'missing.img');
      await rejectsWith(
        s.storage.createVolume({
          name: volume,
          capacityBytes: 0,
          format: 'qcow2',
          source: { kind: 'image', path: missing },
        }),
        'NOT_FOUND',
      );
      await rejectsWith(
        s.storage.createVolume({
          name: volume,
          capacityBytes: MiB,
          format: 'qcow2',
          source: { kind: 'backing', path: missing },
        }),
        'NOT_FOUND',
      );
      assert.equal(await s.storage.getVolume(volume), null);
    });

    it('has domains refer to its volumes by pool and name, in their own format', function () {
      assert.deepEqual(s.storage.diskSource('n1-vol0'), {
        type: 'volume',
        pool: s.storage.poolName,
        volume: 'n1-vol0',
      });
      assert.equal(s.storage.diskFormat('qcow2'), 'qcow2');
      assert.equal(s.storage.diskFormat('raw'), 'raw');
    });
  });
}
