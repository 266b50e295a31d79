/**
 * bench:chaos — tenks under crashes: seeded runs of apply / scale / change / delete, each with one
 * process killed (-9) at a random point, then restarted, and the step applied again.
 *
 *   npm run bench:chaos [-- --runs 20 --seed 20261205 --op-timeout-s 180]
 *
 * The stack (each its own process, mTLS, every port chosen by the OS or free a moment before):
 * - a 3-node NATS JetStream cluster on 127.0.0.1 (state buckets with 3 replicas);
 * - one tenks-coordinator (operation lease 3 s, agents dead after 3 s without a heartbeat);
 * - agent `q` on qemu:///system (real QEMU domains, defined and not started), its physnet an Open
 *   vSwitch bridge over a Linux bridge the bench makes, so every node has a NIC with a switch port;
 * - agent `t` on test:///default (more nodes, no NICs).
 * Each run drives two clusters at once, `cq<run>` on agent q (1 to 4 nodes) and `ct<run>` on agent t
 * (4 to 30 nodes), through four steps: apply, scale (other counts), change (memory), delete. In one
 * step, at a random delay after its operations started, one victim is killed: agent q, agent t, the
 * coordinator or one NATS node. It is started again at once (same address, same state). The bench
 * waits for the step's operations to end (a coordinator resumes them after their lease), applies
 * the step again until it succeeds, and checks the result. Everything is drawn from `--seed`.
 *
 * Checked, and reported in the last line (one JSON object):
 * - `converged`: runs whose every step ended with the declared state: the nodes the agents report
 *   (names, memory) are the spec's, a plan finds nothing to do, and a deleted cluster is gone from
 *   the agents and the coordinator's state;
 * - `leaks`: what is left that a run made: domains, volumes, links, OVS ports of its clusters on the
 *   host, BMC sockets of the agents (they hold none once every cluster is deleted), KV records of
 *   its clusters (clusters, placements); and, once the stack is stopped, everything the host
 *   snapshot (test/helpers/host-snapshot.ts) shows appeared since before the bench;
 * - `double_runs`: pairs of operations of one cluster whose running times overlap, from the
 *   operation records in KV (one clock: every coordinator of the bench runs on this host);
 * - `fenced_calls`: agent calls of a stale operation claim that agents refused;
 * - `seed`, `runs`, kills by victim, recovery times (kill to the step converged).
 * Exits non-zero unless every run converged with 0 leaks and 0 double runs.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { stringify } from 'yaml';
import { BUCKETS, decodeJson, silenceIpServerNameWarning, TenksError } from '../common/index.js';
import { Prng } from '../coordinator/scheduler/prng.js';
import type { OperationRecord } from '../coordinator/state/records.js';
import { OperationState, type Operation } from '../proto/gen/tenks/v1/coordinator.pb.js';
import { hostSnapshot, settledDiff } from '../test/helpers/host-guard.js';
import { takeHostLock } from '../test/helpers/host-lock.js';
import { diffProblems } from '../test/helpers/host-snapshot-diff.js';
import { takeSnapshot, type HostSnapshot } from '../test/helpers/host-snapshot.js';
import { startAgent, waitForAgents } from './lib-stack/agent.js';
import { startCoordinator, type Coordinator } from './lib-stack/coordinator.js';
import type { Daemon } from './lib-stack/daemon.js';
import { median, round } from './lib-stack/figures.js';
import { startNatsCluster, type Nats, type NatsCluster } from './lib-stack/nats.js';
import { makePki, type Pki } from './lib-stack/pki.js';
import { run } from './lib-stack/run.js';
import { runBench, sayer } from './lib-stack/run-bench.js';
import { Stack } from './lib-stack/stack.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    seed: { type: 'string', default: '20261205' },
    'op-timeout-s': { type: 'string', default: '180' },
  },
});
const RUNS = Number(values.runs);
const SEED = Number(values.seed);
const OP_TIMEOUT_MS = Number(values['op-timeout-s']) * 1000;
const say = sayer('chaos');
silenceIpServerNameWarning();

type Victim = 'agent-q' | 'agent-t' | 'coordinator' | 'nats';
const VICTIMS: readonly Victim[] = ['agent-q', 'agent-t', 'coordinator', 'nats'];
type StepKind = 'apply' | 'scale' | 'change' | 'delete';
const STEPS: readonly StepKind[] = ['apply', 'scale', 'change', 'delete'];

/** What one cluster should be after a step (null: deleted). */
interface Want {
  count: number;
  memoryMb: number;
}

/** One run's plan, all drawn from the seed. */
interface RunPlan {
  index: number;
  q: Want[];
  t: Want[];
  killStep: number;
  killDelayMs: number;
  victim: Victim;
  natsNode: number;
}

function drawRun(rng: Prng, index: number): RunPlan {
  const counts = (lo: number, hi: number): number => lo + rng.below(hi - lo + 1);
  const q0 = counts(1, 4);
  const t0 = counts(4, 30);
  const q1 = counts(1, 4);
  const t1 = counts(4, 30);
  return {
    index,
    q: [
      { count: q0, memoryMb: 128 },
      { count: q1, memoryMb: 128 },
      { count: q1, memoryMb: 192 },
      { count: 0, memoryMb: 192 },
    ],
    t: [
      { count: t0, memoryMb: 64 },
      { count: t1, memoryMb: 64 },
      { count: t1, memoryMb: 96 },
      { count: 0, memoryMb: 96 },
    ],
    killStep: rng.below(STEPS.length),
    // Within the time an operation of these sizes takes here, so most kills land mid-operation.
    killDelayMs: rng.below(600),
    victim: VICTIMS[rng.below(VICTIMS.length)] as Victim,
    natsNode: rng.below(3),
  };
}

async function main(): Promise<void> {
  const tag = randomBytes(2).toString('hex');
  const stack = await Stack.create('tenks-chaos-');
  stack.closeOnSignals(say);
  const result: Record<string, unknown> = { runs: RUNS, converged: 0, leaks: null, double_runs: null, seed: SEED };
  const physnet = `pc${tag}`;
  const uplink = `tkch${tag}`;
  const prefixes = (i: number): { q: string; t: string } => ({ q: `cq${tag}r${i}`, t: `ct${tag}r${i}` });

  await runBench(stack, say, result, async () => {
    await run('ovs-vsctl', ['--timeout=5', 'show']).catch(() => {
      throw new Error('Open vSwitch is not running (ovs-vsctl show fails): run scripts/setup.sh');
    });
    // No test tier compares the host meanwhile (they would see this bench's objects come and go).
    // Held until the host was compared after the stack stopped (and released at exit on failure).
    const lock = await takeHostLock('bench:chaos', 30 * 60_000, say);
    const before: HostSnapshot = await hostSnapshot();
    result.snapshot_unavailable = before.unavailable;

    await run('ip', ['link', 'add', uplink, 'type', 'bridge']);
    stack.onCleanup(`bridge ${uplink}`, () => run('ip', ['link', 'del', uplink]));
    await run('ip', ['link', 'set', uplink, 'up']);

    const nats: NatsCluster = await startNatsCluster(stack, 3);
    const natsRef: Nats = { daemon: nats.servers[0]?.daemon as Daemon, url: nats.urls[0] ?? '' };
    const natsConfig = { servers: nats.urls, replicas: 3 };
    const pki: Pki = await makePki(stack);
    const coordExtra = {
      coordinator_id: `chaos-${tag}`,
      nats: natsConfig,
      operation_lease_s: 3,
      agent_timeout_s: 3,
      agent_wait_s: 30,
      retry_backoff_s: 0.3,
      log_level: 'info',
    };
    let coord: Coordinator = await startCoordinator(stack, natsRef, pki, { extra: coordExtra });
    const coordPort = Number(coord.address.split(':')[1]);

    const agentIds = { q: `q-${tag}`, t: `t-${tag}` };
    let fenced = 0;
    /** Per agent process: when it was back on NATS (its heartbeats) and when the coordinator first called it after. */
    const returns = new Map<Daemon, { backMs: number; calledMs: number }>();
    const watchAgent = (d: Daemon): Daemon => {
      const r = { backMs: 0, calledMs: 0 };
      returns.set(d, r);
      d.onLine((l) => {
        if (l.includes('call of a stale operation claim refused')) fenced++;
        if (!l.startsWith('{')) return;
        const j = JSON.parse(l) as { message?: string; timestamp?: string };
        const at = Date.parse(j.timestamp ?? '');
        if (j.message === 'NATS connected' && r.backMs === 0) r.backMs = at;
        else if ((j.message === 'call' || j.message === 'call refused') && r.backMs > 0 && r.calledMs === 0)
          r.calledMs = at;
      });
      return d;
    };
    const startQ = (listen: string): Promise<Daemon> =>
      startAgent(stack, natsRef, pki, {
        id: agentIds.q,
        libvirtUri: 'qemu:///system',
        poolName: `tenks-chaos-${tag}`,
        ipmi: { start: 0, end: 0 },
        extra: { listen, nats: natsConfig, heartbeat_interval_s: 0.5, log_level: 'debug' },
      }).then(watchAgent);
    const startT = (listen: string): Promise<Daemon> =>
      startAgent(stack, natsRef, pki, {
        id: agentIds.t,
        libvirtUri: 'test:///default',
        poolName: `tenks-chaos-t-${tag}`,
        ipmi: { start: 0, end: 0 },
        extra: { listen, nats: natsConfig, heartbeat_interval_s: 0.5, log_level: 'debug' },
      }).then(watchAgent);
    const agents: Record<'q' | 't', Daemon> = { q: await startQ('127.0.0.1:0'), t: await startT('127.0.0.1:0') };
    // Whatever a failed run left of agent q on the host (leaks are counted before the stack stops;
    // this is hygiene after a failure): its domains, OVS bridge and links.
    stack.onCleanup('what agent q left on the host', async () => {
      const names = (await run('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name']).catch(() => ''))
        .split('\n')
        .map((n) => n.trim())
        .filter((n) => n.startsWith(`cq${tag}r`));
      for (const n of names) {
        await run('virsh', ['-c', 'qemu:///system', 'destroy', n]).catch(() => '');
        await run('virsh', ['-c', 'qemu:///system', 'undefine', '--nvram', n]).catch(() => '');
      }
      await run('ovs-vsctl', ['--if-exists', 'del-br', `tb-${physnet}`]).catch(() => '');
      const links = JSON.parse(await run('ip', ['-d', '-j', 'link', 'show']).catch(() => '[]')) as {
        ifname: string;
        ifalias?: string;
      }[];
      for (const l of links)
        if ((l.ifalias ?? '').includes(`agent=${agentIds.q},`))
          await run('ip', ['link', 'del', l.ifname]).catch(() => '');
    });
    // The pool of agent q is on qemu:///system: removed at the end whatever happened.
    stack.onCleanup('libvirt pool of agent q', async () => {
      await run('virsh', ['-c', 'qemu:///system', 'pool-destroy', `tenks-chaos-${tag}`]).catch(() => '');
      await run('virsh', ['-c', 'qemu:///system', 'pool-undefine', `tenks-chaos-${tag}`]).catch(() => '');
    });
    await waitForAgents(coord, [agents.q, agents.t], [agentIds.q, agentIds.t]);
    const listen: Record<'q' | 't', string> = { q: '', t: '' };
    for (const a of await coord.api.getAgents()) {
      if (a.id === agentIds.q) listen.q = a.address;
      if (a.id === agentIds.t) listen.t = a.address;
    }

    const specOf = (cluster: string, side: 'q' | 't', w: Want): string =>
      stringify({
        name: cluster,
        bridge_type: 'openvswitch',
        hypervisors: { [agentIds[side]]: side === 'q' ? { physnet_mappings: { [physnet]: uplink } } : {} },
        node_types: {
          n: {
            memory_mb: w.memoryMb,
            vcpus: 1,
            volumes: [{ capacity: side === 'q' ? '32MiB' : '16MiB' }],
            physical_networks: side === 'q' ? [physnet] : [],
          },
        },
        specs: [{ type: 'n', count: w.count, node_name_prefix: `${cluster}-` }],
        default_boot_mode: 'bios',
        ipmi_username: 'admin',
        ipmi_password: `pw-${tag}`,
      });

    /** Waits for an operation to end, through coordinator restarts. */
    const ended = async (id: string): Promise<Operation | null> => {
      const end = Date.now() + OP_TIMEOUT_MS;
      while (Date.now() < end) {
        const o = await coord.api.getOperation(id, { timeoutMs: 5000 }).catch(() => null);
        if (o && o.state >= OperationState.OPERATION_STATE_SUCCEEDED) return o;
        await sleep(200);
      }
      return null;
    };

    /** Starts the step's operation for one cluster; null when there is nothing to start (deleted). */
    const startStep = async (cluster: string, side: 'q' | 't', w: Want): Promise<Operation | null> => {
      for (let attempt = 0; ; attempt++) {
        try {
          if (w.count === 0) return await coord.api.deleteCluster(cluster, false, { timeoutMs: 10_000 });
          // The scale step may take most nodes away (30 → 4): meant, so prune.
          return await coord.api.apply(specOf(cluster, side, w), 'chaos.yaml', { timeoutMs: 10_000, prune: true });
        } catch (e) {
          const code = e instanceof TenksError ? e.code : '';
          if (w.count === 0 && code === 'NOT_FOUND') return null;
          // A restarting coordinator or NATS node, or an operation still running: try again.
          if (attempt >= 150 || !['UNAVAILABLE', 'CONFLICT', 'TIMEOUT'].includes(code)) throw e;
          await sleep(400);
        }
      }
    };

    /** Whether the cluster is as `w` says, from the agents (through the coordinator) and a plan. */
    const check = async (cluster: string, side: 'q' | 't', w: Want): Promise<string | null> => {
      const nodes = await coord.api.getNodes(cluster, '', false, { timeoutMs: 20_000 });
      const want = Array.from({ length: w.count }, (_, i) => `${cluster}-${String(i)}`).sort();
      const have = nodes.map((n) => n.name).sort();
      if (have.join() !== want.join()) return `${cluster}: nodes ${have.join(',')} instead of ${want.join(',')}`;
      const wrong = nodes.filter((n) => n.memoryMb !== w.memoryMb).map((n) => `${n.name}=${String(n.memoryMb)}`);
      if (wrong.length > 0) return `${cluster}: memory ${wrong.join(',')} instead of ${String(w.memoryMb)}`;
      if (w.count === 0) {
        if ((await coord.api.getClusters()).some((c) => c.name === cluster)) return `${cluster}: still known`;
        return null;
      }
      const plan = await coord.api.plan(specOf(cluster, side, w), 'chaos.yaml', { timeoutMs: 60_000 });
      if (plan.actions.length > 0)
        return `${cluster}: a plan still has ${plan.actions.map((a) => `${a.kind} ${a.node}`).join(', ')}`;
      return null;
    };

    /** Seconds from an agent's return (on NATS again) to the coordinator's first call, for kills mid-operation. */
    const reach: number[] = [];
    const kill = async (p: RunPlan): Promise<Daemon | null> => {
      if (p.victim === 'coordinator') {
        process.kill(-coord.daemon.pid, 'SIGKILL');
        await coord.daemon.exited;
        coord.api.close();
        coord = await startCoordinator(stack, natsRef, pki, { extra: coordExtra, port: coordPort });
      } else if (p.victim === 'nats') {
        const s = nats.servers[p.natsNode] as NatsCluster['servers'][number];
        process.kill(-s.daemon.pid, 'SIGKILL');
        await s.daemon.exited;
        await nats.restart(p.natsNode);
      } else {
        const side = p.victim === 'agent-q' ? 'q' : 't';
        process.kill(-agents[side].pid, 'SIGKILL');
        await agents[side].exited;
        agents[side] = await (side === 'q' ? startQ(listen.q) : startT(listen.t));
        return agents[side];
      }
      return null;
    };

    const rng = new Prng(SEED);
    const kills: Record<Victim, number> = { 'agent-q': 0, 'agent-t': 0, coordinator: 0, nats: 0 };
    const recoveries: number[] = [];
    const failures: string[] = [];
    let converged = 0;
    let midOperation = 0;
    const t0 = Date.now();
    for (let i = 0; i < RUNS; i++) {
      const p = drawRun(rng, i);
      const names = prefixes(i);
      let ok = true;
      for (let s = 0; s < STEPS.length; s++) {
        const wq = p.q[s] as Want;
        const wt = p.t[s] as Want;
        const ops = await Promise.all([startStep(names.q, 'q', wq), startStep(names.t, 't', wt)]);
        let killedAt = 0;
        let restartedAgent: Daemon | null = null;
        if (s === p.killStep) {
          await sleep(p.killDelayMs);
          // Whether the kill lands while an operation of the step still runs (reported, not required).
          const states = await Promise.all(
            ops.map((op) =>
              op ? coord.api.getOperation(op.id, { timeoutMs: 2000 }).catch(() => null) : Promise.resolve(null),
            ),
          );
          const mid = states.some((o) => o !== null && o.state < OperationState.OPERATION_STATE_SUCCEEDED);
          if (mid) midOperation++;
          killedAt = Date.now();
          const restarted = await kill(p);
          if (mid) restartedAgent = restarted;
          kills[p.victim]++;
        }
        for (const op of ops) if (op) await ended(op.id);
        // The step again, until it succeeds: what a user (or CI) does after a crash.
        const again = async (cluster: string, side: 'q' | 't', w: Want): Promise<string | null> => {
          let last = '';
          for (let attempt = 0; attempt < 4; attempt++) {
            const op = await startStep(cluster, side, w);
            const done = op ? await ended(op.id) : null;
            if (!op || done?.state === OperationState.OPERATION_STATE_SUCCEEDED) return check(cluster, side, w);
            last = `${cluster} ${STEPS[s] ?? ''}: ${done ? `${done.errorMessage} ${JSON.stringify(done.results.filter((r) => !r.ok).slice(0, 3))}` : 'did not end'}`;
          }
          return last;
        };
        const problems = (await Promise.all([again(names.q, 'q', wq), again(names.t, 't', wt)])).filter(
          (x): x is string => x !== null,
        );
        if (killedAt > 0) recoveries.push((Date.now() - killedAt) / 1000);
        const back = restartedAgent ? returns.get(restartedAgent) : undefined;
        if (back && back.backMs > 0 && back.calledMs > 0) reach.push((back.calledMs - back.backMs) / 1000);
        if (problems.length > 0) {
          ok = false;
          failures.push(
            `run ${String(i)} step ${STEPS[s] ?? ''} (${p.victim} killed in ${STEPS[p.killStep] ?? ''}): ${problems.join('; ')}`,
          );
        }
      }
      if (ok) converged++;
      say(
        `run ${String(i + 1)}/${String(RUNS)}: ${ok ? 'converged' : 'NOT converged'} (${p.victim} killed ${String(p.killDelayMs)} ms into ${STEPS[p.killStep] ?? ''}; q ${p.q.map((w) => w.count).join('→')}, t ${p.t.map((w) => w.count).join('→')})`,
      );
    }
    result.converged = converged;
    result.kills = kills;
    result.kills_mid_operation = midOperation;
    result.failures = failures.slice(0, 20);
    result.recovery_s =
      recoveries.length > 0 ? { median: round(median(recoveries), 1), max: round(Math.max(...recoveries), 1) } : null;
    result.runs_s = round((Date.now() - t0) / 1000, 1);
    // The operation in flight waits for the killed agent; how soon the coordinator reaches it again.
    result.agent_reach_s =
      reach.length > 0
        ? { samples: reach.length, median: round(median(reach), 2), max: round(Math.max(...reach), 2) }
        : null;
    result.fenced_calls = fenced;

    // Leaks while the stack still runs: KV records of the runs' clusters, BMC sockets, host objects.
    const nc = await connect({ servers: nats.urls });
    const leakLines: string[] = [];
    let doubleRuns = 0;
    try {
      const kvm = new Kvm(nc);
      const runCluster = (k: string): boolean => k.startsWith(`cq${tag}r`) || k.startsWith(`ct${tag}r`);
      for (const bucket of [BUCKETS.clusters, BUCKETS.placements]) {
        const kv = await kvm.open(bucket);
        for await (const k of await kv.keys()) if (runCluster(k)) leakLines.push(`KV ${bucket}: ${k}`);
      }
      // Double runs: operations of one cluster running at the same time.
      const ops: OperationRecord[] = [];
      const kv = await kvm.open(BUCKETS.operations);
      for await (const k of await kv.keys()) {
        const e = await kv.get(k);
        if (e?.operation === 'PUT') ops.push(decodeJson(e.value) as OperationRecord);
      }
      const byCluster = new Map<string, OperationRecord[]>();
      for (const o of ops) byCluster.set(o.cluster, [...(byCluster.get(o.cluster) ?? []), o]);
      const overlaps: string[] = [];
      for (const [cluster, list] of byCluster)
        for (let x = 0; x < list.length; x++)
          for (let y = x + 1; y < list.length; y++) {
            const a = list[x] as OperationRecord;
            const b = list[y] as OperationRecord;
            const aEnd = a.finishedMs || Date.now();
            const bEnd = b.finishedMs || Date.now();
            if (a.startedMs < bEnd && b.startedMs < aEnd) overlaps.push(`${cluster}: ${a.id} and ${b.id}`);
          }
      doubleRuns = overlaps.length;
      result.double_run_pairs = overlaps.slice(0, 10);
      result.operations = ops.length;
    } finally {
      await nc.close();
    }
    const udpOf = async (d: Daemon): Promise<number> => {
      const out = await run('ss', ['-Hlnup']).catch(() => '');
      return out.split('\n').filter((l) => l.includes(`pid=${String(d.pid)},`)).length;
    };
    for (const side of ['q', 't'] as const) {
      const n = await udpOf(agents[side]);
      if (n > 0) leakLines.push(`agent ${side}: ${String(n)} UDP sockets (BMCs) with every cluster deleted`);
    }
    const during = await takeSnapshot();
    for (const item of during.items)
      if (item.name.includes(`cq${tag}r`) || item.name.includes(`ct${tag}r`) || item.name.includes(physnet))
        leakLines.push(`host: ${item.kind} ${item.name}`);

    await stack.close(say);
    // Everything the bench started is gone: the host must be as it was (tiers' rules and reasons).
    const found = await settledDiff(before);
    for (const l of diffProblems(found.diff)) leakLines.push(`host after: ${l.text}`);
    await lock.release();
    result.leaks = leakLines.length;
    result.leak_lines = leakLines.slice(0, 30);
    result.double_runs = doubleRuns;
    if (converged !== RUNS || leakLines.length > 0 || doubleRuns > 0) process.exitCode = 1;
  });
}

await main();
