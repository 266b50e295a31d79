import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostPathPolicy, resolveHostPath } from '../../agent/compute/host-paths.js';
import { compileNodeSpec, rawNodeSpec, rawVolume } from '../../agent/compute/node-spec.js';
import type { RawVolumeSpec } from '../../agent/compute/node-spec.js';
import { TenksError } from '../../common/errors.js';

describe('host paths of node volumes', function () {
  let root = '';
  let images = '';
  let pool = '';
  let outside = '';
  let policy: HostPathPolicy;

  const spec = (...volumes: Partial<RawVolumeSpec>[]) =>
    compileNodeSpec(rawNodeSpec({ cluster: 'c', name: 'n', volumes: volumes.map((v) => rawVolume(v)) }));

  async function refused(p: Promise<void>, fields: string[]): Promise<TenksError> {
    let err: unknown;
    try {
      await p;
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof TenksError, `expected a PERMISSION error, got ${String(err)}`);
    assert.equal(err.code, 'PERMISSION');
    assert.deepEqual(
      err.details.map((d) => d.field),
      fields,
    );
    for (const d of err.details) assert.ok(d.message.includes(images), `names the allowed directory: ${d.message}`);
    return err;
  }

  before(async function () {
    // Real directories and symlinks: the check resolves them as the kernel does.
    root = await realpath(await mkdtemp(join(tmpdir(), 'tenks-paths-')));
    images = join(root, 'images');
    pool = join(root, 'pool');
    outside = join(root, 'outside');
    await Promise.all([mkdir(images), mkdir(pool), mkdir(outside)]);
    await writeFile(join(images, 'base.qcow2'), 'x');
    await writeFile(join(outside, 'shadow'), 'secret');
    await writeFile(join(pool, 'vol.qcow2'), 'x');
    await symlink(join(outside, 'shadow'), join(images, 'escape.qcow2'));
    await symlink(outside, join(images, 'outdir'));
    await symlink(join(images, 'base.qcow2'), join(outside, 'in.qcow2'));
    policy = new HostPathPolicy({ imageDirs: [images], poolDir: pool });
  });

  after(async function () {
    await rm(root, { recursive: true, force: true });
  });

  it('allows files in the allowed directories, missing ones too, and pool volumes by name', async function () {
    await policy.check(
      spec(
        { image: join(images, 'base.qcow2') },
        { image: join(images, 'not-yet.qcow2'), capacity: '1GiB' },
        { backingImage: join(images, 'base.qcow2'), capacity: '1GiB' },
        { existing: join(images, 'sub', 'disk.raw') },
        { existing: 'pool-volume' },
        { capacity: '1GiB' },
      ),
    );
  });

  it('allows a symlink from elsewhere that lands inside, and .. that stays inside', async function () {
    await policy.check(spec({ image: join(outside, 'in.qcow2') }, { image: `${images}/x/../base.qcow2` }));
  });

  it('refuses paths elsewhere on the host, naming each field and the allowed directories', async function () {
    const e = await refused(
      policy.check(spec({ image: '/etc/shadow' }, { capacity: '1GiB' }, { existing: '/dev/sda' })),
      ['node.volumes[0].image', 'node.volumes[2].existing'],
    );
    assert.match(e.message, /2 volumes name host paths/);
    assert.ok(e.hint?.includes('allowed_image_dirs'));
    const one = await refused(policy.check(spec({ image: '/etc/shadow' })), ['node.volumes[0].image']);
    assert.match(one.message, /^node\.volumes\[0\]\.image: '\/etc\/shadow' is not inside/);
  });

  it('refuses escapes through symlinks and ..', async function () {
    await refused(policy.check(spec({ image: join(images, 'escape.qcow2') })), ['node.volumes[0].image']);
    await refused(policy.check(spec({ existing: join(images, 'outdir', 'shadow') })), ['node.volumes[0].existing']);
    await refused(policy.check(spec({ image: `${images}/../outside/shadow` })), ['node.volumes[0].image']);
    // `outdir/..` is `root` for the kernel (outdir is a link to root/outside), not `images`.
    await refused(policy.check(spec({ image: `${images}/outdir/../images/../outside/shadow` })), [
      'node.volumes[0].image',
    ]);
    await refused(policy.check(spec({ image: `${images}-evil/x.qcow2` })), ['node.volumes[0].image']);
  });

  it('allows the pool directory for backing images only (upstream names them by pool volume)', async function () {
    await policy.check(spec({ backingImage: join(pool, 'vol.qcow2'), capacity: '1GiB' }));
    await refused(policy.check(spec({ image: join(pool, 'vol.qcow2') })), ['node.volumes[0].image']);
    await refused(policy.check(spec({ existing: join(pool, 'vol.qcow2') })), ['node.volumes[0].existing']);
    const noPool = new HostPathPolicy({ imageDirs: [images], poolDir: null });
    await refused(noPool.check(spec({ backingImage: join(pool, 'vol.qcow2'), capacity: '1GiB' })), [
      'node.volumes[0].backing_image',
    ]);
  });

  it('with no allowed directory, refuses every host path', async function () {
    const none = new HostPathPolicy({ imageDirs: [], poolDir: null });
    await assert.rejects(none.check(spec({ image: join(images, 'base.qcow2') })), (err: unknown) => {
      assert.ok(err instanceof TenksError && err.code === 'PERMISSION');
      assert.match(err.message, /allowed_image_dirs: none/);
      return true;
    });
    await none.check(spec({ existing: 'pool-volume' }));
  });

  it('resolves paths as the kernel does, as far as they exist', async function () {
    assert.equal(await resolveHostPath(join(images, 'escape.qcow2')), join(outside, 'shadow'));
    assert.equal(await resolveHostPath(join(images, 'outdir', 'missing', 'x')), join(outside, 'missing', 'x'));
    assert.equal(await resolveHostPath(`${images}/outdir/../images/base.qcow2`), join(images, 'base.qcow2'));
    assert.equal(await resolveHostPath(`${images}/outdir/../pool`), pool);
    assert.equal(await resolveHostPath(`${images}/outdir/../images/missing`), join(images, 'missing'));
  });
});
