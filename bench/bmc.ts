/**
 * bench:bmc — tenks' IPMI BMC side by side with pyghmi's Bmc class (the engine inside VirtualBMC),
 * in one run, plus Redfish GET System throughput.
 *
 *   npm run bench:bmc [-- --nodes 1000 --load-ports 100 --pyghmi-processes 100 --seconds 10 \
 *     --warmup 2 --concurrency 64 --load-processes 1 --repeat 3 --wrk-seconds 10 --wrk-connections 32]
 *
 * Needs libvirtd (the agent uses the `test:///default` driver), Debian's python3-pyghmi (run with
 * /usr/bin/python3), ipmitool and wrk. Every port is chosen by the OS (bind to 0). Every process
 * started here is its own process group and is killed at the end, even on failure; the temp dir goes
 * too. Progress goes to stderr; the LAST stdout line is one JSON object (keys below).
 *
 * 1. tenks memory per BMC. A real agent process (bin/tenks-agent.js, test driver, BMCs on 127.0.0.1
 *    with OS-chosen ports) ensures nodes over gRPC with `bmc: { ipmiEnabled, username, password }`;
 *    its VmRSS is read at 1, 100, 200, ... and `--nodes` (N) nodes (`tenks_rss_kb_at_1/100/N`, all
 *    in `tenks_rss_series`). Each reading follows two full GCs forced through the agent's inspector
 *    (started with `--inspect=127.0.0.1:0`, used only from here): without them RSS carries tens of
 *    MB of garbage that V8 frees only after 15-30 s idle, which buries a per-node cost of a few KB.
 *    The slope covers the whole node: the test driver's domain (that driver lives inside the agent
 *    process), the node manager's records, the BMC's credential record, UDP socket and session
 *    table. `node_with_bmc_rss_kb_per_node` is the median of the slopes between consecutive
 *    readings, which one reading the allocator threw off cannot move: at some random reading the
 *    anonymous RSS drops by 10-15 MB the C allocator had kept (forced GC or not), which moves the
 *    two-point slope (RSS@N - RSS@1) / (N - 1), reported as `*_two_point`, by 10-15 KB per node
 *    over 1000 nodes. A second agent ensures
 *    the same nodes without a BMC (`node_rss_kb_per_node*`, the node's own cost), then turns IPMI on
 *    for them in place, 100 at a time: `bmc_rss_kb_per_node` is the median step of that series, the
 *    BMC's share measured in one process on the same nodes (`_two_point`: RSS growth / N;
 *    `bmc_heap_kb_per_node`: its V8 heap part, deterministic but only the JS objects). Cross-check:
 *    `bmc_rss_kb_per_node_by_difference*` = slope with BMC - slope without, across the two agents
 *    (noisier: two processes, two allocator histories).
 * 2. pyghmi memory. bench/pyghmi_bmc.py (a pyghmi Bmc subclass with in-memory state, no libvirt)
 *    runs one process per BMC, as VirtualBMC does: 1, then `--pyghmi-processes` of them;
 *    `pyghmi_rss_kb_per_node` = sum of VmRSS / count (`pyghmi_pss_kb_per_node`: PSS, which splits
 *    shared library pages between the processes). pyghmi keeps every session forever, hence
 *    `pyghmi_rss_kb_per_node_after_load`.
 * 3. Sessions per second. bench/ipmi-load.ts, in its own process(es), runs complete lanplus `power
 *    status` sessions as ipmitool does them (auth caps in IPMI 1.5 framing, open session, RAKP 1-4,
 *    set privilege ADMINISTRATOR, chassis status, close session; every reply verified: HMACs, MACs,
 *    decryption, checksums, completion codes), a new UDP source port per session, spread round-robin
 *    over `--load-ports` BMCs (tenks: that many BMCs of the one agent, which holds `--nodes`; pyghmi:
 *    that many processes), `--concurrency` sessions in flight, 1 s retransmit timeout, 4 retries.
 *    Suite 3 for both (`ipmi_sessions_per_s`, `pyghmi_sessions_per_s`: the median of `--repeat`
 *    runs, each in `*.sessions_per_s_runs`; pyghmi has only suite 3), and suite 17 for tenks
 *    (`ipmi_sessions_per_s_suite17`). `*_ipmitool_flow`: suite 3 with the four probes the real
 *    ipmitool 1.8.19 sends before the command (HPM.x capabilities, device ID, PICMG, VSO): 11
 *    exchanges per session instead of 7. The machine's 2 cores are shared by the generator and the
 *    BMC(s): the agent is one thread, so one generator process (the default) leaves about one core
 *    to each; `--load-processes` splits ports and concurrency over more generators
 *    (reported as `load_processes`). `bmc_cores` / `bmc_cpu_ms_per_session` (from /proc/<pid>/stat
 *    over the measured window) show what a session costs the BMC independent of the machine's load;
 *    `*_sessions_per_bmc_core_s` = 1000 / that: the rate one fully busy core would sustain.
 *    The real ipmitool checks both BMCs answer `Chassis Power is off` and times a whole run, process
 *    start included (`ipmitool_*_ms`: default cipher choice, i.e. 17 on tenks and 3 on pyghmi).
 * 4. Redfish GET System. Node 0 of the tenks agent also gets Redfish; wrk (`-t2`, HTTP Basic with the
 *    node's BMC credentials) hammers `<url><system_id>` from the EnsureNode response
 *    (`redfish_get_per_s`; null with `redfish_error` when GET System does not answer 200 with the
 *    node's document, or on any non-2xx reply).
 *
 * `targets` / `targets_met`: under 100 KB per additional BMC, at least 1,000 sessions/s (suite 3),
 * at least 3,000 Redfish GET System per second.
 *
 * The parts: bench/bmc-agent.ts (the agent under test and its nodes), bmc-memory.ts (readings and
 * slopes), bmc-load.ts (the generators of 3), bmc-pyghmi.ts (the pyghmi processes of 2) and
 * bmc-tools.ts (ipmitool and wrk runs).
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import type { NodeStatus } from '../proto/gen/tenks/v1/types.pb.js';
import { agentMemory, ensureRange, nodeSpec, startAgent, stopAgent, type BmcCredentials } from './bmc-agent.js';
import { describeLoad, LoadGenerator, perCore } from './bmc-load.js';
import { medianStep, procStatusKb, pssKb, readAlong, readingPoints, seriesOf, settledRssKb } from './bmc-memory.js';
import { startPyghmi, startPyghmis, type Pyghmi } from './bmc-pyghmi.js';
import { ipmitool, wrk } from './bmc-tools.js';
import { numberOptions } from './lib-options.js';
import { sleep, Stack } from './lib-stack.js';
import { round } from './lib-stack/figures.js';
import { sayer } from './lib-stack/run-bench.js';

const options = numberOptions({
  nodes: { default: 1000, min: 101 },
  'load-ports': { default: 100, min: 1 },
  'pyghmi-processes': { default: 100, min: 2 },
  seconds: { default: 10, min: 1 },
  concurrency: { default: 64, min: 1 },
  'load-processes': { default: 1, min: 1 },
  'wrk-seconds': { default: 10, min: 1 },
  'wrk-connections': { default: 32, min: 1 },
  repeat: { default: 3, min: 1 },
  warmup: { default: 2, min: 0, integer: false },
});
const {
  nodes: N,
  'load-ports': LOAD_PORTS,
  'pyghmi-processes': PYGHMI_N,
  seconds: SECONDS,
  concurrency: CONCURRENCY,
  'load-processes': LOAD_PROCESSES,
  'wrk-seconds': WRK_SECONDS,
  'wrk-connections': WRK_CONNECTIONS,
  repeat: REPEAT,
  warmup: WARMUP,
} = options;
if (LOAD_PORTS > N || LOAD_PORTS > PYGHMI_N)
  throw new Error('--load-ports must not exceed --nodes or --pyghmi-processes');

/** Every BMC of the run, tenks' and pyghmi's, has these credentials. */
const CREDS: BmcCredentials = { username: 'admin', password: randomBytes(8).toString('hex') };
const TARGETS = { bmc_rss_kb_per_node_max: 100, ipmi_sessions_per_s_min: 1000, redfish_get_per_s_min: 3000 };

const say = sayer('bench:bmc');

const stack = await Stack.create('tenks-bench-bmc-');
const run = { interrupted: false, failure: null as string | null };
const onSignal = (): void => {
  run.interrupted = true;
  say('interrupted: stopping every process started');
  void stack.close(say).finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

const generator = new LoadGenerator(
  stack,
  {
    creds: CREDS,
    seconds: SECONDS,
    warmup: WARMUP,
    concurrency: CONCURRENCY,
    processes: LOAD_PROCESSES,
    repeat: REPEAT,
  },
  say,
);

/** Per-node RSS slopes of the no-BMC agent (two-point, median step), subtracted from the BMC agent's. */
let nodeTwoPoint = 0;
let nodeMedian = 0;
const result: Record<string, unknown> = {
  cores: cpus().length,
  loadavg_at_start: round(loadavg()[0] ?? 0, 2),
  nodes: N,
  targets: TARGETS,
};

try {
  say(`cores ${cpus().length}, load average ${round(loadavg()[0] ?? 0, 2)}; temp dir ${stack.dir}`);

  // --- 1a. Nodes without a BMC: the node's own cost; then a BMC added to each, in place.
  {
    const a = await startAgent(stack, 'nobmc');
    try {
      let t = performance.now();
      const grown = await readAlong(
        readingPoints(N),
        async (from, to) => {
          await ensureRange(a, from, to, { ipmi: false, redfish: false }, CREDS);
        },
        () => agentMemory(a),
      );
      say(
        `no-BMC agent: ${N} ensures (${grown.length} memory readings) in ${round((performance.now() - t) / 1000, 2)} s`,
      );
      const at1 = grown[0]!;
      const atN = grown[grown.length - 1]!;
      t = performance.now();
      const added = await readAlong(
        readingPoints(N).slice(1),
        async (from, to) => {
          await ensureRange(a, from, to, { ipmi: true, redfish: false }, CREDS);
        },
        () => agentMemory(a),
      );
      say(`no-BMC agent: IPMI turned on for its ${N} nodes in ${round((performance.now() - t) / 1000, 2)} s`);
      const inPlace = [{ ...atN, count: 0 }, ...added];
      const withBmc = inPlace[inPlace.length - 1]!;
      nodeTwoPoint = (atN.rssKb - at1.rssKb) / (N - 1);
      nodeMedian = medianStep(grown);
      Object.assign(result, {
        tenks_nobmc_rss_kb_at_1: at1.rssKb,
        [`tenks_nobmc_rss_kb_at_${N}`]: atN.rssKb,
        node_rss_kb_per_node: round(nodeMedian, 1),
        node_rss_kb_per_node_two_point: round(nodeTwoPoint, 1),
        bmc_rss_kb_per_node: round(medianStep(inPlace), 1),
        bmc_rss_kb_per_node_two_point: round((withBmc.rssKb - atN.rssKb) / N, 1),
        bmc_heap_kb_per_node: round((withBmc.heapKb - atN.heapKb) / N, 2),
        tenks_nobmc_rss_series: seriesOf(grown),
        tenks_bmc_in_place_rss_series: seriesOf(inPlace),
      });
      say(
        `no-BMC agent: RSS ${at1.rssKb} KB at 1 node, ${atN.rssKb} KB at ${N}: ${round(nodeMedian, 1)} KB per node ` +
          `(median step; two-point ${round(nodeTwoPoint, 1)}); ${withBmc.rssKb} KB once all have an IPMI BMC: ` +
          `${round(medianStep(inPlace), 1)} KB per BMC added in place (median step; V8 heap +${round((withBmc.heapKb - atN.heapKb) / N, 2)} KB per BMC)`,
      );
    } finally {
      await stopAgent(a);
    }
  }

  // --- 1b. Nodes with an IPMI BMC; then sessions, ipmitool and Redfish on this agent.
  {
    const a = await startAgent(stack, 'bmc');
    try {
      const nodes = new Map<number, NodeStatus>();
      const t = performance.now();
      const grown = await readAlong(
        readingPoints(N),
        async (from, to) => {
          for (const [i, n] of await ensureRange(a, from, to, { ipmi: true, redfish: false }, CREDS)) nodes.set(i, n);
        },
        () => agentMemory(a),
      );
      say(
        `BMC agent: ${N} ensures with an IPMI BMC (${grown.length} memory readings) in ${round((performance.now() - t) / 1000, 2)} s`,
      );
      const at1 = grown[0]!;
      const at100 = grown.find((m) => m.count === 100)!;
      const atN = grown[grown.length - 1]!;
      const twoPoint = (atN.rssKb - at1.rssKb) / (N - 1);
      const median = medianStep(grown);
      Object.assign(result, {
        tenks_rss_kb_at_1: at1.rssKb,
        tenks_rss_kb_at_100: at100.rssKb,
        [`tenks_rss_kb_at_${N}`]: atN.rssKb,
        node_with_bmc_rss_kb_per_node: round(median, 1),
        node_with_bmc_rss_kb_per_node_two_point: round(twoPoint, 1),
        bmc_rss_kb_per_node_by_difference: round(median - nodeMedian, 1),
        bmc_rss_kb_per_node_by_difference_two_point: round(twoPoint - nodeTwoPoint, 1),
        tenks_rss_series: seriesOf(grown),
      });
      say(
        `BMC agent: RSS ${at1.rssKb} KB at 1 node, ${at100.rssKb} KB at 100, ${atN.rssKb} KB at ${N}: ` +
          `${round(median, 1)} KB per node with BMC (median step; two-point ${round(twoPoint, 1)}); the BMC's share ` +
          `${round(median - nodeMedian, 1)} KB by difference with the no-BMC agent (median steps), ` +
          `${round(twoPoint - nodeTwoPoint, 1)} KB (two-point)`,
      );

      const ports = Array.from({ length: N }, (_, i) => nodes.get(i)?.bmc?.ipmi?.port ?? 0);
      if (ports.some((p) => p === 0)) throw new Error('a node came back without an IPMI port');
      const loadPorts = ports.slice(0, LOAD_PORTS);

      // ipmitool: default (as Ironic: cipher discovery picks 17), -C 3, -C 17.
      const port0 = ports[0] ?? 0;
      const tool = await ipmitool(port0, CREDS, [], 5);
      const tool3 = await ipmitool(port0, CREDS, ['-C', '3'], 5);
      const tool17 = await ipmitool(port0, CREDS, ['-C', '17'], 1);
      say(
        `ipmitool vs tenks: "${tool.output}" (median ${tool.median_ms} ms), -C 3 ${tool3.ok ? 'ok' : `FAILED: ${tool3.output}`}, -C 17 ${tool17.ok ? 'ok' : `FAILED: ${tool17.output}`}`,
      );
      Object.assign(result, {
        ipmitool_tenks_ok: tool.ok && tool3.ok && tool17.ok,
        ipmitool_tenks_output: tool.output,
        ipmitool_tenks_ms: tool.median_ms,
        ipmitool_tenks_ms_suite3: tool3.median_ms,
      });

      const l3 = await generator.median('tenks', loadPorts, 3, [a.pid]);
      const l17 = await generator.run(loadPorts, 17, [a.pid]);
      say(describeLoad('tenks', l17));
      const lFull = await generator.run(loadPorts, 3, [a.pid], 'ipmitool');
      say(describeLoad('tenks', lFull));
      const afterLoad = await agentMemory(a);
      Object.assign(result, {
        ipmi_sessions_per_s: l3.sessions_per_s,
        ipmi_sessions_per_s_suite17: l17.sessions_per_s,
        ipmi_sessions_per_s_ipmitool_flow: lFull.sessions_per_s,
        ipmi_sessions_per_bmc_core_s: perCore(l3),
        load_processes: l3.load_processes,
        tenks_load_suite3: l3,
        tenks_load_suite17: l17,
        tenks_load_suite3_ipmitool_flow: lFull,
        tenks_rss_kb_after_load: afterLoad.rssKb,
        tenks_peak_rss_kb: await procStatusKb(a.pid, 'VmHWM'),
      });

      // Redfish on node 0 (IPMI stays on).
      const r = await a.api.ensureNode(nodeSpec(0, { ipmi: true, redfish: true }, CREDS));
      const ep = r.node?.bmc?.redfish;
      if (!ep?.url || !ep.systemId) {
        Object.assign(result, { redfish_get_per_s: null, redfish_error: 'EnsureNode reported no Redfish endpoint' });
      } else {
        const url = `${ep.url}${ep.systemId}`;
        let error: string | null = null;
        try {
          const res = await fetch(url, {
            headers: {
              Authorization: `Basic ${Buffer.from(`${CREDS.username}:${CREDS.password}`).toString('base64')}`,
            },
            signal: AbortSignal.timeout(10_000),
          });
          const text = await res.text();
          if (res.status !== 200) error = `GET System answered ${res.status}: ${text.slice(0, 300)}`;
          else if ((JSON.parse(text) as { Id?: unknown }).Id !== r.node?.uuid)
            error = `GET System returned another system: ${text.slice(0, 300)}`;
        } catch (e) {
          error = `GET System failed: ${String(e)}`;
        }
        if (error) {
          say(`Redfish: ${error}`);
          Object.assign(result, { redfish_get_per_s: null, redfish_error: error });
        } else {
          const w = await wrk(url, CREDS, { connections: WRK_CONNECTIONS, seconds: WRK_SECONDS });
          say(
            `Redfish GET System: ${w.requests_per_s} req/s (wrk -t2 -c${WRK_CONNECTIONS}, latency avg ${w.latency_avg}), non-2xx ${w.non_2xx}${w.socket_errors ? `, socket errors ${w.socket_errors}` : ''}`,
          );
          Object.assign(result, {
            redfish_get_per_s: w.error ? null : w.requests_per_s,
            redfish_get_per_s_measured: w.requests_per_s,
            redfish_non_2xx: w.non_2xx,
            redfish_socket_errors: w.socket_errors,
            redfish_latency_avg: w.latency_avg,
            redfish_error: w.error,
            redfish_agent_nodes: N,
          });
        }
      }
    } finally {
      await stopAgent(a);
    }
  }

  // --- 2, 3. pyghmi: memory at 1 and PYGHMI_N processes, ipmitool, sessions.
  {
    const bmcs: Pyghmi[] = [];
    try {
      bmcs.push(await startPyghmi(stack, CREDS));
      const first = bmcs[0]!;
      const at1 = await settledRssKb(first.pid);
      const tool = await ipmitool(first.port, CREDS, [], 5);
      say(`ipmitool vs pyghmi: "${tool.output}" (median ${tool.median_ms} ms)`);
      const t = performance.now();
      bmcs.push(...(await startPyghmis(stack, CREDS, PYGHMI_N - 1)));
      say(`pyghmi: ${PYGHMI_N} processes started (${round((performance.now() - t) / 1000, 2)} s for ${PYGHMI_N - 1})`);
      await sleep(2000);
      const rss = await Promise.all(bmcs.map((b) => procStatusKb(b.pid, 'VmRSS')));
      const pss = await Promise.all(bmcs.map((b) => pssKb(b.pid)));
      const perProcess = rss.reduce((x, y) => x + y, 0) / bmcs.length;
      const pssPer = pss.reduce((x, y) => x + y, 0) / bmcs.length;
      say(
        `pyghmi: RSS ${at1} KB for 1 process; ${round(perProcess, 1)} KB per process at ${bmcs.length} (PSS ${round(pssPer, 1)} KB)`,
      );

      const loaded = bmcs.slice(0, LOAD_PORTS);
      const lp = await generator.median(
        'pyghmi',
        loaded.map((b) => b.port),
        3,
        loaded.map((b) => b.pid),
      );
      const lpFull = await generator.run(
        loaded.map((b) => b.port),
        3,
        loaded.map((b) => b.pid),
        'ipmitool',
      );
      say(describeLoad('pyghmi', lpFull));
      await sleep(1000);
      const rssAfter = await Promise.all(loaded.map((b) => procStatusKb(b.pid, 'VmRSS')));
      Object.assign(result, {
        pyghmi_sessions_per_s: lp.sessions_per_s,
        pyghmi_sessions_per_s_ipmitool_flow: lpFull.sessions_per_s,
        pyghmi_sessions_per_bmc_core_s: perCore(lp),
        pyghmi_load_suite3: lp,
        pyghmi_load_suite3_ipmitool_flow: lpFull,
        pyghmi_rss_kb_at_1: at1,
        pyghmi_rss_kb_per_node: round(perProcess, 1),
        pyghmi_processes: bmcs.length,
        pyghmi_pss_kb_per_node: round(pssPer, 1),
        // pyghmi never frees a session: each one ipmitool (or the generator) opens stays in memory.
        pyghmi_rss_kb_per_node_after_load: round(rssAfter.reduce((x, y) => x + y, 0) / rssAfter.length, 1),
        ipmitool_pyghmi_ok: tool.ok,
        ipmitool_pyghmi_output: tool.output,
        ipmitool_pyghmi_ms: tool.median_ms,
      });
    } finally {
      await Promise.all(bmcs.map((b) => b.daemon.stop(2000)));
    }
  }

  const bmcKb = result.bmc_rss_kb_per_node as number;
  const sps = result.ipmi_sessions_per_s as number;
  const rf = result.redfish_get_per_s as number | null;
  result.targets_met = {
    memory: bmcKb < TARGETS.bmc_rss_kb_per_node_max,
    sessions: sps >= TARGETS.ipmi_sessions_per_s_min,
    redfish: rf !== null && rf >= TARGETS.redfish_get_per_s_min,
  };
} catch (e) {
  run.failure = e instanceof Error ? e.message : String(e);
  result.error = run.failure;
  process.exitCode = 1;
} finally {
  await stack.close(say);
}

if (!run.interrupted) {
  if (run.failure !== null) say(`FAILED: ${run.failure}`);
  console.log(JSON.stringify(result));
}
