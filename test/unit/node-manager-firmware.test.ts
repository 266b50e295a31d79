/** What a BMC changes in a node (firmware settings, virtual media), on the in-memory hypervisor. */
import assert from 'node:assert/strict';
import { TenksError } from '../../common/errors.js';
import { nullLogger } from '../../common/logger.js';
import { HostPathPolicy } from '../../agent/compute/host-paths.js';
import { FakeHypervisor } from '../../agent/compute/hypervisor-fake.js';
import { NodeManager } from '../../agent/compute/node-manager.js';
import { rawNodeSpec, rawVolume, type RawNodeSpec } from '../../agent/compute/node-spec.js';
import { FakeStorage } from '../../agent/compute/storage-fake.js';
import type { HostFacts } from '../../agent/compute/types.js';

const GiB = 1024 ** 3;

const facts: HostFacts = {
  hostname: 'hv1',
  libvirtUri: 'fake:///',
  libvirtVersion: 9_000_000,
  hypervisorVersion: 7_002_000,
  engine: 'qemu',
  cpus: 4,
  memoryBytes: 8 * GiB,
  freeMemoryBytes: 4 * GiB,
  uefiAvailable: true,
  arches: ['x86_64', 'aarch64'],
  uefiArches: ['x86_64', 'aarch64'],
  secureBootArches: ['x86_64', 'aarch64'],
  kvmArches: [],
};

describe('NodeManager firmware and virtual media', function () {
  let hv: FakeHypervisor;
  let storage: FakeStorage;
  let nodes: NodeManager;
  const ref = { cluster: 'c1', name: 'n1', uuid: '' };
  const spec = (fields: Partial<RawNodeSpec> = {}): RawNodeSpec =>
    rawNodeSpec({ cluster: 'c1', name: 'n1', bootMode: 'uefi', volumes: [rawVolume({ capacity: '1GiB' })], ...fields });
  const defined = () => hv.domains.get('n1')!;

  beforeEach(async function () {
    hv = new FakeHypervisor(facts);
    storage = new FakeStorage();
    storage.images.set('/tmp/boot.iso', { format: 'raw', virtualBytes: 4096 });
    nodes = new NodeManager({
      hypervisor: hv,
      storage,
      facts,
      logDirectory: '/log',
      log: nullLogger,
      owner: 'agent-1',
      ownsUnmarked: true,
      hostPaths: new HostPathPolicy({ imageDirs: [], poolDir: null }),
    });
    await nodes.ensure(spec());
  });

  it('switches the boot mode, keeps it across an unchanged ensure, and lets a new spec boot_mode win', async function () {
    await nodes.setFirmware(ref, { bootMode: 'bios' });
    assert.equal(defined().spec.bootMode, 'bios');
    assert.equal((await nodes.get(ref)).firmware.bootMode, 'bios');
    assert.equal((await nodes.get(ref)).bootMode, 'uefi', 'the spec is what it was');
    const again = await nodes.ensure(spec());
    assert.equal(again.changed, false);
    assert.equal(defined().spec.bootMode, 'bios');
    // A spec change of an unrelated field keeps the BMC's choice.
    await nodes.ensure(spec({ memoryMb: 256 }));
    assert.equal(defined().spec.bootMode, 'bios');
    // The spec's own boot_mode changing resets it.
    await nodes.ensure(spec({ memoryMb: 256, bootMode: 'bios' }));
    await nodes.ensure(spec({ memoryMb: 256, bootMode: 'uefi' }));
    assert.equal(defined().spec.bootMode, 'uefi');
    assert.equal(defined().metadata?.firmware.bootMode, null);
  });

  it('re-creates the NVRAM when Secure Boot changes: now when off, at the next start when on', async function () {
    await nodes.setFirmware(ref, { secureBoot: true });
    assert.equal(defined().spec.secureBoot, true);
    assert.ok(hv.calls.includes('nvram-reset:n1'));
    hv.calls.length = 0;
    await nodes.power(ref, 'on');
    await nodes.setFirmware(ref, { secureBoot: false });
    assert.ok(!hv.calls.includes('nvram-reset:n1'), 'not while running');
    assert.equal(defined().metadata?.firmware.nvramReset, true);
    await nodes.power(ref, 'cycle');
    assert.deepEqual(
      hv.calls.filter((c) => /^(destroy|start|nvram-reset):/.test(c)),
      ['start:n1', 'destroy:n1', 'nvram-reset:n1', 'start:n1'],
    );
    assert.equal(defined().metadata?.firmware.nvramReset, false);
  });

  it('refuses Secure Boot where the firmware cannot do it', async function () {
    await nodes.ensure(spec({ name: 'n2', bootMode: 'bios' }));
    await assert.rejects(nodes.setFirmware({ ...ref, name: 'n2' }, { secureBoot: true }), (e: unknown) => {
      return e instanceof TenksError && e.code === 'CONFLICT' && e.message.includes('needs UEFI');
    });
    await nodes.ensure(spec({ name: 'n3', machine: 'pc' }));
    await assert.rejects(nodes.setFirmware({ ...ref, name: 'n3' }, { secureBoot: true }), /q35/);
  });

  it('merges BIOS attributes and restores the defaults', async function () {
    await nodes.setFirmware(ref, { bios: { NumCores: 4 } });
    await nodes.setFirmware(ref, { bios: { QuietBoot: false } });
    assert.deepEqual((await nodes.get(ref)).firmware.bios, { NumCores: 4, QuietBoot: false });
    hv.calls.length = 0;
    await nodes.setFirmware(ref, { bios: { QuietBoot: false } });
    assert.deepEqual(hv.calls, [], 'nothing to change, nothing done');
    await nodes.setFirmware(ref, { bios: null });
    assert.equal((await nodes.get(ref)).firmware.bios, null);
  });

  it('puts media in the CD drive as an owned volume, live when running, and deletes it with the node', async function () {
    await nodes.power(ref, 'on');
    await nodes.insertMedia(ref, { image: 'http://x/boot.iso', file: '/tmp/boot.iso', writeProtected: true });
    assert.ok(storage.volumes.has('n1-vmedia-cd'));
    assert.deepEqual(defined().spec.cdrom, { type: 'volume', pool: 'tenks', volume: 'n1-vmedia-cd' });
    assert.deepEqual(defined().liveCdrom, { type: 'volume', pool: 'tenks', volume: 'n1-vmedia-cd' });
    assert.deepEqual((await nodes.get(ref)).media, {
      image: 'http://x/boot.iso',
      inserted: true,
      writeProtected: true,
    });
    // An ensure with a changed spec keeps the media (it belongs to the BMC, not the spec).
    await nodes.ensure(spec({ memoryMb: 512 }));
    assert.ok(storage.volumes.has('n1-vmedia-cd'));
    assert.equal((await nodes.get(ref)).media?.inserted, true);
    await nodes.delete(ref);
    assert.ok(!storage.volumes.has('n1-vmedia-cd'));
  });

  it('ejects: empties the drive, deletes the volume, and moves a CD boot to the disk', async function () {
    await nodes.insertMedia(ref, { image: 'http://x/boot.iso', file: '/tmp/boot.iso', writeProtected: true });
    await nodes.setBootDevice(ref, 'cdrom', true);
    assert.equal(await nodes.ejectMedia(ref), true);
    assert.equal(defined().spec.cdrom, null);
    assert.ok(!storage.volumes.has('n1-vmedia-cd'));
    const n = await nodes.get(ref);
    assert.equal(n.media, null);
    assert.equal(n.bootDevice, 'disk');
    assert.equal(await nodes.ejectMedia(ref), false, 'already empty');
  });
});
