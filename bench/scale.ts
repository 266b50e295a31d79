/**
 * bench:scale — the coordinator at scale: 1,000 then 10,000 nodes over 10 agents.
 *
 *   npm run bench:scale [-- --agents 10 --small 1000 --large 10000 --volume-mib 32 \
 *     --ports-per-agent 1200 --nofile 65536 --timeout-s 600 --schedule-repeat 5 --cpu-prof DIR]
 *
 * Setup (not timed): one nats-server with JetStream, one tenks-coordinator and `--agents` tenks-agents,
 * each its own process (so each agent has its own in-memory `test:///default` hypervisor), talking
 * mTLS (deploy/make-certs.sh). Every node has an IPMI BMC: each agent gets its own IPMI port range
 * of `--ports-per-agent` ports (non-overlapping, below the ephemeral range, free when chosen) and
 * redfish_port 0; the agents' open-files limit is raised to `--nofile` (`ulimit -n` in a bash
 * wrapper) for the UDP sockets. Nodes have no NICs (no host networking), 64 MiB, 1 vCPU, BIOS and
 * one `--volume-mib` qcow2 volume (0: none). test:///default reports a small host, so the spec's
 * scheduler allocation ratios are computed from the inventory the agents report, so that
 * (small + large) / agents nodes fit on each with 20 % to spare.
 *
 * Measured:
 * - `schedule_10000_s`: the pure scheduler, in this process: `schedule()` of `--large` new nodes
 *   (compileClusterSpec + expandNodes + nodeDemand done before, timed apart as
 *   `compile_expand_10000_s`) onto the inventory the real agents report (median of
 *   `--schedule-repeat` runs after a warm-up; `schedule_10000_with_1000_placed_s`: with the small
 *   cluster's nodes already placed, as in the apply below).
 * - `apply_1000_s`, `noop_1000_s`, `apply_10000_s`, `noop_10000_s`, `teardown_10000_s`,
 *   `teardown_1000_s`: wall clock from the Apply (DeleteCluster) RPC to the operation's end, through
 *   CoordinatorWire (common/) in this process; the end is the `operation_done` event on NATS
 *   (subscribed before the call), confirmed by GetOperation (polled every 2 s, as tenksctl does,
 *   which also records how actions_done advances). `*_op_s`: start to finish as the coordinator
 *   recorded it; `timeline_s` (from the operation's own events): when it was planned (observe,
 *   schedule, plan), when the first step started (new placements recorded), when the last step was
 *   reported finished, done. `noop_1000_tenksctl_s`: the no-op through `tenksctl apply` (a process,
 *   as a user; median of 3).
 *   The small cluster stays while the large one is applied (11,000 nodes at the peak).
 * - Checks: every operation succeeded (so 0 failed actions), apply has one action per node, a
 *   no-op has none, and the sum of ListNodes over the agents (asked directly) is the node count,
 *   0 after teardown.
 * - Per process and phase: CPU seconds (/proc/<pid>/stat, user + system) of the coordinator, the
 *   agents (sum and busiest) and nats-server; peak RSS (VmHWM) of each; agents' open fds. That
 *   tells where the time goes.
 * If an operation does not end within `--timeout-s`, it is cancelled and its key is null, with
 * what it had done in `*_progress`.
 *
 * Progress on stderr; the LAST stdout line is one JSON object. Everything started is stopped and
 * removed at the end, on failure and on Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { stringify } from 'yaml';
import { AgentWire, channelOptions, connectNats, nullLogger, silenceIpServerNameWarning } from '../common/index.js';
import type { Operation } from '../proto/gen/tenks/v1/coordinator.pb.js';
import { benchOptions } from './lib-options.js';
import { startAgent, waitForAgents } from './lib-stack/agent.js';
import { startCoordinator, type Coordinator } from './lib-stack/coordinator.js';
import type { Daemon } from './lib-stack/daemon.js';
import { median, round } from './lib-stack/figures.js';
import { startNats } from './lib-stack/nats.js';
import { makePki } from './lib-stack/pki.js';
import { freeUdpRanges } from './lib-stack/ports.js';
import { CpuMeter, nofileLimit, openFds, statusMb } from './lib-stack/proc-stats.js';
import { run } from './lib-stack/run.js';
import { runBench, sayer } from './lib-stack/run-bench.js';
import { Stack, writeConfig } from './lib-stack/stack.js';
import { ensureBundle, tenksctl } from './lib-stack/tenksctl.js';
import { OperationClock, summarizeCpu, type OpOutcome } from './scale-operations.js';
import { benchScheduler, ratiosFor, specObject, type ScaleNodes } from './scale-scheduler.js';

const options = benchOptions(
  {
    agents: { default: 10, min: 1 },
    small: { default: 1000, min: 1 },
    large: { default: 10_000, min: 1 },
    'volume-mib': { default: 32, min: 0 },
    'ports-per-agent': { default: 1200, min: 1 },
    nofile: { default: 65_536, min: 1024 },
    'timeout-s': { default: 600, min: 1 },
    'schedule-repeat': { default: 5, min: 1 },
  },
  { strings: ['cpu-prof'] },
);
const AGENTS = options.agents;
const SMALL = options.small;
const LARGE = options.large;
const PORTS = options['ports-per-agent'];
const NOFILE = options.nofile;
const TIMEOUT_MS = options['timeout-s'] * 1000;
const CPU_PROF = options['cpu-prof'];
if ((SMALL + LARGE) / AGENTS > PORTS)
  throw new Error(`--ports-per-agent ${PORTS} cannot hold ${(SMALL + LARGE) / AGENTS} IPMI nodes per agent`);

const TARGETS = { schedule_10000_s: 1, apply_1000_s: 60, noop_1000_s: 5 };
const NODES: ScaleNodes = {
  memoryMb: 64,
  volumeMib: options['volume-mib'],
  password: randomBytes(6).toString('hex'),
};

const say = sayer('bench:scale');
const tag = randomBytes(3).toString('hex');
const agentIds = Array.from({ length: AGENTS }, (_, k) => `scale-${tag}-${String(k).padStart(2, '0')}`);

silenceIpServerNameWarning();

const stack = await Stack.create('tenks-bench-scale-');
stack.closeOnSignals(say);
const result: Record<string, unknown> = {
  agents: AGENTS,
  libvirt_uri: 'test:///default',
  small_nodes: SMALL,
  large_nodes: LARGE,
  node: { memory_mb: NODES.memoryMb, vcpus: 1, nics: 0, volume_mib: NODES.volumeMib, boot_mode: 'bios', bmc: 'ipmi' },
  client: 'CoordinatorWire (common/) in the bench process; end = operation_done NATS event, confirmed by GetOperation',
  transport: 'mTLS (deploy/make-certs.sh) on 127.0.0.1',
  targets_s: TARGETS,
};
await runBench(stack, say, result, async () => {
  say('npm run --silent build (dist/tenksctl.cjs)');
  await run('npm', ['run', '--silent', 'build'], 120_000);

  // ---- Setup.
  const t0 = performance.now();
  const ranges = await freeUdpRanges(AGENTS, PORTS);
  const pki = await makePki(stack);
  const nats = await startNats(stack);
  const coordinator: Coordinator = await startCoordinator(stack, nats, pki, {
    ...(CPU_PROF !== undefined ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] } : {}),
    callTimeoutMs: 300_000,
  });
  const agents: Daemon[] = [];
  for (const [k, id] of agentIds.entries()) {
    const range = ranges[k];
    if (!range) throw new Error('no port range');
    agents.push(
      await startAgent(stack, nats, pki, {
        id,
        libvirtUri: 'test:///default',
        poolName: `tenks-scale-${k}`,
        ipmi: range,
        nofile: NOFILE,
        ...(CPU_PROF !== undefined && k === 0 ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] } : {}),
      }),
    );
  }
  await waitForAgents(coordinator, agents, agentIds);
  const inventory = (await coordinator.api.getAgents()).filter((a) => agentIds.includes(a.id));
  const agentApis = new Map<string, AgentWire>();
  const creds = await pki.clientCredentials();
  for (const a of inventory)
    agentApis.set(a.id, new AgentWire(a.address, creds, channelOptions({ address: a.address, tls: null }), 300_000));
  stack.onCleanup('agent clients', () => {
    for (const c of agentApis.values()) c.close();
    return Promise.resolve();
  });
  const ratios = ratiosFor(inventory, (SMALL + LARGE) / AGENTS, NODES);
  const h0 = inventory[0]?.host;
  Object.assign(result, {
    setup_s: round((performance.now() - t0) / 1000, 2),
    host_per_agent: h0
      ? {
          cpus: h0.cpus,
          memory_gib: round(h0.memoryBytes / 1024 ** 3, 2),
          pool_gib: round((h0.pool?.capacityBytes ?? 0) / 1024 ** 3, 1),
        }
      : null,
    scheduler_ratios: ratios,
    ipmi_port_ranges: ranges.map((r) => `${r.start}-${r.end}`),
    agent_nofile_limit: await nofileLimit(agents[0]?.pid ?? 0),
  });
  say(
    `setup: ${AGENTS} agents alive in ${String(result.setup_s)} s; host per agent ${JSON.stringify(result.host_per_agent)}; ratios ${JSON.stringify(ratios)}; IPMI ranges ${ranges[0]?.start}-${ranges[ranges.length - 1]?.end}; agent open-files limit ${String(result.agent_nofile_limit)}`,
  );

  // ---- The pure scheduler.
  const sched = benchScheduler(inventory, ratios, NODES, {
    cluster: `sched-${tag}`,
    nodes: LARGE,
    placed: SMALL,
    repeat: options['schedule-repeat'],
    bmcPortsFree: PORTS,
  });
  Object.assign(result, {
    schedule_10000_s: round(sched.scheduleS, 4),
    schedule_10000_runs_s: sched.runsS.map((x) => round(x, 4)),
    schedule_10000_with_1000_placed_s: round(sched.withPlacedS, 4),
    compile_expand_10000_s: round(sched.compileExpandS, 4),
  });
  say(
    `scheduler: ${LARGE} nodes on ${sched.hosts} hosts in ${round(sched.scheduleS, 4)} s (runs ${sched.runsS.map((x) => round(x, 4)).join(', ')}); with ${SMALL} placed ${round(sched.withPlacedS, 4)} s; compile+expand ${round(sched.compileExpandS, 4)} s`,
  );

  // ---- Operations through the coordinator.
  const nc: NatsConnection = await connectNats(
    { servers: [nats.url], tls: null, user: null, password: null, token: null, credsFile: null, replicas: 1 },
    { name: 'bench:scale', log: nullLogger },
  );
  stack.onCleanup('bench NATS connection', () => nc.close());

  const pids = (): Map<string, number> => {
    const m = new Map<string, number>([
      ['coordinator', coordinator.daemon.pid],
      ['nats', nats.daemon.pid],
    ]);
    for (const [k, a] of agents.entries()) m.set(`agent${k}`, a.pid);
    return m;
  };
  const clock = await OperationClock.watch(nc, {
    api: coordinator.api,
    meter: new CpuMeter(pids),
    timeoutMs: TIMEOUT_MS,
    say,
  });
  const operate = (what: string, start: () => Promise<Operation>): Promise<OpOutcome> => clock.operate(what, start);

  const expectOk = (what: string, o: OpOutcome, actions: number | null): void => {
    if (o.state !== 'succeeded') {
      const firstFailed = o.op?.results.find((r) => !r.ok);
      throw new Error(
        `${what}: operation ${o.state}: ${o.op?.errorCode ?? ''} ${o.op?.errorMessage ?? ''} ${firstFailed ? `first failed: ${firstFailed.node} ${firstFailed.errorCode} ${firstFailed.errorMessage}` : ''}`,
      );
    }
    if (actions !== null && o.actionsTotal !== actions)
      throw new Error(`${what}: ${o.actionsTotal} actions, expected ${actions}`);
  };

  const countNodes = async (cluster: string): Promise<{ total: number; perAgent: number[] }> => {
    const perAgent = await Promise.all(
      [...agentApis.values()].map(
        async (c) => (await c.listNodes(cluster, false, { timeoutMs: 120_000 })).nodes.length,
      ),
    );
    return { total: perAgent.reduce((s, n) => s + n, 0), perAgent };
  };

  const expectNodes = async (what: string, cluster: string, want: number): Promise<number[]> => {
    const c = await countNodes(cluster);
    if (c.total !== want) throw new Error(`${what}: the agents list ${c.total} nodes of ${cluster}, expected ${want}`);
    say(`${what}: the agents list ${c.total} nodes (${c.perAgent.join(' + ')})`);
    return c.perAgent;
  };

  const phases: Record<string, unknown> = {};
  const keep = (key: string, o: OpOutcome): void => {
    phases[key] = {
      s: o.s === null ? null : round(o.s),
      op_s: o.opS === null ? null : round(o.opS),
      state: o.state,
      actions_total: o.actionsTotal,
      actions_done: o.actionsDone,
      cpu_s: summarizeCpu(o.cpu),
      timeline_s: o.timeline,
      actions_done_by_poll: o.progress,
    };
    result[`${key}_s`] = o.s === null || o.state !== 'succeeded' ? null : round(o.s);
  };
  const rssNow = async (): Promise<Record<string, number>> => {
    const agentHwm = await Promise.all(agents.map((a) => statusMb(a.pid, 'VmHWM')));
    return {
      coordinator_hwm: await statusMb(coordinator.daemon.pid, 'VmHWM'),
      agents_hwm_max: Math.max(...agentHwm),
      nats_hwm: await statusMb(nats.daemon.pid, 'VmHWM'),
      agents_fds_max: Math.max(...agents.map((a) => openFds(a.pid))),
    };
  };

  const small = `scale-${tag}-small`;
  const large = `scale-${tag}-large`;
  const smallYaml = stringify(specObject(small, SMALL, 'sa', ratios, NODES));
  const largeYaml = stringify(specObject(large, LARGE, 'sb', ratios, NODES));

  // 1,000 nodes.
  let o = await operate(`apply ${SMALL}`, () => coordinator.api.apply(smallYaml, 'scale-small.yaml'));
  expectOk(`apply ${SMALL}`, o, SMALL);
  keep(`apply_${SMALL}`, o);
  const smallSpread = await expectNodes(`apply ${SMALL}`, small, SMALL);
  o = await operate(`no-op re-apply ${SMALL}`, () => coordinator.api.apply(smallYaml, 'scale-small.yaml'));
  expectOk(`no-op ${SMALL}`, o, 0);
  keep(`noop_${SMALL}`, o);
  await expectNodes(`no-op ${SMALL}`, small, SMALL);
  result[`rss_mb_after_${SMALL}`] = await rssNow();

  // The same no-op through tenksctl, as a user runs it.
  const ctlConfig = await writeConfig(stack, 'tenksctl', {
    coordinator: coordinator.address,
    ...pki.files('client'),
    nats: nats.url,
  });
  const smallFile = join(stack.dir, 'scale-small.yaml');
  await writeFile(smallFile, smallYaml);
  const ctlRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    await ensureBundle(say);
    const ctl = await tenksctl(['apply', '-f', smallFile, '-o', 'json'], { TENKS_CONFIG: ctlConfig });
    if (ctl.code !== 0) throw new Error(`tenksctl apply (no-op) exited ${String(ctl.code)}: ${ctl.stderr}`);
    const ctlOp = JSON.parse(ctl.stdout) as { state?: string; actions_total?: number };
    if (ctlOp.state !== 'succeeded' || ctlOp.actions_total !== 0)
      throw new Error(`tenksctl apply (no-op): ${ctl.stdout.slice(0, 500)}`);
    if (!ctl.bundle) say('WARNING: tenksctl ran through tsx (sources changed under the bundle)');
    ctlRuns.push(ctl.seconds);
  }
  result[`noop_${SMALL}_tenksctl_s`] = round(median(ctlRuns));
  result[`noop_${SMALL}_tenksctl_runs_s`] = ctlRuns.map((x) => round(x));
  say(`no-op re-apply ${SMALL} through tenksctl: ${ctlRuns.map((x) => round(x)).join(', ')} s`);

  // 10,000 nodes (the 1,000 stay).
  o = await operate(`apply ${LARGE}`, () => coordinator.api.apply(largeYaml, 'scale-large.yaml'));
  keep(`apply_${LARGE}`, o);
  let largeDone = o.state === 'succeeded';
  if (largeDone) {
    expectOk(`apply ${LARGE}`, o, LARGE);
    phases[`apply_${LARGE}_spread`] = await expectNodes(`apply ${LARGE}`, large, LARGE);
    result[`rss_mb_after_${LARGE}`] = await rssNow();
    const t = performance.now();
    const listed = await coordinator.api
      .getNodes(large, '', false, { timeoutMs: 120_000 })
      .then((n) => `${n.length} nodes`)
      .catch((e: unknown) => `failed: ${e instanceof Error ? e.message : String(e)}`);
    result[`get_nodes_${LARGE}`] = { result: listed, s: round((performance.now() - t) / 1000) };
    say(`GetNodes of the ${LARGE}-node cluster through the coordinator: ${listed}`);
    o = await operate(`no-op re-apply ${LARGE}`, () => coordinator.api.apply(largeYaml, 'scale-large.yaml'));
    keep(`noop_${LARGE}`, o);
    if (o.state === 'succeeded') expectOk(`no-op ${LARGE}`, o, 0);
  } else {
    result[`apply_${LARGE}_progress`] = {
      state: o.state,
      actions_done: o.actionsDone,
      actions_total: o.actionsTotal,
      nodes_on_agents: (await countNodes(large).catch(() => null))?.total ?? null,
    };
    result[`noop_${LARGE}_s`] = null;
    largeDone = false;
  }

  o = await operate(`delete ${LARGE}`, () => coordinator.api.deleteCluster(large));
  keep(`teardown_${LARGE}`, o);
  expectOk(`delete ${LARGE}`, o, null);
  await expectNodes(`delete ${LARGE}`, large, 0);
  o = await operate(`delete ${SMALL}`, () => coordinator.api.deleteCluster(small));
  keep(`teardown_${SMALL}`, o);
  expectOk(`delete ${SMALL}`, o, null);
  await expectNodes(`delete ${SMALL}`, small, 0);

  const final = await rssNow();
  Object.assign(result, {
    coordinator_rss_mb: final.coordinator_hwm,
    agents_rss_mb_max: final.agents_hwm_max,
    nats_rss_mb: final.nats_hwm,
    agents_rss_mb: await Promise.all(agents.map((a) => statusMb(a.pid, 'VmHWM'))),
    small_spread: smallSpread,
    phases,
    targets_met: {
      schedule_10000_s: sched.scheduleS < TARGETS.schedule_10000_s,
      apply_1000_s:
        typeof result[`apply_${SMALL}_s`] === 'number' && (result[`apply_${SMALL}_s`] as number) < TARGETS.apply_1000_s,
      noop_1000_s:
        typeof result[`noop_${SMALL}_s`] === 'number' && (result[`noop_${SMALL}_s`] as number) < TARGETS.noop_1000_s,
    },
  });
});
