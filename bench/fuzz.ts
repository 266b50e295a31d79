/**
 * bench:fuzz — malformed input at live tenks daemons, seeded and reproducible.
 *
 *   npm run bench:fuzz [-- --seed N --ipmi-packets 1000000 --redfish-requests 100000 --specs 1000 \
 *     --nodes 4 --redfish-workers 24 --cli-parallel 4 --big-bodies 30 --partials 20 --slowloris 6]
 *
 * Setup: nats-server (`-p -1`, JetStream), tenks-coordinator and one tenks-agent on libvirt's
 * `test:///default`, each its own process, mTLS from deploy/make-certs.sh (bench/lib-stack/). The
 * agent binds gRPC to 127.0.0.1:0, its IPMI BMCs to ports the OS picks (range start 0) and Redfish
 * to port 0, and runs with a loopback inspector port so the bench can force garbage collections.
 * `--nodes` nodes with IPMI and Redfish BMCs are created over gRPC (EnsureNode).
 *
 * 1. IPMI (bench/fuzz-ipmi.ts): `--ipmi-packets` datagrams at the BMCs, half on raw lanes (mutated
 *    ipmitool captures from the shared reference, handshake payloads, random bytes, truncations),
 *    half on session lanes (real RMCP+ sessions, then mutations sealed with the session keys so
 *    they reach decryption, the sequence window and the commands). Batches with ASF-ping barriers
 *    bound what is in flight. Every reply is checked by the project's parser and by independent rules.
 * 2. Redfish (bench/fuzz-redfish.ts): `--redfish-requests` raw HTTP requests from
 *    `--redfish-workers` clients (single, keep-alive and pipelined), with path, header, auth and
 *    body abuse, 10 MB bodies, partial requests and slowloris connections. Every answer must be
 *    well-formed HTTP with a Redfish JSON body, within its deadline; no 500s, no 5xx to a GET.
 * 3. Agent RSS: settled (forced GCs, then the minimum of samples over 30 s, see SETTLE_MS) after a
 *    warm-up of both protocols (50,000 datagrams, 10,000 requests with `--big-bodies` 10 MB bodies,
 *    another seed: the allocator's high-water mark from large bodies is not growth), and again
 *    after 1 and 2;
 *    `rss_growth_mb` is the difference (`rss_growth_from_start_mb`: from before the warm-up;
 *    `live_growth_mb`: of the V8 heap in use plus external memory, what a leak would grow).
 * 4. Specs (bench/fuzz-spec.ts): at least `--specs` malformed cluster specs (mutated examples/*.yaml
 *    and shared compat files) through `tenksctl validate -f` and the coordinator's Plan and Apply;
 *    every rejection must name its field path; the agent's nodes and host view, the coordinator's
 *    clusters, and tenks links, OVS bridges and libvirt pools on the host must not change
 *    (bench/fuzz-host.ts).
 * 5. Crashes: every daemon still running (same process, never restarted) and answering.
 *
 * The same `--seed` gives the same inputs (the default is fixed and printed); what the servers
 * choose (session IDs, keys, tokens) differs between runs, so the bytes of sealed IPMI packets and
 * the tokens in Redfish requests do too. Progress on stderr; the LAST stdout line is one JSON object.
 * Everything started (processes, temp dir) is stopped and removed at the end, on failure and on
 * Ctrl-C. Exit status 1 when a target is missed.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentWire, channelOptions, silenceIpServerNameWarning } from '../common/index.js';
import { BootMode, NodeSpec } from '../proto/gen/tenks/v1/types.pb.js';
import { fuzzIpmi } from './fuzz-ipmi.js';
import { fuzzRedfish } from './fuzz-redfish.js';
import type { RedfishTarget } from './fuzz-redfish-requests.js';
import { hostChanges, snapshot } from './fuzz-host.js';
import { fuzzSpecs } from './fuzz-spec.js';
import { forceGc, inspectorAddress, memoryUsage } from './lib-inspector.js';
import { benchOptions } from './lib-options.js';
import { startAgent, waitForAgents } from './lib-stack/agent.js';
import { startCoordinator } from './lib-stack/coordinator.js';
import type { Daemon } from './lib-stack/daemon.js';
import { round } from './lib-stack/figures.js';
import { startNats } from './lib-stack/nats.js';
import { REPO } from './lib-stack/paths.js';
import { makePki } from './lib-stack/pki.js';
import { statusMb } from './lib-stack/proc-stats.js';
import { runBench, sayer } from './lib-stack/run-bench.js';
import { Stack } from './lib-stack/stack.js';
import { ensureBundle } from './lib-stack/tenksctl.js';

/**
 * Warm-up before the first memory reading, with as many 10 MB bodies as the measured run. Measured
 * here: draining a 10 MB body leaves 160 garbage 64 KiB chunks until the next GC, and a few such
 * bodies at once take the C allocator's heap 15 MB up for good (fragmented, never given back);
 * deep JSON documents move 10 MB more between the allocator and V8. That high-water mark is
 * reached within about 10,000 requests; counted from before them, it would pass for growth.
 */
const WARMUP_IPMI = 50_000;
const WARMUP_REDFISH = 10_000;

/** The seed when none is given (printed, so a run can be repeated). */
const DEFAULT_SEED = 20261205;

const options = benchOptions(
  {
    seed: { default: DEFAULT_SEED, min: 0 },
    'ipmi-packets': { default: 1_000_000, min: 1000 },
    'redfish-requests': { default: 100_000, min: 100 },
    specs: { default: 1000, min: 1 },
    nodes: { default: 4, min: 2 },
    'redfish-workers': { default: 24, min: 1 },
    'cli-parallel': { default: 4, min: 1 },
    'big-bodies': { default: 30, min: 0 },
    partials: { default: 20, min: 0 },
    slowloris: { default: 6, min: 0 },
  },
  { max: 0xffffffff },
);
const {
  seed: SEED,
  'ipmi-packets': IPMI_PACKETS,
  'redfish-requests': REDFISH_REQUESTS,
  specs: SPECS,
  nodes: NODES,
  'redfish-workers': REDFISH_WORKERS,
  'cli-parallel': CLI_PARALLEL,
  'big-bodies': BIG_BODIES,
  partials: PARTIALS,
  slowloris: SLOWLORIS,
} = options;

/** What the issue asks for; the counts are minimums, whatever the flags say. */
const TARGETS = {
  ipmi_packets_min: 1_000_000,
  redfish_requests_min: 100_000,
  specs_min: 1000,
  crashes: 0,
  rss_growth_mb_max: 10,
  malformed_replies: 0,
  spec_errors_without_path: 0,
  host_changes: 0,
};

const say = sayer('bench:fuzz');
const tag = randomBytes(3).toString('hex');
const BMC_CLUSTER = `fzbmc-${tag}`;
const SPEC_CLUSTER = `fzspec-${tag}`;
const USERNAME = 'admin';
const PASSWORD = randomBytes(9).toString('base64url');

silenceIpServerNameWarning();

/** The agent's memory, in MB. */
interface Memory {
  /** Settled RSS: see {@link agentMemory}. */
  rss: number;
  /** What is alive: the V8 heap in use, and memory outside it held by JavaScript objects (buffers). */
  heapUsed: number;
  external: number;
}

/**
 * How long the agent is left idle before its RSS counts as settled. Measured here: after a burst of
 * Redfish fuzz and forced GCs, RSS stays 10-15 MB up for 12-14 s, until V8's memory reducer gives
 * its pooled heap pages back (a GC forced meanwhile restarts that wait: with one every 10 s it never
 * comes); a reading taken earlier is that much off, in either direction.
 */
const SETTLE_MS = 30_000;

/**
 * Two forced GCs, then the minimum RSS of samples every 2 s for `settleMs`. The readings the growth
 * is computed from settle {@link SETTLE_MS}; the others, for information, less.
 */
async function agentMemory(agent: Daemon, inspector: string, settleMs = SETTLE_MS): Promise<Memory> {
  await forceGc(inspector);
  let min = Infinity;
  for (let t = 0; t < settleMs; t += 2000) {
    await sleep(2000);
    min = Math.min(min, await statusMb(agent.pid, 'VmRSS'));
  }
  const usage = await memoryUsage(inspector);
  const mb = (bytes: number | undefined): number => round((bytes ?? 0) / 1024 / 1024, 1);
  return { rss: min, heapUsed: mb(usage.heapUsed), external: mb(usage.external) };
}

/** `+1.5` / `-2`. */
function signed(x: number): string {
  return x >= 0 ? `+${x}` : String(x);
}

/** `NODES` nodes with IPMI and Redfish BMCs: what the protocol fuzzers aim at. */
async function createNodes(
  api: AgentWire,
): Promise<{ ipmiPorts: number[]; redfishPort: number; target: RedfishTarget }> {
  const ipmiPorts: number[] = [];
  const nodes: RedfishTarget['nodes'][number][] = [];
  let redfishPort = 0;
  for (let i = 0; i < NODES; i++) {
    const r = await api.ensureNode(
      NodeSpec.create({
        cluster: BMC_CLUSTER,
        name: `fz${i}`,
        memoryMb: 64,
        vcpus: 1,
        bootMode: BootMode.BOOT_MODE_BIOS,
        volumes: [{ name: 'root', capacity: '1MiB' }],
        bmc: { ipmiEnabled: true, redfishEnabled: true, username: USERNAME, password: PASSWORD, ipmiPort: 0 },
      }),
      false,
      { timeoutMs: 60_000 },
    );
    const n = r.node;
    const port = n?.bmc?.ipmi?.port ?? 0;
    const url = n?.bmc?.redfish?.url ?? '';
    if (!n || port === 0 || url === '') throw new Error(`node fz${i} came back without IPMI and Redfish endpoints`);
    ipmiPorts.push(port);
    redfishPort = Number(new URL(url).port);
    nodes.push({ uuid: n.uuid, name: n.name, volume: n.volumes[0]?.name ?? 'root' });
  }
  return { ipmiPorts, redfishPort, target: { nodes, username: USERNAME, password: PASSWORD } };
}

const t0 = performance.now();
const stack = await Stack.create('tenks-bench-fuzz-');
stack.closeOnSignals(say);
const result: Record<string, unknown> = {
  seed: SEED,
  ipmi_packets: 0,
  redfish_requests: 0,
  specs: 0,
  crashes: null,
  rss_growth_mb: null,
  malformed_replies: null,
  spec_errors_without_path: null,
  host_changes: null,
  targets: TARGETS,
};
await runBench(stack, say, result, async () => {
  say(`seed ${SEED} (repeat this run with --seed ${SEED}); run tag ${tag}`);
  await ensureBundle(say);
  const pki = await makePki(stack);
  const nats = await startNats(stack);
  const coordinator = await startCoordinator(stack, nats, pki, { callTimeoutMs: 60_000 });
  const agentId = `fuzz-${tag}`;
  const agent = await startAgent(stack, nats, pki, {
    id: agentId,
    libvirtUri: 'test:///default',
    poolName: `tenks-fuzz-${tag}`,
    ipmi: { start: 0, end: 0 },
    nodeArgs: ['--inspect=127.0.0.1:0'],
  });
  await waitForAgents(coordinator, [agent], [agentId]);
  const daemons = [nats.daemon, coordinator.daemon, agent];
  const pids = daemons.map((d) => d.pid);
  const inspector = inspectorAddress(agent.output());
  if (inspector === null) throw new Error(`the agent printed no inspector address:\n${agent.tail()}`);
  const address = (await coordinator.api.getAgents()).find((a) => a.id === agentId)?.address;
  if (!address) throw new Error('the coordinator does not list the agent');
  const api = new AgentWire(address, await pki.clientCredentials(), channelOptions({ address, tls: null }), 60_000);
  stack.onCleanup('agent client', () => {
    api.close();
    return Promise.resolve();
  });
  const { ipmiPorts, redfishPort, target } = await createNodes(api);
  const half = Math.max(1, Math.floor(ipmiPorts.length / 2));
  say(
    `setup: ${NODES} nodes with IPMI (ports ${ipmiPorts.join(', ')}) and Redfish (port ${redfishPort}) in ${round((performance.now() - t0) / 1000, 1)} s`,
  );

  const ipmiOptions = {
    host: '127.0.0.1',
    rawPorts: ipmiPorts.slice(0, half),
    sessionPorts: ipmiPorts.slice(half),
    username: USERNAME,
    password: PASSWORD,
    batch: 64,
    window: 4,
    batchesPerSession: 40,
    say,
  };
  const redfishOptions = { port: redfishPort, target, workers: REDFISH_WORKERS, say };

  // ---- RSS before: after a warm-up of both protocols (a different seed, so the measured inputs stay the run's).
  const memStart = await agentMemory(agent, inspector, 4000);
  await fuzzIpmi({ ...ipmiOptions, packets: WARMUP_IPMI, seed: SEED ^ 0x5a5a5a5a });
  await fuzzRedfish({
    ...redfishOptions,
    requests: WARMUP_REDFISH,
    seed: SEED ^ 0x5a5a5a5a,
    bigBodies: BIG_BODIES,
    partials: 1,
    slowloris: 0,
  });
  const memBefore = await agentMemory(agent, inspector);
  say(`agent memory at start ${JSON.stringify(memStart)} MB, after the warm-up ${JSON.stringify(memBefore)} MB`);

  // ---- 1. IPMI.
  const ipmi = await fuzzIpmi({ ...ipmiOptions, packets: IPMI_PACKETS, seed: SEED });
  say(
    `IPMI: ${ipmi.packets} datagrams in ${ipmi.seconds} s (${ipmi.packets_per_s}/s), ${ipmi.replies} replies, ${ipmi.malformed} malformed, ${ipmi.barriers_lost} barriers lost, ${ipmi.handshakes - ipmi.handshakes_failed}/${ipmi.handshakes} sessions`,
  );

  const memAfterIpmi = await agentMemory(agent, inspector, 4000);

  // ---- 2. Redfish.
  const redfish = await fuzzRedfish({
    ...redfishOptions,
    requests: REDFISH_REQUESTS,
    seed: SEED,
    bigBodies: BIG_BODIES,
    partials: PARTIALS,
    slowloris: SLOWLORIS,
  });
  say(
    `Redfish: ${redfish.requests} requests in ${redfish.seconds} s (${redfish.requests_per_s}/s), ${redfish.malformed} malformed, ${redfish.no_response} unanswered, ${redfish.hangs} hangs, ${redfish.server_errors} server errors; slowloris closed by the server ${redfish.slowloris.closed_by_server}/${redfish.slowloris.connections}`,
  );

  // ---- 3. RSS after.
  const memAfter = await agentMemory(agent, inspector);
  const rssGrowth = round(memAfter.rss - memBefore.rss, 1);
  say(
    `agent memory after IPMI ${JSON.stringify(memAfterIpmi)} MB, after Redfish ${JSON.stringify(memAfter)} MB: RSS ${signed(rssGrowth)} MB (${signed(round(memAfter.rss - memStart.rss, 1))} MB from the start)`,
  );

  // ---- 4. Specs.
  const before = await snapshot(api, coordinator.api);
  const specs = await fuzzSpecs({
    repo: REPO,
    dir: join(stack.dir, 'specs'),
    cluster: SPEC_CLUSTER,
    seed: SEED,
    specs: SPECS,
    parallel: CLI_PARALLEL,
    coordinator: coordinator.api,
    say,
  });
  const after = await snapshot(api, coordinator.api);
  const changes = hostChanges(before, after, SPEC_CLUSTER);
  say(
    `specs: ${specs.specs} malformed (+${specs.valid_mutants} valid mutants) in ${specs.seconds} s, ${specs.spec_errors_without_path} without a path, ${specs.cli_mismatches} CLI and ${specs.coordinator_mismatches} coordinator mismatches, ${changes.ours.length} host changes (${changes.elsewhere.length} by others)`,
  );

  // ---- 5. Crashes: the same processes, alive and answering.
  const crashed: string[] = [];
  // Nothing here restarts a daemon: one that exited (or is another process now) would need a restart.
  const exited = daemons.filter((d, i) => !d.alive || d.pid !== pids[i]);
  for (const d of exited) crashed.push(`${d.name}: ${d.tail(400)}`);
  const answers = await Promise.all([
    coordinator.api.getInfo({ timeoutMs: 10_000 }).then(
      () => null,
      (e: unknown) => `coordinator GetInfo: ${String(e)}`,
    ),
    api.hostInfo({ timeoutMs: 10_000 }).then(
      () => null,
      (e: unknown) => `agent GetHostInfo: ${String(e)}`,
    ),
  ]);
  for (const a of answers) if (a !== null) crashed.push(a);

  const malformed = ipmi.malformed + redfish.malformed;
  Object.assign(result, {
    ipmi_packets: ipmi.packets,
    redfish_requests: redfish.requests,
    specs: specs.specs,
    crashes: crashed.length,
    rss_growth_mb: rssGrowth,
    malformed_replies: malformed,
    spec_errors_without_path: specs.spec_errors_without_path,
    host_changes: changes.ours.length,
    redfish_hangs: redfish.hangs,
    redfish_unanswered: redfish.no_response,
    redfish_server_errors: redfish.server_errors,
    slowloris_not_closed: redfish.slowloris.connections - redfish.slowloris.closed_by_server,
    spec_cli_mismatches: specs.cli_mismatches,
    spec_coordinator_mismatches: specs.coordinator_mismatches,
    restarts: exited.length,
    agent_memory_mb: { start: memStart, after_warmup: memBefore, after_ipmi: memAfterIpmi, after_fuzz: memAfter },
    rss_growth_from_start_mb: round(memAfter.rss - memStart.rss, 1),
    live_growth_mb: round(memAfter.heapUsed + memAfter.external - memBefore.heapUsed - memBefore.external, 1),
    crash_details: crashed,
    host_change_details: changes.ours.slice(0, 20),
    host_changes_by_others: changes.elsewhere.slice(0, 20),
    host_unreadable: after.unreadable,
    ipmi,
    redfish,
    spec: specs,
    nodes: NODES,
    wall_s: round((performance.now() - t0) / 1000, 1),
  });
  const met = {
    ipmi_packets: ipmi.packets >= TARGETS.ipmi_packets_min,
    redfish_requests: redfish.requests >= TARGETS.redfish_requests_min,
    specs: specs.specs >= TARGETS.specs_min,
    crashes: crashed.length === 0,
    rss_growth: rssGrowth < TARGETS.rss_growth_mb_max,
    malformed_replies: malformed === 0,
    spec_errors_with_path: specs.spec_errors_without_path === 0,
    host_changes: changes.ours.length === 0,
    redfish_answers_every_request_in_time: redfish.hangs === 0 && redfish.no_response === 0,
    redfish_no_server_errors: redfish.server_errors === 0,
    slowloris_closed: redfish.slowloris.closed_by_server === redfish.slowloris.connections,
    spec_cli_and_coordinator_agree: specs.cli_mismatches === 0 && specs.coordinator_mismatches === 0,
  };
  result.targets_met = met;
  const missed = Object.entries(met)
    .filter(([, ok]) => !ok)
    .map(([k]) => k);
  if (missed.length > 0) {
    say(`targets missed: ${missed.join(', ')}`);
    process.exitCode = 1;
  } else say('every target met');
});
