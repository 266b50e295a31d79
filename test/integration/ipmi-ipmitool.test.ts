/**
 * The IPMI BMC engine over real UDP on loopback, driven by the real ipmitool (lanplus), with an
 * in-memory backend standing in for libvirt (the system tests use real domains).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BmcBackend, BmcBootDevice, BmcInventory, BmcPowerAction } from '../../agent/bmc/backend.js';
import { IpmiBmc } from '../../agent/bmc/ipmi/bmc.js';
import { listenIpmi, type IpmiListener } from '../../agent/bmc/ipmi/server.js';
import { Privilege } from '../../agent/bmc/ipmi/session.js';
import type { BootDevice } from '../../agent/compute/index.js';
import { nullLogger } from '../../common/index.js';
import { Rng } from '../../bench/fuzz-rng.js';

/**
 * The fuzz test's seed: `TENKS_TEST_SEED` when set (to replay a failed run), else a new one each
 * run; printed either way.
 */
function fuzzSeed(): number {
  const given = process.env.TENKS_TEST_SEED;
  if (given === undefined || given === '') return randomInt(2 ** 32);
  const seed = Number(given);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new Error(`TENKS_TEST_SEED must be an integer from 0 to 4294967295, not '${given}'`);
  return seed;
}

/** Records what the BMC asked of the host. */
class MemoryBackend implements BmcBackend {
  on = false;
  boot: BmcBootDevice = { device: 'network', persistent: true, uefi: false };
  readonly actions: BmcPowerAction[] = [];
  powerState(): Promise<'on' | 'off'> {
    return Promise.resolve(this.on ? 'on' : 'off');
  }
  power(_uuid: string, action: BmcPowerAction): Promise<void> {
    this.actions.push(action);
    if (action === 'on' || action === 'cycle') this.on = true;
    if (action === 'off' || action === 'soft_off') this.on = false;
    return Promise.resolve();
  }
  bootDevice(): Promise<BmcBootDevice> {
    return Promise.resolve(this.boot);
  }
  setBootDevice(_uuid: string, device: BootDevice, persistent: boolean): Promise<void> {
    this.boot = { ...this.boot, device, persistent };
    return Promise.resolve();
  }
  node: BmcInventory = { name: 'tk7', arch: 'aarch64' };
  inventory(): Promise<BmcInventory> {
    return Promise.resolve(this.node);
  }
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function ipmitool(args: string[], timeoutMs = 30_000): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile('ipmitool', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('IPMI BMC with the real ipmitool (lanplus, loopback)', function () {
  const password = randomBytes(6).toString('hex');
  let backend: MemoryBackend;
  let bmc: IpmiBmc;
  let listener: IpmiListener;
  let dir = '';
  let base: string[] = [];

  before(async function () {
    backend = new MemoryBackend();
    bmc = new IpmiBmc(
      '00000000-0000-0000-0000-000000000001',
      { username: 'admin', password, maxPrivilege: Privilege.ADMINISTRATOR },
      backend,
    );
    listener = await listenIpmi(bmc, '127.0.0.1', 0, nullLogger);
    dir = await mkdtemp(join(tmpdir(), 'tenks-ipmi-'));
    base = ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(listener.port), '-U', 'admin', '-P', password];
  });

  after(async function () {
    await listener.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const suite of ['3', '17', null] as const) {
    it(`reads power status with ${suite === null ? 'the negotiated suite' : `cipher suite ${suite}`}`, async function () {
      backend.on = false;
      const r = await ipmitool([...base, ...(suite ? ['-C', suite] : []), 'power', 'status']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'Chassis Power is off\n');
    });
  }

  it('negotiates suite 17 when no -C is given', async function () {
    const r = await ipmitool([...base, '-vvv', 'power', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /cipher suite 17/i);
  });

  it('powers on, off, soft, resets, pulses NMI and cycles', async function () {
    const expect: [string, string, BmcPowerAction][] = [
      ['on', 'Chassis Power Control: Up/On', 'on'],
      ['reset', 'Chassis Power Control: Reset', 'reset'],
      ['diag', 'Chassis Power Control: Diag', 'nmi'],
      ['cycle', 'Chassis Power Control: Cycle', 'cycle'],
      ['soft', 'Chassis Power Control: Soft', 'soft_off'],
      ['off', 'Chassis Power Control: Down/Off', 'off'],
    ];
    for (const [cmd, out, action] of expect) {
      backend.actions.length = 0;
      const r = await ipmitool([...base, 'power', cmd]);
      assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), out);
      assert.deepEqual(backend.actions, [action], `${cmd} executed once`);
    }
    backend.on = true;
    const status = await ipmitool([...base, 'chassis', 'status']);
    assert.match(status.stdout, /System Power\s+: on/);
  });

  it('sets and reads boot devices, persistent and once, legacy and EFI', async function () {
    let r = await ipmitool([...base, 'chassis', 'bootdev', 'pxe']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(backend.boot, { device: 'network', persistent: false, uefi: false });
    r = await ipmitool([...base, 'chassis', 'bootdev', 'disk', 'options=persistent']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(backend.boot.device, 'disk');
    assert.equal(backend.boot.persistent, true);
    r = await ipmitool([...base, 'chassis', 'bootparam', 'get', '5']);
    assert.match(r.stdout, /Boot Device Selector : Force Boot from default Hard-Drive/);
    assert.match(r.stdout, /Options apply to all future boots/);
    r = await ipmitool([...base, 'chassis', 'bootdev', 'cdrom']);
    assert.equal(backend.boot.device, 'cdrom');
    // Ironic's UEFI form.
    r = await ipmitool([...base, 'raw', '0x00', '0x08', '0x03', '0x08']);
    assert.equal(r.code, 0, r.stderr);
    r = await ipmitool([...base, 'raw', '0x00', '0x08', '0x05', '0xe0', '0x04', '0x00', '0x00', '0x00']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([backend.boot.device, backend.boot.persistent], ['network', true]);
    const unsupported = await ipmitool([...base, 'chassis', 'bootparam', 'get', '0']);
    assert.notEqual(unsupported.code, 0);
  });

  it("answers Ironic's exact command form with a password file", async function () {
    const pw = join(dir, 'pw');
    await writeFile(pw, password, { mode: 0o600 });
    backend.on = false;
    const r = await ipmitool([
      '-I',
      'lanplus',
      '-H',
      '127.0.0.1',
      '-L',
      'ADMINISTRATOR',
      '-p',
      String(listener.port),
      '-U',
      'admin',
      '-R',
      '1',
      '-N',
      '5',
      '-f',
      pw,
      'power',
      'status',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Chassis Power is off\n');
  });

  it('reports mc info and refuses unknown commands cleanly', async function () {
    const mc = await ipmitool([...base, 'mc', 'info']);
    assert.equal(mc.code, 0, mc.stderr);
    assert.match(mc.stdout, /IPMI Version\s+: 2\.0/);
    assert.match(mc.stdout, /Device Available\s+: yes/);
    const sdr = await ipmitool([...base, 'sdr', 'list']);
    assert.notEqual(sdr.code, 0);
  });

  it('serves the FRU inventory, with the CPU architecture as a product field', async function () {
    const fru = await ipmitool([...base, 'fru', 'print', '0']);
    assert.equal(fru.code, 0, fru.stderr);
    assert.match(fru.stdout, /Product Manufacturer\s+: tenks/);
    assert.match(fru.stdout, /Product Name\s+: virtual bare metal \(libvirt\/QEMU\)/);
    assert.match(fru.stdout, /Product Serial\s+: 00000000-0000-0000-0000-000000000001/);
    assert.match(fru.stdout, /Product Asset Tag\s+: tk7/);
    assert.match(fru.stdout, /Product Extra\s+: cpu_arch=aarch64/);
    backend.node = { name: 'tk7', arch: 'x86_64' };
    const x86 = await ipmitool([...base, 'fru', 'print', '0']);
    assert.match(x86.stdout, /Product Extra\s+: cpu_arch=x86_64/);
    // Every FRU device: ours, then the SDR repository's locators (there is no SDR repository).
    const all = await ipmitool([...base, 'fru', 'print']);
    assert.match(all.stdout, /Builtin FRU Device \(ID 0\)[\s\S]*cpu_arch=x86_64/);
    const other = await ipmitool([...base, 'fru', 'print', '1']);
    assert.doesNotMatch(other.stdout, /cpu_arch/);
    const bin = join(dir, 'fru.bin');
    const read = await ipmitool([...base, 'fru', 'read', '0', bin]);
    assert.equal(read.code, 0, read.stderr);
  });

  it('fails fast on a wrong password and on an unknown user', async function () {
    const wrong = await ipmitool([
      '-I',
      'lanplus',
      '-H',
      '127.0.0.1',
      '-p',
      String(listener.port),
      '-U',
      'admin',
      '-P',
      'wrong',
      'power',
      'status',
    ]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Unable to establish IPMI v2 \/ RMCP\+ session/);
    assert.ok(wrong.ms < 5000, `wrong password took ${wrong.ms} ms`);
    const nobody = await ipmitool([
      '-I',
      'lanplus',
      '-H',
      '127.0.0.1',
      '-p',
      String(listener.port),
      '-U',
      'nobody',
      '-P',
      password,
      'power',
      'status',
    ]);
    assert.notEqual(nobody.code, 0);
    assert.ok(nobody.ms < 5000, `unknown user took ${nobody.ms} ms (RAKP2 must answer 'unauthorized name' at once)`);
  });

  it('enforces privileges: a USER session can read but not power off', async function () {
    backend.on = true;
    backend.actions.length = 0;
    const read = await ipmitool([...base, '-L', 'USER', 'power', 'status']);
    assert.equal(read.code, 0, read.stderr);
    const off = await ipmitool([...base, '-L', 'USER', 'power', 'off']);
    assert.notEqual(off.code, 0);
    assert.deepEqual(backend.actions, []);
    const op = await ipmitool([...base, '-L', 'OPERATOR', 'power', 'status']);
    assert.equal(op.code, 0, op.stderr);
  });

  it('frees sessions: closed sessions leave the table', async function () {
    const before = bmc.sessions.size;
    for (let i = 0; i < 5; i++) assert.equal((await ipmitool([...base, 'power', 'status'])).code, 0);
    assert.equal(bmc.sessions.size, before, 'every ipmitool run closes its session');
  });

  it('survives thousands of random and mutated packets, then still answers ipmitool', async function () {
    const seed = fuzzSeed();
    const replay = `seed ${seed}: TENKS_TEST_SEED=${seed} replays this run`;
    console.log(`      IPMI fuzz ${replay}`);
    const rng = new Rng(seed, 'ipmi-ipmitool');
    const { createSocket } = await import('node:dgram');
    const sock = createSocket('udp4');
    const captured = [
      Buffer.from('0600ff0700000000000000000000092018c88100388e04b5', 'hex'),
      Buffer.from(
        '0600ff07061000000000000000002000000000a4a3a2a000000008030000000100000804000000020000080100000000',
        'hex',
      ),
      Buffer.from(
        '0600ff07061200000000000000002100000000a9e34456d2a47464418925bca9f2f11afd9189ae1400000561646d696e',
        'hex',
      ),
      Buffer.from(
        '0600ff0706c0a9e344560300000020004286d642997d628efc160554dcbc1b6dd317e44ccc848cafa716c668a003a4c4ffff0207',
        'hex',
      ),
    ];
    const before = { ...bmc.stats.dropped };
    const receivedBefore = bmc.stats.received;
    const send = (b: Buffer): Promise<void> =>
      new Promise((resolve) => {
        sock.send(b, listener.port, '127.0.0.1', () => {
          resolve();
        });
      });
    for (let i = 0; i < 5000; i++) {
      let b: Buffer;
      if (i % 2 === 0) b = rng.bytes(rng.int(120));
      else {
        const packet = captured[i % captured.length] ?? Buffer.alloc(0);
        b = Buffer.from(packet.subarray(0, rng.int(packet.length + 1)));
        for (let k = 0; k < 3; k++) if (b.length > 0) b[rng.int(b.length)] = rng.int(256);
      }
      await send(b);
      // Let the BMC keep up, as a real flood would be paced by the network.
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    sock.close();
    await new Promise((r) => setTimeout(r, 200));
    const dropped =
      Object.values(bmc.stats.dropped).reduce((a, b) => a + b, 0) - Object.values(before).reduce((a, b) => a + b, 0);
    const received = bmc.stats.received - receivedBefore;
    assert.ok(received > 1000, `the BMC received the packets (${received}; ${replay})`);
    assert.ok(
      dropped > received * 0.9,
      `malformed packets are counted as dropped (${dropped} of ${received}; ${replay})`,
    );
    const r = await ipmitool([...base, 'power', 'status']);
    assert.equal(r.code, 0, `${r.stderr} (${replay})`);
  });
});
