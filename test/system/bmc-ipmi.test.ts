/**
 * The agent's IPMI BMCs in front of real QEMU domains, driven by the real ipmitool and checked
 * against what libvirt then says about the domain.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand as run } from '../../agent/os/index.js';
import { BootMode, type NodeSpec } from '../../proto/gen/tenks/v1/types.pb.js';
import { AgentClient, nodeSpec, startTestAgent, type TestAgent } from '../helpers/agent.js';

const URI = 'qemu:///system';

const virsh = (...args: string[]): Promise<string> => run('virsh', ['-c', URI, ...args]);

function ipmitool(args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ipmitool', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('agent IPMI BMCs on real QEMU domains (ipmitool)', function () {
  const run_ = randomBytes(3).toString('hex');
  const cluster = `bmc-${run_}`;
  const name = `tbmc-${run_}`;
  const pool = `tenks-bmc-${run_}`;
  const password = randomBytes(8).toString('hex');
  let agent: TestAgent;
  let client: AgentClient;
  let base: string[] = [];
  let port = 0;
  /** Scratch directories of agents this test replaced (their pool lives on in the next one). */
  const replaced: string[] = [];

  const spec = (): NodeSpec => ({
    ...nodeSpec({ cluster, name, memoryMb: 128, bootMode: BootMode.BOOT_MODE_BIOS }),
    bmc: { ipmiEnabled: true, redfishEnabled: false, username: 'admin', password, ipmiPort: 0 },
  });
  const ipmi = (...args: string[]) => ipmitool([...base, ...args]);
  const state = async (): Promise<string> => (await virsh('domstate', name)).trim();
  const firstBoot = async (): Promise<string> =>
    /<boot dev='(\w+)'\/>/.exec(await virsh('dumpxml', '--inactive', name))?.[1] ?? 'none';

  before(async function () {
    agent = await startTestAgent({ libvirt_uri: URI, storage: { pool_name: pool } });
    client = new AgentClient(agent.address);
  });

  after(async function () {
    await client.delete({ cluster, name }).catch(() => undefined);
    client.close();
    await agent.stop();
    await virsh('pool-destroy', pool).catch(() => undefined);
    await virsh('pool-undefine', pool).catch(() => undefined);
    for (const d of replaced) await rm(d, { recursive: true, force: true });
  });

  it('starts a BMC with the node and reports its endpoint without the password', async function () {
    const r = await client.ensure(spec());
    const ep = r.node?.bmc?.ipmi;
    assert.ok(ep, 'IPMI endpoint reported');
    assert.equal(ep.address, '127.0.0.1');
    assert.equal(ep.username, 'admin');
    assert.equal(ep.password, '', 'no password unless asked');
    assert.ok(ep.port > 0);
    port = ep.port;
    base = ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', password];
    const withSecret = await client.bmcInfo({ cluster, name, uuid: '' }, true);
    assert.equal(withSecret.bmc?.ipmi?.password, password);
    const files = await readdir(join(agent.dir, 'state'));
    const file = files.find((f) => f.startsWith('bmc-'));
    assert.ok(file, 'credentials file written');
    assert.equal((await stat(join(agent.dir, 'state', file))).mode & 0o777, 0o600);
  });

  it('powers the domain on, resets, pulses NMI, cycles and powers off; libvirt agrees', async function () {
    let r = await ipmi('power', 'status');
    assert.equal(r.stdout, 'Chassis Power is off\n', r.stderr);
    r = await ipmi('power', 'on');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await state(), 'running');
    assert.equal((await ipmi('power', 'status')).stdout, 'Chassis Power is on\n');
    assert.equal((await ipmi('power', 'reset')).code, 0);
    assert.equal(await state(), 'running');
    assert.equal((await ipmi('power', 'diag')).code, 0);
    r = await ipmi('power', 'cycle');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'Chassis Power Control: Cycle');
    assert.equal(await state(), 'running');
    r = await ipmi('chassis', 'status');
    assert.match(r.stdout, /System Power\s+: on/);
    r = await ipmi('power', 'soft');
    assert.equal(r.code, 0, r.stderr);
    r = await ipmi('power', 'off');
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the domain to be shut off', async () => (await state()) === 'shut off');
  });

  it('applies a persistent boot device to the definition, and a one-time one only once', async function () {
    let r = await ipmi('chassis', 'bootdev', 'disk', 'options=persistent');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await firstBoot(), 'hd');
    r = await ipmi('chassis', 'bootparam', 'get', '5');
    assert.match(r.stdout, /Options apply to all future boots/);
    assert.match(r.stdout, /Force Boot from default Hard-Drive/);

    r = await ipmi('chassis', 'bootdev', 'pxe');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await firstBoot(), 'network', 'the next power-on boots from the network');
    assert.match((await ipmi('chassis', 'bootparam', 'get', '5')).stdout, /Options apply to only next boot/);
    assert.equal((await ipmi('power', 'on')).code, 0);
    await waitFor('the one-time boot device to be used up', async () => (await firstBoot()) === 'hd');
    assert.equal((await ipmi('power', 'off')).code, 0);

    // Ironic's UEFI-style raw form sets PXE persistently.
    r = await ipmi('raw', '0x00', '0x08', '0x05', '0xe0', '0x04', '0x00', '0x00', '0x00');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await firstBoot(), 'network');
  });

  it('keeps the BMC up across an unchanged ensure and an agent restart', async function () {
    const again = await client.ensure(spec());
    assert.equal(again.changed, false, again.changes.join('; '));
    assert.equal(again.node?.bmc?.ipmi?.port, port);
    await agent.daemon.stop(2000);
    const previous = agent;
    replaced.push(previous.dir);
    agent = await startTestAgent({
      libvirt_uri: URI,
      storage: { pool_name: pool, pool_path: previous.config.storage.poolPath },
      state_dir: previous.config.stateDir,
    });
    client.close();
    client = new AgentClient(agent.address);
    const r = await ipmi('power', 'status');
    assert.equal(r.stdout, 'Chassis Power is off\n', r.stderr);
    assert.equal((await client.ensure(spec())).node?.bmc?.ipmi?.port, port);
  });

  it('refuses a wrong password and a USER-level power off', async function () {
    const wrong = await ipmitool([
      '-I',
      'lanplus',
      '-H',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'admin',
      '-P',
      'nope',
      'power',
      'status',
    ]);
    assert.match(wrong.stderr, /Unable to establish IPMI v2 \/ RMCP\+ session/);
    await ipmi('power', 'on');
    const off = await ipmi('-L', 'USER', 'power', 'off');
    assert.notEqual(off.code, 0);
    assert.equal(await state(), 'running');
    await ipmi('power', 'off');
  });

  it('stops the BMC with the node', async function () {
    const del = await client.delete({ cluster, name });
    assert.ok(del.removed.includes('BMC'));
    const r = await ipmitool([...base, '-R', '1', '-N', '1', 'power', 'status'], 20_000);
    assert.notEqual(r.code, 0);
  });
});
