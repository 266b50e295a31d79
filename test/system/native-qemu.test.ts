/**
 * The native binding against the real QEMU driver (qemu:///system), for the calls the test driver
 * cannot exercise: CD-ROM media change (device update), ACPI shutdown, NMI, volume upload and
 * resize, undefine with NVRAM.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Connection,
  DomainEventCode,
  DomainStateCode,
  DomainXmlFlags,
  ModifyFlags,
  UndefineFlags,
  type Domain,
  type LifecycleEvent,
  type StoragePool,
} from '../../agent/native/index.js';

const URI = 'qemu:///system';

describe('native binding on qemu:///system', function () {
  const run = randomBytes(4).toString('hex');
  const name = `tnat-${run}`;
  const poolName = `tnat-pool-${run}`;
  let dir = '';
  let conn: Connection;
  let dom: Domain | null = null;
  let pool: StoragePool | null = null;
  /** NVRAM file of the running UEFI domain (libvirt shows it in the live XML). */
  let nvram: string | undefined;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'tenks-native-'));
    await chmod(dir, 0o755);
    conn = await Connection.open(URI);
  });

  after(async function () {
    const d = await conn.findDomain(name).catch(() => null);
    if (d) {
      if (await d.isActive().catch(() => false)) await d.destroy().catch(() => undefined);
      await d.undefine(UndefineFlags.NVRAM).catch(() => undefined);
    }
    const p = await conn.findPool(poolName).catch(() => null);
    if (p) {
      for (const v of await p.volumes().catch(() => [])) await v.delete().catch(() => undefined);
      await p.destroy().catch(() => undefined);
      await p.undefine().catch(() => undefined);
    }
    await conn.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads a local file into a volume and grows it', async function () {
    pool = await conn.definePool(
      `<pool type='dir'><name>${poolName}</name><target><path>${join(dir, 'pool')}</path></target></pool>`,
    );
    await pool.build();
    await pool.create();
    const img = join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '16M']);
    const vol = await pool.createVolume(
      `<volume><name>v0</name><capacity unit='bytes'>1048576</capacity><target><format type='qcow2'/></target></volume>`,
    );
    const sent = await vol.upload(img);
    assert.equal(sent, (await stat(img)).size);
    assert.equal((await vol.info()).capacityBytes, 16 * 1024 * 1024, 'the upload carries the image header and size');
    await vol.resize(64 * 1024 * 1024);
    assert.equal((await vol.info()).capacityBytes, 64 * 1024 * 1024);
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', '-U', await vol.path()], { encoding: 'utf8' }),
    ) as {
      'virtual-size': number;
    };
    assert.equal(info['virtual-size'], 64 * 1024 * 1024);
  });

  it('changes a CD-ROM medium with a device update', async function () {
    const iso = join(dir, 'a.iso');
    await writeFile(iso, Buffer.alloc(2048 * 16));
    dom = await conn.defineDomain(
      `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>` +
        `<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>` +
        `<devices><disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='sda' bus='sata'/><readonly/></disk>` +
        `<memballoon model='none'/></devices></domain>`,
    );
    await dom.updateDevice(
      `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${iso}'/><target dev='sda' bus='sata'/><readonly/></disk>`,
      ModifyFlags.CONFIG,
    );
    assert.match(await dom.xml(DomainXmlFlags.INACTIVE), new RegExp(`<source file='${iso}'`));
    await dom.updateDevice(
      `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='sda' bus='sata'/><readonly/></disk>`,
      ModifyFlags.CONFIG,
    );
    assert.doesNotMatch(await dom.xml(DomainXmlFlags.INACTIVE), /<source file=/);
  });

  it('starts, injects an NMI, asks for ACPI shutdown, destroys, with events', async function () {
    assert.ok(dom);
    const d = dom;
    const events: LifecycleEvent[] = [];
    const ac = new AbortController();
    const collecting = (async () => {
      for await (const e of conn.lifecycleEvents(ac.signal)) if (e.name === name) events.push(e);
    })();
    try {
      await d.create();
      assert.equal((await d.state()).state, DomainStateCode.RUNNING);
      nvram = /<nvram[^>]*>([^<]+)<\/nvram>/.exec(await d.xml())?.[1];
      await d.injectNmi();
      // The firmware has no ACPI handler this early; the request itself must be accepted.
      await d.shutdown();
      await d.destroy();
      assert.equal((await d.state()).state, DomainStateCode.SHUTOFF);
      const deadline = Date.now() + 10_000;
      while (!events.some((e) => e.event === DomainEventCode.STOPPED) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(
        events.some((e) => e.event === DomainEventCode.STARTED),
        'STARTED event',
      );
      assert.ok(
        events.some((e) => e.event === DomainEventCode.STOPPED),
        'STOPPED event',
      );
    } finally {
      ac.abort();
      await collecting;
    }
  });

  it('undefines with NVRAM, removing the NVRAM file', async function () {
    assert.ok(dom);
    assert.ok(nvram, 'a UEFI domain that ran has an NVRAM file');
    await stat(nvram);
    await dom.undefine(UndefineFlags.NVRAM);
    await assert.rejects(stat(nvram), /ENOENT/);
    assert.equal(await conn.findDomain(name), null);
    dom = null;
  });
});
