/**
 * The LVM (`logical` pool) backend on a real volume group: a loop device, a VG, an agent child process.
 * Skipped (with the reason printed) where device-mapper or the LVM tools are not usable.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient, nodeSpec, volume } from '../helpers/agent.js';
import { LOOPBACK_BMC } from '../helpers/net.js';
import { AgentProcess, cleanupLibvirt, run, SYSTEM_URI, suffix } from './helpers.js';

/** Why LVM cannot be used on this host, or null when it can. */
async function lvmUnusable(): Promise<string | null> {
  try {
    await run('dmsetup', ['version'], 10_000);
  } catch (e) {
    return `device-mapper is not available (${(e as Error).message.split('\n').slice(-2).join(' ')})`;
  }
  for (const tool of ['vgcreate', 'vgremove', 'vgs', 'lvs', 'losetup']) {
    try {
      await run(tool, ['--version'], 10_000);
    } catch (e) {
      return `${tool} is not usable (${(e as Error).message})`;
    }
  }
  return null;
}

/** Names and sizes (bytes) of the logical volumes of `vg`. */
async function logicalVolumes(vg: string): Promise<Map<string, number>> {
  const out = await run('lvs', ['--noheadings', '--units', 'b', '--nosuffix', '-o', 'lv_name,lv_size', vg]);
  const lvs = new Map<string, number>();
  for (const line of out.split('\n')) {
    const [name, size] = line.trim().split(/\s+/);
    if (name && size) lvs.set(name, Number(size));
  }
  return lvs;
}

describe('tenks-agent with an LVM (logical) pool', function () {
  const id = suffix();
  const vg = `tenksvg${id}`;
  const pool = `tenks-sys-lvm-${id}`;
  const cluster = `lvm-${id}`;
  const name = `tsys-lvm-${id}`;
  let dir = '';
  let loop = '';
  let vgMade = false;
  let agent: AgentProcess | undefined;
  let client: AgentClient | undefined;

  before(async function () {
    this.timeout(120_000);
    const reason = await lvmUnusable();
    if (reason !== null) {
      console.log(`      skipping LVM system test: ${reason}`);
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'tenks-lvm-'));
    const backing = join(dir, 'pv.img');
    await run('truncate', ['-s', '1G', backing]);
    loop = (await run('losetup', ['--find', '--show', backing])).trim();
    try {
      await run('vgcreate', [vg, loop]);
      vgMade = true;
    } catch (e) {
      console.log(`      skipping LVM system test: vgcreate on ${loop} failed (${(e as Error).message})`);
      this.skip();
    }
    // Its own state dir and port 0 everywhere: the defaults (/var/lib/tenks, whose BMC file is named
    // by the libvirt URI, IPMI from 6230, Redfish on 8000) are a quickstart lab's on this host.
    agent = await AgentProcess.spawn(join(dir, 'agent.yaml'), {
      agent_id: `lvm-${id}`,
      listen: '127.0.0.1:0',
      insecure_loopback: true,
      libvirt_uri: SYSTEM_URI,
      storage: { pool_name: pool, pool_type: 'logical', pool_path: vg },
      log_directory: join(dir, 'log'),
      state_dir: join(dir, 'state'),
      bmc: LOOPBACK_BMC,
      shutdown_grace_s: 5,
    });
    const listening = await agent.waitForLine((l) => l.message === 'grpc listening', 60_000);
    client = new AgentClient(`127.0.0.1:${String(listening.port)}`);
  });

  after(async function () {
    this.timeout(120_000);
    client?.close();
    await agent?.kill();
    if (agent) await cleanupLibvirt({ domainPart: name, pool });
    const report = (e: unknown): void => {
      console.log(`      LVM cleanup: ${String(e)}`);
    };
    if (vgMade) await run('vgremove', ['-f', vg]).catch(report);
    if (loop) await run('losetup', ['-d', loop]).catch(report);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates a node with a raw logical volume and deletes it', async function () {
    assert.ok(client);
    const r = await client.ensure(
      nodeSpec({ cluster, name, volumes: [volume({ capacity: '256MiB', format: 'raw' })] }),
      120_000,
    );
    assert.equal(r.changed, true);
    assert.equal(r.node?.volumes[0]?.path, `/dev/${vg}/${name}-vol0`);
    const lvs = await logicalVolumes(vg);
    assert.equal(lvs.get(`${name}-vol0`), 256 * 1024 ** 2, `lvs: ${JSON.stringify([...lvs])}`);

    const again = await client.ensure(
      nodeSpec({ cluster, name, volumes: [volume({ capacity: '256MiB', format: 'raw' })] }),
      120_000,
    );
    assert.equal(again.changed, false);

    const del = await client.delete({ cluster, name });
    assert.equal(del.existed, true);
    assert.equal((await logicalVolumes(vg)).has(`${name}-vol0`), false);
  });
});
