/**
 * The agent as a real child process on the real libvirtd (`qemu:///system`, QEMU TCG here), over mTLS:
 * nodes with blank and image volumes, power, idempotence, UEFI NVRAM, lifecycle events, bad input, SIGTERM.
 */
import assert from 'node:assert/strict';
import { access, chmod, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { TenksError } from '../../common/errors.js';
import { NodeEventType, type WatchEventsResponse } from '../../proto/gen/tenks/v1/agent.pb.js';
import { BootMode, PowerAction, PowerState, type NodeSpec } from '../../proto/gen/tenks/v1/types.pb.js';
import { AgentClient, nodeSpec, volume } from '../helpers/agent.js';
import {
  AgentProcess,
  cleanupLibvirt,
  clientCredentials,
  domainNames,
  domState,
  makeCerts,
  run,
  SERVER_NAME,
  SYSTEM_URI,
  suffix,
  virsh,
  volumeNames,
  waitUntil,
} from './helpers.js';

const MiB = 1024 ** 2;
const GRACE_S = 10;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Collects the events of a WatchEvents stream and lets a test wait for one. */
class EventWatch {
  readonly events: WatchEventsResponse[] = [];
  error: Error | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly stream: ClientReadableStream<WatchEventsResponse>) {
    stream.on('data', (e: WatchEventsResponse) => {
      this.events.push(e);
      this.notify();
    });
    stream.on('error', (e: Error) => {
      this.error = e;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  has(name: string, type: NodeEventType): boolean {
    return this.events.some((e) => e.name === name && e.type === type);
  }

  async waitFor(name: string, type: NodeEventType, timeoutMs: number): Promise<WatchEventsResponse> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e.name === name && e.type === type);
      if (found) return found;
      if (this.error) throw this.error;
      const left = end - Date.now();
      if (left <= 0)
        assert.fail(
          `no ${NodeEventType[type]} event for ${name} within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  cancel(): void {
    this.stream.cancel();
  }
}

describe('tenks-agent on qemu:///system (child process, mTLS)', function () {
  const run_ = suffix();
  const pool = `tenks-sys-${run_}`;
  const cluster = `sys-${run_}`;
  /** Every domain of this run has this in its name, so cleanup finds leftovers. */
  const tag = `tsys-${run_}`;
  const bios = [0, 1, 2].map((i) => `${tag}-bios${i}`);
  const uefi = `${tag}-uefi`;
  let dir = '';
  let image = '';
  let agent: AgentProcess | undefined;
  let client: AgentClient | undefined;
  const watches: EventWatch[] = [];

  const c = (): AgentClient => {
    assert.ok(client, 'no client');
    return client;
  };
  const biosSpec = (name: string): NodeSpec =>
    nodeSpec({
      cluster,
      name,
      memoryMb: 128,
      vcpus: 1,
      bootMode: BootMode.BOOT_MODE_BIOS,
      volumes: [volume({ capacity: '1GiB' }), volume({ image, capacity: '128MiB' })],
    });

  before(async function () {
    this.timeout(120_000);
    dir = await mkdtemp(join(tmpdir(), 'tenks-sys-'));
    // QEMU runs as an unprivileged user: it must be able to reach the volumes under this directory.
    await chmod(dir, 0o755);
    const certs = join(dir, 'certs');
    await makeCerts(certs, 'agent', 'client');
    await mkdir(join(dir, 'images'));
    image = join(dir, 'images', 'base.qcow2');
    await run('qemu-img', ['create', '-f', 'qcow2', image, '64M']);
    agent = await AgentProcess.spawn(join(dir, 'agent.yaml'), {
      agent_id: `sys-${run_}`,
      listen: '127.0.0.1:0',
      tls: {
        ca_file: join(certs, 'ca.pem'),
        cert_file: join(certs, 'agent.pem'),
        key_file: join(certs, 'agent-key.pem'),
      },
      libvirt_uri: SYSTEM_URI,
      storage: { pool_name: pool, pool_path: join(dir, 'pool') },
      log_directory: join(dir, 'log'),
      state_dir: join(dir, 'state'),
      allowed_image_dirs: [join(dir, 'images')],
      bmc: { listen_address: '127.0.0.1', ipmi_port_range_start: 0, ipmi_port_range_end: 0, redfish_port: 0 },
      shutdown_grace_s: GRACE_S,
    });
    const listening = await agent.waitForLine((l) => l.message === 'grpc listening', 60_000);
    assert.ok(typeof listening.port === 'number' && listening.port > 0, JSON.stringify(listening));
    assert.equal(listening.tls, true);
    client = new AgentClient(`127.0.0.1:${listening.port}`, await clientCredentials(certs), SERVER_NAME);
  });

  after(async function () {
    this.timeout(120_000);
    for (const w of watches) w.cancel();
    client?.close();
    await agent?.kill();
    const leftovers = await cleanupLibvirt({ domainPart: tag, pool });
    if (leftovers.some((l) => l.startsWith('domain')))
      console.log(`      cleaned up leftovers: ${leftovers.join(', ')}`);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports the host over mTLS', async function () {
    const { host } = await c().hostInfo();
    assert.equal(host?.engine, 'qemu');
    assert.equal(host.libvirtUri, SYSTEM_URI);
    assert.equal(host.pool?.name, pool);
    assert.equal(host.pool.path, join(dir, 'pool'));
    assert.ok(host.uefiAvailable, 'OVMF should be available for the UEFI test');
  });

  it('creates three BIOS nodes with a blank and an image volume each', async function () {
    const results = await Promise.all(bios.map((n) => c().ensure(biosSpec(n), 120_000)));
    for (const r of results) assert.equal(r.changed, true);
    const all = await domainNames();
    for (const n of bios) {
      assert.ok(all.includes(n), `domain ${n} missing: ${all.join(', ')}`);
      const xml = await virsh('dumpxml', n);
      assert.match(xml, /<domain type='qemu'/);
      assert.match(xml, new RegExp(`<source pool='${pool}' volume='${n}-vol0'/>`));
      assert.match(xml, new RegExp(`<source pool='${pool}' volume='${n}-vol1'/>`));
    }
    const vols = await volumeNames(pool);
    assert.deepEqual(vols, bios.flatMap((n) => [`${n}-vol0`, `${n}-vol1`]).sort());
    for (const n of bios) {
      const info = await virsh('vol-info', '--pool', pool, `${n}-vol1`, '--bytes');
      assert.match(info, new RegExp(`Capacity:\\s+${128 * MiB} bytes`), info);
      const blank = await virsh('vol-info', '--pool', pool, `${n}-vol0`, '--bytes');
      assert.match(blank, new RegExp(`Capacity:\\s+${1024 * MiB} bytes`), blank);
      const img = JSON.parse(
        await run('qemu-img', ['info', '--output=json', '-U', join(dir, 'pool', `${n}-vol1`)]),
      ) as { format: string; 'virtual-size': number };
      assert.equal(img.format, 'qcow2');
      assert.equal(img['virtual-size'], 128 * MiB);
    }
  });

  it('powers the nodes on, resets one, powers them off', async function () {
    for (const n of bios) {
      const r = await c().power({ cluster, name: n }, PowerAction.POWER_ACTION_ON);
      assert.equal(r.powerState, PowerState.POWER_STATE_ON);
    }
    for (const n of bios) assert.equal(await domState(n), 'running');
    const reset = await c().power({ cluster, name: bios[0]! }, PowerAction.POWER_ACTION_RESET);
    assert.equal(reset.powerState, PowerState.POWER_STATE_ON);
    assert.equal(await domState(bios[0]!), 'running');
    for (const n of bios) {
      const r = await c().power({ cluster, name: n }, PowerAction.POWER_ACTION_OFF);
      assert.equal(r.powerState, PowerState.POWER_STATE_OFF);
      assert.equal(r.changed, true);
    }
    for (const n of bios) assert.equal(await domState(n), 'shut off');
  });

  it('finds nothing to change on a second ensure', async function () {
    const results = await Promise.all(bios.map((n) => c().ensure(biosSpec(n), 120_000)));
    for (const r of results) {
      assert.equal(r.changed, false, `changes: ${JSON.stringify(r.changes)}`);
      assert.deepEqual(r.changes, []);
    }
    const listed = await c().list(cluster);
    assert.deepEqual(
      listed.nodes.map((n) => n.name),
      [...bios].sort(),
    );
  });

  it('deletes the three nodes with their volumes', async function () {
    for (const n of bios) {
      const r = await c().delete({ cluster, name: n });
      assert.equal(r.existed, true);
    }
    const all = await domainNames();
    for (const n of bios) assert.ok(!all.includes(n), `domain ${n} still defined`);
    assert.deepEqual(await volumeNames(pool), []);
  });

  it('creates, starts, stops and deletes a UEFI node, with its NVRAM', async function () {
    const spec = nodeSpec({
      cluster,
      name: uefi,
      memoryMb: 256,
      bootMode: BootMode.BOOT_MODE_UEFI,
      volumes: [volume({ capacity: '1GiB' })],
    });
    const r = await c().ensure(spec, 120_000);
    assert.equal(r.node?.machine, 'q35');
    assert.equal(r.node.bootMode, BootMode.BOOT_MODE_UEFI);
    await c().power({ cluster, name: uefi }, PowerAction.POWER_ACTION_ON);
    assert.equal(await domState(uefi), 'running');
    const xml = await virsh('dumpxml', uefi);
    assert.match(xml, /machine='pc-q35/);
    const nvram = /<nvram\b[^>]*>([^<]+)<\/nvram>/.exec(xml)?.[1];
    assert.ok(nvram, `no <nvram> in the domain XML:\n${xml}`);
    assert.ok(await exists(nvram), `NVRAM file ${nvram} does not exist`);
    await c().power({ cluster, name: uefi }, PowerAction.POWER_ACTION_OFF);
    assert.equal(await domState(uefi), 'shut off');
    const del = await c().delete({ cluster, name: uefi });
    assert.equal(del.existed, true);
    assert.ok(!(await domainNames()).includes(uefi), 'UEFI domain still defined');
    assert.equal(await exists(nvram), false, `NVRAM file ${nvram} left behind`);
    assert.deepEqual(await volumeNames(pool), []);
  });

  it('switches a stopped UEFI node to BIOS in place, removing its NVRAM', async function () {
    const name = `${tag}-switch`;
    const spec = (bootMode: BootMode) =>
      nodeSpec({ cluster, name, memoryMb: 256, bootMode, volumes: [volume({ capacity: '64MiB' })] });
    const first = await c().ensure(spec(BootMode.BOOT_MODE_UEFI), 120_000);
    await c().power({ cluster, name }, PowerAction.POWER_ACTION_ON);
    const nvram = /<nvram\b[^>]*>([^<]+)<\/nvram>/.exec(await virsh('dumpxml', name))?.[1];
    assert.ok(nvram && (await exists(nvram)), 'the running UEFI node has an NVRAM file');
    await c().power({ cluster, name }, PowerAction.POWER_ACTION_OFF);
    const second = await c().ensure(spec(BootMode.BOOT_MODE_BIOS), 120_000);
    assert.equal(second.changed, true);
    assert.ok(
      second.changes.some((x) => x.includes('boot_mode')),
      second.changes.join('; '),
    );
    assert.equal(second.node?.uuid, first.node?.uuid, 'same UUID after the switch');
    assert.equal(second.node?.bootMode, BootMode.BOOT_MODE_BIOS);
    assert.doesNotMatch(await virsh('dumpxml', '--inactive', name), /firmware='efi'|<nvram/);
    assert.equal(await exists(nvram), false, `NVRAM file ${nvram} left behind by the switch`);
    const del = await c().delete({ cluster, name });
    assert.equal(del.existed, true);
  });

  it('streams STARTED and STOPPED events of a node', async function () {
    const name = `${tag}-events`;
    const spec = (probe: number): NodeSpec => ({
      ...nodeSpec({ cluster, name, volumes: [volume({ capacity: '64MiB' })] }),
      labels: { probe: String(probe) },
    });
    const watch = new EventWatch(c().raw.watchEvents({ cluster }));
    watches.push(watch);
    try {
      // The stream has no greeting: redefine the node (a label change) until its DEFINED event shows the watch is live.
      let probe = 0;
      await waitUntil(
        'the event stream to deliver a DEFINED event',
        async () => {
          await c().ensure(spec(probe++), 60_000);
          await new Promise((r) => setTimeout(r, 300));
          return watch.has(name, NodeEventType.NODE_EVENT_TYPE_DEFINED);
        },
        30_000,
      );
      await c().power({ cluster, name }, PowerAction.POWER_ACTION_ON);
      const started = await watch.waitFor(name, NodeEventType.NODE_EVENT_TYPE_STARTED, 20_000);
      assert.equal(started.cluster, cluster);
      assert.equal(started.powerState, PowerState.POWER_STATE_ON);
      await c().power({ cluster, name }, PowerAction.POWER_ACTION_OFF);
      const stopped = await watch.waitFor(name, NodeEventType.NODE_EVENT_TYPE_STOPPED, 20_000);
      assert.equal(stopped.powerState, PowerState.POWER_STATE_OFF);
      assert.equal(stopped.uuid, started.uuid);
      assert.ok(stopped.timeUnixMs >= started.timeUnixMs);
      assert.ok(
        watch.events.every((e) => e.cluster === cluster),
        'only events of the watched cluster',
      );
    } finally {
      watch.cancel();
      await c()
        .delete({ cluster, name })
        .catch(() => undefined);
    }
    assert.ok(!(await domainNames()).includes(name));
  });

  it('refuses an image that does not exist, creating nothing', async function () {
    const name = `${tag}-bad`;
    const err = await c()
      .ensure(
        nodeSpec({
          cluster,
          name,
          volumes: [
            volume({ capacity: '1GiB' }),
            volume({ image: join(dir, 'images', 'no-such.qcow2'), capacity: '1GiB' }),
          ],
        }),
        60_000,
      )
      .then(
        () => assert.fail('the ensure succeeded'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof TenksError, String(err));
    assert.equal(err.code, 'INVALID_SPEC');
    assert.ok(
      err.details.some((d) => d.field === 'node.volumes[1].image'),
      JSON.stringify(err.details),
    );
    assert.ok(!(await domainNames()).includes(name), 'a domain was defined');
    assert.deepEqual(await volumeNames(pool), []);
    assert.equal((await c().list(cluster)).nodes.length, 0);
  });

  it('refuses host files outside allowed_image_dirs (PERMISSION), through a symlink too, creating nothing', async function () {
    const name = `${tag}-escape`;
    const link = join(dir, 'images', 'escape.qcow2');
    await symlink('/etc/shadow', link);
    try {
      for (const [vol, field] of [
        [volume({ image: '/etc/shadow', capacity: '1GiB' }), 'node.volumes[1].image'],
        [volume({ image: link, capacity: '1GiB' }), 'node.volumes[1].image'],
        [volume({ existing: '/dev/sda' }), 'node.volumes[1].existing'],
      ] as const) {
        const err = await c()
          .ensure(nodeSpec({ cluster, name, volumes: [volume({ capacity: '1GiB' }), vol] }), 60_000)
          .then(
            () => assert.fail('the ensure succeeded'),
            (e: unknown) => e,
          );
        assert.ok(err instanceof TenksError, String(err));
        assert.equal(err.code, 'PERMISSION', err.message);
        assert.equal(err.field, field);
        assert.ok(err.message.includes(join(dir, 'images')), err.message);
      }
    } finally {
      await rm(link, { force: true });
    }
    assert.ok(!(await domainNames()).includes(name), 'a domain was defined');
    assert.deepEqual(await volumeNames(pool), []);
    assert.equal((await c().list(cluster)).nodes.length, 0);
  });

  it("honours upstream's libvirt-vm settings: forced TCG, emulator template, console log dir and owner, clock, no <cpu>", async function () {
    this.timeout(180_000);
    const name = `${tag}-kayobe`;
    const logs = join(dir, 'kolla', 'tenks');
    const spec = nodeSpec({
      cluster,
      name,
      memoryMb: 128,
      vcpus: 1,
      bootMode: BootMode.BOOT_MODE_BIOS,
      volumes: [volume({ capacity: '64MiB' })],
      consoleLogEnabled: true,
      // Kayobe's dev configuration, verbatim: rendered with this host's facts by the agent.
      emulator:
        "{% if ansible_facts.os_family == 'RedHat' %}/usr/libexec/qemu-kvm{% else %}/usr/bin/qemu-system-x86_64{% endif %}",
      engine: 'qemu',
      consoleLogDir: logs,
      consoleLogOwner: '42436',
      clockOffset: 'localtime',
      cpuMode: 'none',
    });
    const r = await c().ensure(spec, 120_000);
    assert.equal(r.changed, true);
    const xml = await virsh('dumpxml', name);
    assert.match(xml, /<domain type='qemu'/);
    assert.match(xml, /<emulator>\/usr\/bin\/qemu-system-x86_64<\/emulator>/);
    assert.match(xml, /<clock offset='localtime'\/>/);
    // No <cpu> element was given: libvirt records QEMU's own default CPU, never a mode of ours.
    assert.doesNotMatch(xml, /<cpu mode='(host-model|host-passthrough|maximum)'/);
    assert.match(xml, new RegExp(`<log file='${join(logs, `${name}-console.log`)}'`));
    const st = await stat(logs);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [42436, 42436, 0o770]);
    assert.equal(r.node?.consoleLogPath, join(logs, `${name}-console.log`));

    await c().power({ cluster, name }, PowerAction.POWER_ACTION_ON);
    await waitUntil('the console log is written', () => exists(join(logs, `${name}-console.log`)), 60_000);
    await c().power({ cluster, name }, PowerAction.POWER_ACTION_OFF);
    const again = await c().ensure(spec, 120_000);
    assert.equal(again.changed, false, JSON.stringify(again.changes));
    await c().delete({ cluster, name });
    assert.ok(!(await domainNames()).includes(name));
  });

  it('refuses an emulator the host does not have and KVM on a TCG host, naming the fields, creating nothing', async function () {
    const name = `${tag}-noemu`;
    const err = await c()
      .ensure(
        nodeSpec({
          cluster,
          name,
          engine: 'kvm',
          emulator: '/usr/libexec/qemu-kvm',
          volumes: [volume({ capacity: '64MiB' })],
        }),
        60_000,
      )
      .then(
        () => assert.fail('the ensure succeeded'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof TenksError, String(err));
    assert.equal(err.code, 'INVALID_SPEC');
    assert.deepEqual(err.details.map((d) => d.field).sort(), ['node.emulator', 'node.engine']);
    assert.match(err.details.find((d) => d.field === 'node.emulator')?.message ?? '', /qemu-kvm.*not an executable/);
    assert.ok(!(await domainNames()).includes(name), 'a domain was defined');
  });

  it("refuses a TLS key that is not its certificate's before touching the host (exit 2)", async function () {
    this.timeout(60_000);
    const certs = join(dir, 'certs');
    const badPool = `tenks-sysbad-${run_}`;
    const logDir = join(dir, 'log-bad');
    const stateDir = join(dir, 'state-bad');
    const bad = await AgentProcess.spawn(join(dir, 'agent-bad.yaml'), {
      agent_id: `sysbad-${run_}`,
      listen: '127.0.0.1:0',
      tls: {
        ca_file: join(certs, 'ca.pem'),
        cert_file: join(certs, 'agent.pem'),
        key_file: join(certs, 'client-key.pem'),
      },
      libvirt_uri: SYSTEM_URI,
      storage: { pool_name: badPool, pool_path: join(dir, 'pool-bad') },
      log_directory: logDir,
      state_dir: stateDir,
      bmc: { listen_address: '127.0.0.1', ipmi_port_range_start: 0, ipmi_port_range_end: 0, redfish_port: 0 },
    });
    try {
      const exit = await bad.exitStatus(30_000);
      assert.equal(exit.code, 2, bad.output());
      assert.ok(
        bad.stderr.some((l) => l.includes('tls.key_file') && l.includes('does not belong to the certificate')),
        bad.output(),
      );
      assert.deepEqual(bad.lines, [], 'nothing logged: libvirt, the network plane and the BMCs were never started');
      const pools = (await virsh('pool-list', '--all', '--name')).split('\n').map((l) => l.trim());
      assert.ok(!pools.includes(badPool), `pool ${badPool} was defined`);
      assert.equal(await exists(logDir), false, 'the log directory was not made');
      assert.equal(await exists(stateDir), false, 'the state directory was not made');
      assert.equal(await exists(join(dir, 'pool-bad')), false, 'the pool directory was not made');
    } finally {
      await bad.kill();
      await cleanupLibvirt({ domainPart: `sysbad-${run_}`, pool: badPool });
    }
  });

  it('exits 0 on SIGTERM within the grace period', async function () {
    assert.ok(agent);
    client?.close();
    client = undefined;
    const t0 = Date.now();
    const exit = await agent.stop('SIGTERM', (GRACE_S + 5) * 1000);
    assert.deepEqual(exit, { code: 0, signal: null }, agent.output());
    assert.ok(Date.now() - t0 < (GRACE_S + 5) * 1000);
    assert.ok(
      agent.lines.some((l) => l.message === 'agent stopped'),
      agent.output(),
    );
  });
});
