/**
 * bench:local — deploy, no-op re-apply and teardown of small clusters through `tenksctl`, against
 * a real local stack on qemu:///system, compared with upstream Tenks on this kind of machine.
 *
 *   npm run bench:local [-- --runs 3 --bridge-type openvswitch|linuxbridge]
 *
 * Setup (timed on its own, not part of the figures): a nats-server with JetStream, a
 * tenks-coordinator and a tenks-agent on qemu:///system, each its own process, talking mTLS
 * (certificates from deploy/make-certs.sh, as scripts/quickstart.sh makes them); a demo Linux
 * bridge as the physnet's device, under a tenks bridge of `--bridge-type` (default openvswitch, as
 * upstream Tenks and examples/quickstart.yaml); the agent's storage pool in the temp dir (mode
 * 711, so QEMU can read it); IPMI BMCs on 127.0.0.1 with OS-chosen ports (agent range start 0).
 * The physnet has a name of this run's own (the agent's tenks bridge is `tb-<physnet>`,
 * host-wide: a fixed name would collide with a quickstart or a system test running alongside), so
 * do node names and the pool. Ready once `tenksctl get agents -o json` shows the agent alive.

 * Timed, each `--runs` times with a fresh cluster name (median and every run reported), every
 * figure the wall clock of one `node bin/tenksctl.js ...` process from spawn to exit, as a user
 * runs it (config through TENKS_CONFIG, like the quickstart's /etc/tenks/tenksctl.yaml):
 * - `apply -f spec2.yaml`: 2 nodes (256 MiB, 1 vCPU, BIOS, one 1 GiB qcow2 volume, one NIC on the
 *   physnet, IPMI BMC), defined, not booted; then the same apply again (no-op); then
 *   `delete CLUSTER`;
 * - the same for 10 nodes (`apply -f spec10.yaml`, `delete`).
 * The spec sets `scheduler.cpu_allocation_ratio: 16`: 10 one-vCPU nodes on this 2-CPU host exceed
 * the default ratio of 4 (nodes are defined, not booted).
 * Each run is checked: exit status 0, the operation `succeeded` in `-o json` output, the no-op
 * has 0 actions, `virsh list --all` shows exactly the cluster's domains (shut off) after an apply
 * and none after its delete, when the pool holds no volume and the host no link of the physnet
 * either. `tenksctl_startup_s`: `tenksctl version`.
 * `*_op_s`: the same operations as the coordinator recorded them (started to finished), so the
 * rest of a figure is tenksctl's own start, connecting and following.
 *
 * Progress goes to stderr; the LAST stdout line is one JSON object. Everything started is stopped
 * and removed at the end, on failure and on Ctrl-C (processes, temp dir, domains, pool, bridges).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { silenceIpServerNameWarning } from '../common/index.js';
import { startAgent } from './lib-stack/agent.js';
import { startCoordinator } from './lib-stack/coordinator.js';
import type { Daemon } from './lib-stack/daemon.js';
import { median, round } from './lib-stack/figures.js';
import { startNats } from './lib-stack/nats.js';
import { makePki } from './lib-stack/pki.js';
import { CpuMeter, pidOf, statusMb } from './lib-stack/proc-stats.js';
import { run } from './lib-stack/run.js';
import { runBench, sayer } from './lib-stack/run-bench.js';
import { Stack, writeConfig } from './lib-stack/stack.js';
import { ensureBundle, tenksctl, type CtlRun } from './lib-stack/tenksctl.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'bridge-type': { type: 'string', default: 'openvswitch' },
  },
  strict: true,
});
const RUNS = Number(values.runs);
const BRIDGE_TYPE = values['bridge-type'];
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be an integer >= 1');
if (BRIDGE_TYPE !== 'linuxbridge' && BRIDGE_TYPE !== 'openvswitch')
  throw new Error('--bridge-type must be linuxbridge or openvswitch');

const URI = 'qemu:///system';
/** Upstream Tenks (Ansible) on this kind of machine, seconds. */
const UPSTREAM = { deploy_2_s: 45, noop_2_s: 44, teardown_2_s: 26, deploy_10_s: 71 };
const TARGETS = { deploy_2_s: 1, noop_2_s: 0.5, teardown_2_s: 0.5, deploy_10_s: 1.5 };

const say = sayer('bench:local');
const tag = randomBytes(3).toString('hex');
const physnet = `pn${tag}`;
const bridge = `tbl${tag}`;
const pool = `tenks-bl-${tag}`;
const agentId = `bench-local-${tag}`;
const password = randomBytes(6).toString('hex');

const virsh = (...args: string[]): Promise<string> => run('virsh', ['-q', '-c', URI, ...args]);
const lines = (s: string): string[] =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

/** Domain names (any state) starting with `prefix`. */
async function domains(prefix: string): Promise<string[]> {
  return lines(await virsh('list', '--all', '--name'))
    .filter((n) => n.startsWith(prefix))
    .sort();
}

/** Host links of this run's physnet (tenks bridges, node ports: marked in their alias), not the demo bridge. */
async function physnetLinks(): Promise<string[]> {
  const out: string[] = [];
  for (const l of lines(await run('ip', ['-o', 'link']).catch(() => ''))) {
    const name = l.split(':')[1]?.trim().split('@')[0];
    if (l.includes(physnet) && name !== undefined && name !== bridge) out.push(name);
  }
  return out;
}

/** Removes whatever this run left in libvirt and on the host (after a failure). Never throws. */
async function cleanupHost(): Promise<void> {
  for (const name of await domains(`bl${tag}-`).catch(() => [])) {
    await virsh('destroy', name).catch(() => undefined);
    await virsh('undefine', name, '--nvram')
      .catch(() => virsh('undefine', name))
      .catch(() => undefined);
    say(`cleanup: removed domain ${name}`);
  }
  if (lines(await virsh('pool-list', '--all', '--name').catch(() => '')).includes(pool)) {
    await virsh('pool-refresh', pool).catch(() => undefined);
    for (const l of lines(await virsh('vol-list', pool).catch(() => ''))) {
      const v = l.split(/\s+/)[0];
      if (v !== undefined) await virsh('vol-delete', '--pool', pool, v).catch(() => undefined);
    }
    await virsh('pool-destroy', pool).catch(() => undefined);
    await virsh('pool-undefine', pool).catch(() => undefined);
  }
  for (const name of await physnetLinks()) await run('ip', ['link', 'del', name]).catch(() => undefined);
  if (BRIDGE_TYPE === 'openvswitch')
    for (const br of lines(await run('ovs-vsctl', ['list-br']).catch(() => '')))
      if (br.includes(physnet)) await run('ovs-vsctl', ['--if-exists', 'del-br', br]).catch(() => undefined);
  await run('ip', ['link', 'del', bridge]).catch(() => undefined);
}

function spec(cluster: string, count: number, prefix: string): string {
  return stringify({
    name: cluster,
    bridge_type: BRIDGE_TYPE,
    physnet_mappings: { [physnet]: bridge },
    default_ironic_driver: 'ipmi',
    default_boot_mode: 'bios',
    ipmi_username: 'admin',
    ipmi_password: password,
    node_types: {
      small: { memory_mb: 256, vcpus: 1, volumes: [{ capacity: '1GiB' }], physical_networks: [physnet] },
    },
    specs: [{ type: 'small', count, node_name_prefix: prefix }],
    // 10 one-vCPU nodes on 2 host CPUs need more than the default ratio of 4 (nodes are not booted).
    scheduler: { cpu_allocation_ratio: 16 },
  });
}

/** What one timed tenksctl operation did, from its `-o json` output. */
interface OpRun {
  s: number;
  op_s: number | null;
  actions: number;
  bundle: boolean;
}

function parseOp(r: CtlRun, what: string): { state: string; actions: number; opS: number | null } {
  if (r.code !== 0) throw new Error(`${what}: tenksctl exited ${String(r.code)}\n${r.stderr}\n${r.stdout}`);
  let op: { state?: string; actions_total?: number; started_unix_ms?: number; finished_unix_ms?: number };
  try {
    op = JSON.parse(r.stdout) as typeof op;
  } catch {
    throw new Error(`${what}: tenksctl -o json printed no JSON:\n${r.stdout}\n${r.stderr}`);
  }
  if (op.state !== 'succeeded') throw new Error(`${what}: operation ${String(op.state)}:\n${r.stdout}`);
  const started = op.started_unix_ms ?? 0;
  const finished = op.finished_unix_ms ?? 0;
  return {
    state: op.state,
    actions: op.actions_total ?? 0,
    opS: started > 0 && finished >= started ? (finished - started) / 1000 : null,
  };
}

silenceIpServerNameWarning();
const stack = await Stack.create('tenks-bench-local-');
stack.closeOnSignals(say);
const result: Record<string, unknown> = {
  libvirt_uri: URI,
  repeat: RUNS,
  bridge_type: BRIDGE_TYPE,
  transport: 'mTLS (deploy/make-certs.sh) on 127.0.0.1',
  upstream_tenks_s: UPSTREAM,
  targets_s: TARGETS,
};
await runBench(stack, say, result, async () => {
  say('npm run --silent build (dist/tenksctl.cjs, so tenksctl starts from the bundle)');
  await run('npm', ['run', '--silent', 'build'], 120_000);

  // ---- Setup (not part of the figures).
  const t0 = performance.now();
  stack.onCleanup('libvirt and host leftovers', cleanupHost);
  await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await run('ip', ['link', 'set', bridge, 'up']);
  const pki = await makePki(stack);
  const nats = await startNats(stack);
  const coordinator = await startCoordinator(stack, nats, pki);
  const agent: Daemon = await startAgent(stack, nats, pki, {
    id: agentId,
    libvirtUri: URI,
    poolName: pool,
    ipmi: { start: 0, end: 0 },
  });
  const ctlConfig = await writeConfig(stack, 'tenksctl', {
    coordinator: coordinator.address,
    ...pki.files('client'),
    nats: nats.url,
  });
  const env = { TENKS_CONFIG: ctlConfig };
  const ctl = (...args: string[]): Promise<CtlRun> => tenksctl(args, env);
  const deadline = Date.now() + 180_000;
  for (;;) {
    const r = await ctl('--timeout', '5', 'get', 'agents', '-o', 'json');
    const agents = r.code === 0 ? (JSON.parse(r.stdout) as { id: string; alive: boolean }[]) : [];
    if (agents.some((a) => a.id === agentId && a.alive)) break;
    if (!agent.alive) throw new Error(`the agent exited:\n${agent.tail()}`);
    if (Date.now() > deadline) throw new Error(`agent not alive after 180 s:\n${agent.tail()}\n${r.stderr}`);
    await sleep(250);
  }
  result.setup_s = round((performance.now() - t0) / 1000, 2);
  say(
    `setup: nats ${nats.url}, coordinator ${coordinator.address}, agent ${agentId} alive in ${String(result.setup_s)} s`,
  );
  say(`physnet ${physnet} on Linux bridge ${bridge} (${BRIDGE_TYPE} tenks bridge), pool ${pool} in ${stack.dir}`);

  const libvirtd = await pidOf('libvirtd');
  const cpu = new CpuMeter(() => {
    const m = new Map<string, number>([
      ['coordinator', coordinator.daemon.pid],
      ['agent', agent.pid],
      ['nats', nats.daemon.pid],
    ]);
    if (libvirtd !== null) m.set('libvirtd', libvirtd);
    return m;
  });
  const cpuByPhase: Record<string, Record<string, number>[]> = {};
  const timed = async (phase: string, what: string, args: string[]): Promise<CtlRun> => {
    await ensureBundle(say);
    await cpu.mark();
    const r = await ctl(...args);
    (cpuByPhase[phase] ??= []).push(await cpu.since());
    if (!r.bundle) say(`${what}: WARNING tenksctl ran through tsx (sources changed under the bundle)`);
    return r;
  };

  // ---- tenksctl startup alone.
  const startup: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 3); i++) {
    await ensureBundle(say);
    const r = await ctl('version');
    if (r.code !== 0) throw new Error(`tenksctl version failed: ${r.stderr}`);
    startup.push(r.seconds);
  }
  result.tenksctl_startup_s = round(median(startup));
  result.tenksctl_startup_runs_s = startup.map((x) => round(x));
  say(`tenksctl version: ${startup.map((x) => round(x)).join(', ')} s`);

  const runs: Record<string, OpRun[]> = { deploy_2: [], noop_2: [], teardown_2: [], deploy_10: [], teardown_10: [] };
  const record = (key: string, r: CtlRun, p: { actions: number; opS: number | null }): void => {
    runs[key]?.push({
      s: round(r.seconds),
      op_s: p.opS === null ? null : round(p.opS),
      actions: p.actions,
      bundle: r.bundle,
    });
  };

  const cycle = async (count: number, i: number): Promise<void> => {
    const cluster = `bl${tag}-n${count}-r${i}`;
    const prefix = `bl${tag}-${count}r${i}-`;
    const file = join(stack.dir, `spec${count}-r${i}.yaml`);
    await writeFile(file, spec(cluster, count, prefix));
    const want = Array.from({ length: count }, (_, k) => `${prefix}${k}`).sort();

    const applied = await timed(`deploy_${count}`, `apply ${cluster}`, ['apply', '-f', file, '-o', 'json']);
    const a = parseOp(applied, `apply ${cluster}`);
    const have = await domains(prefix);
    if (have.join() !== want.join())
      throw new Error(`apply ${cluster}: virsh lists [${have.join(', ')}], expected [${want.join(', ')}]`);
    const states = await Promise.all(have.map(async (d) => (await virsh('domstate', d)).trim()));
    if (states.some((s) => s !== 'shut off')) throw new Error(`apply ${cluster}: domain states ${states.join(', ')}`);
    record(`deploy_${count}`, applied, a);
    say(
      `run ${i}: apply ${count} nodes ${round(applied.seconds)} s (operation ${String(a.opS)} s, ${a.actions} actions); virsh: ${have.length} domains, shut off`,
    );

    if (count === 2) {
      const again = await timed('noop_2', `re-apply ${cluster}`, ['apply', '-f', file, '-o', 'json']);
      const n = parseOp(again, `re-apply ${cluster}`);
      if (n.actions !== 0)
        throw new Error(`re-apply ${cluster}: ${n.actions} actions, expected none:\n${again.stdout}`);
      if ((await domains(prefix)).join() !== want.join()) throw new Error(`re-apply ${cluster}: domains changed`);
      record('noop_2', again, n);
      say(`run ${i}: no-op re-apply ${round(again.seconds)} s (operation ${String(n.opS)} s, 0 actions)`);
    }

    const deleted = await timed(`teardown_${count}`, `delete ${cluster}`, ['delete', cluster, '-o', 'json']);
    const d = parseOp(deleted, `delete ${cluster}`);
    const left = await domains(prefix);
    if (left.length > 0) throw new Error(`delete ${cluster}: domains left: ${left.join(', ')}`);
    await virsh('pool-refresh', pool).catch(() => undefined);
    const vols = lines(await virsh('vol-list', pool));
    if (vols.length > 0) throw new Error(`delete ${cluster}: volumes left in ${pool}: ${vols.join('; ')}`);
    const links = await physnetLinks();
    if (links.length > 0) throw new Error(`delete ${cluster}: host links left: ${links.join(', ')}`);
    record(`teardown_${count}`, deleted, d);
    say(
      `run ${i}: delete ${round(deleted.seconds)} s (operation ${String(d.opS)} s, ${d.actions} actions); no domain, volume or bridge left`,
    );
  };

  for (let i = 1; i <= RUNS; i++) await cycle(2, i);
  for (let i = 1; i <= RUNS; i++) await cycle(10, i);

  for (const [key, rs] of Object.entries(runs)) {
    result[`${key}_s`] = round(median(rs.map((r) => r.s)));
    const ops = rs.map((r) => r.op_s).filter((x): x is number => x !== null);
    result[`${key}_op_s`] = ops.length > 0 ? round(median(ops)) : null;
  }
  result.runs = runs;
  result.cpu_s_by_phase = cpuByPhase;
  result.coordinator_rss_mb = await statusMb(coordinator.daemon.pid, 'VmHWM');
  result.agent_rss_mb = await statusMb(agent.pid, 'VmHWM');
  result.targets_met = Object.fromEntries(
    Object.entries(TARGETS).map(([k, v]) => [k, typeof result[k] === 'number' && result[k] < v]),
  );
  result.speedup_vs_upstream = Object.fromEntries(
    Object.entries(UPSTREAM).map(([k, v]) => [k, typeof result[k] === 'number' ? round(v / result[k], 1) : null]),
  );
});
