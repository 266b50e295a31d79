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
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { BootMode, NodeSpec, type NodeStatus } from '../proto/gen/tenks/v1/types.pb.js';
import { AgentWire } from '../common/index.js';
import { freePort } from '../test/helpers/net.js';
import { forceGc, inspectorAddress, inspectorCall } from './lib-inspector.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    'load-ports': { type: 'string', default: '100' },
    'pyghmi-processes': { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
    'load-processes': { type: 'string', default: '1' },
    'wrk-seconds': { type: 'string', default: '10' },
    'wrk-connections': { type: 'string', default: '32' },
    repeat: { type: 'string', default: '3' },
  },
  strict: true,
});
const N = Number(values.nodes);
const LOAD_PORTS = Number(values['load-ports']);
const PYGHMI_N = Number(values['pyghmi-processes']);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const CONCURRENCY = Number(values.concurrency);
const LOAD_PROCESSES = Number(values['load-processes']);
const WRK_SECONDS = Number(values['wrk-seconds']);
const WRK_CONNECTIONS = Number(values['wrk-connections']);
const REPEAT = Number(values.repeat);
for (const [name, v, min] of [
  ['--nodes', N, 101],
  ['--load-ports', LOAD_PORTS, 1],
  ['--pyghmi-processes', PYGHMI_N, 2],
  ['--seconds', SECONDS, 1],
  ['--concurrency', CONCURRENCY, 1],
  ['--load-processes', LOAD_PROCESSES, 1],
  ['--wrk-seconds', WRK_SECONDS, 1],
  ['--wrk-connections', WRK_CONNECTIONS, 1],
  ['--repeat', REPEAT, 1],
] as const)
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}`);
if (LOAD_PORTS > N || LOAD_PORTS > PYGHMI_N)
  throw new Error('--load-ports must not exceed --nodes or --pyghmi-processes');
if (!(WARMUP >= 0)) throw new Error('--warmup must be >= 0');

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
/** Debian's interpreter: the one that can import python3-pyghmi. */
const PYTHON = '/usr/bin/python3';
const USERNAME = 'admin';
const PASSWORD = randomBytes(8).toString('hex');
const CLUSTER = 'benchbmc';
const ENSURE_CONCURRENCY = 32;
const TARGETS = { bmc_rss_kb_per_node_max: 100, ipmi_sessions_per_s_min: 1000, redfish_get_per_s_min: 3000 };
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (line: string): void => {
  process.stderr.write(`bench:bmc: ${line}\n`);
};

// ---------------------------------------------------------------------------------------------
// Processes: each in its own group, all killed at the end.

const children = new Set<ChildProcess>();

function spawnGroup(file: string, args: readonly string[]): ChildProcess {
  const child = spawn(file, args, { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function alive(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

/** SIGTERM to the child's process group, SIGKILL after `graceMs`. */
async function killGroup(c: ChildProcess, graceMs = 5000): Promise<void> {
  if (!alive(c) || c.pid === undefined) return;
  const pid = c.pid;
  const exited = new Promise<void>((r) => {
    c.once('exit', () => {
      r();
    });
  });
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(-pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => {
    signal('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
  // Anything the child left behind in its group.
  signal('SIGKILL');
}

/** The child's output, kept (last 64 KB) for error messages. */
function captured(c: ChildProcess): { out: () => string } {
  let text = '';
  const add = (b: Buffer): void => {
    text = (text + b.toString('utf8')).slice(-65536);
  };
  c.stdout?.on('data', add);
  c.stderr?.on('data', add);
  return { out: () => text };
}

function runToEnd(
  file: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// /proc readings.

async function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
}

async function pssKb(pid: number): Promise<number> {
  const t = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+)/m.exec(t)?.[1] ?? NaN);
}

/** CPU time (user + system) of a process so far, in ms. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** RSS once a process has calmed down: the minimum of several samples after a pause. */
async function settledRssKb(pid: number, pauseMs = 2000, samples = 3, everyMs = 300): Promise<number> {
  await sleep(pauseMs);
  let min = Infinity;
  for (let i = 0; i < samples; i++) {
    min = Math.min(min, await procStatusKb(pid, 'VmRSS'));
    if (i < samples - 1) await sleep(everyMs);
  }
  return min;
}

// ---------------------------------------------------------------------------------------------
// The tenks agent.

interface Agent {
  proc: ChildProcess;
  pid: number;
  api: AgentWire;
  log: { out: () => string };
  /** The agent's inspector WebSocket (loopback, OS-chosen port), for forcing a GC. */
  inspector: string;
}

/** An agent's memory after a forced full GC. */
interface AgentMemory {
  rssKb: number;
  /** V8 heap in use (JS objects); the rest of the RSS is native: libvirt's test driver, handles, code. */
  heapKb: number;
}

/**
 * The agent's RSS after two forced full GCs (through the inspector), as the minimum of a few
 * samples. Without the GC, RSS at a given node count swings by tens of MB with garbage the V8
 * memory reducer frees only after 15-30 s of idling, which buries a per-node cost of a few KB.
 */
async function agentMemory(a: Agent): Promise<AgentMemory> {
  await forceGc(a.inspector);
  const heap = (await inspectorCall(a.inspector, 'Runtime.getHeapUsage')) as { usedSize: number };
  return { rssKb: await settledRssKb(a.pid, 1000, 3, 300), heapKb: Math.round(heap.usedSize / 1024) };
}

async function startAgent(dir: string, name: string): Promise<Agent> {
  const port = await freePort();
  const config = {
    listen: `127.0.0.1:${port}`,
    insecure_loopback: true,
    libvirt_uri: 'test:///default',
    storage: { pool_name: `tenks-bench-bmc-${name}`, pool_path: join(dir, name, 'pool') },
    bmc: { listen_address: '127.0.0.1', ipmi_port_range_start: 0, ipmi_port_range_end: 0, redfish_port: 0 },
    state_dir: join(dir, name, 'state'),
    log_directory: join(dir, name, 'log'),
    log_level: 'warn',
    shutdown_grace_s: 2,
  };
  const file = join(dir, `${name}.yaml`);
  // JSON is YAML.
  await writeFile(file, JSON.stringify(config, null, 2));
  const proc = spawnGroup(process.execPath, ['--inspect=127.0.0.1:0', 'bin/tenks-agent.js', '--config', file]);
  const log = captured(proc);
  const api = new AgentWire(`127.0.0.1:${port}`, credentials.createInsecure(), {}, 120_000);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await api.hostInfo({ timeoutMs: 2000 });
      break;
    } catch (e) {
      if (Date.now() > deadline || !alive(proc)) {
        api.close();
        throw new Error(`agent ${name} did not come up: ${String(e)}\n${log.out()}`);
      }
      await sleep(200);
    }
  }
  const inspector = inspectorAddress(log.out());
  if (!inspector) {
    api.close();
    await killGroup(proc);
    throw new Error(`agent ${name}: no inspector address in its output:\n${log.out()}`);
  }
  return { proc, pid: proc.pid ?? 0, api, log, inspector };
}

async function stopAgent(a: Agent): Promise<void> {
  a.api.close();
  await killGroup(a.proc, 10_000);
}

interface BmcWanted {
  ipmi: boolean;
  redfish: boolean;
}

function spec(i: number, bmc: BmcWanted): NodeSpec {
  return NodeSpec.create({
    cluster: CLUSTER,
    name: `bmc${i}`,
    memoryMb: 64,
    vcpus: 1,
    bootMode: BootMode.BOOT_MODE_BIOS,
    bmc:
      bmc.ipmi || bmc.redfish
        ? { ipmiEnabled: bmc.ipmi, redfishEnabled: bmc.redfish, username: USERNAME, password: PASSWORD }
        : undefined,
  });
}

/** Ensures nodes [from, to) with `bmc`; returns their statuses by index. */
async function ensureRange(a: Agent, from: number, to: number, bmc: BmcWanted): Promise<Map<number, NodeStatus>> {
  const out = new Map<number, NodeStatus>();
  let next = from;
  await Promise.all(
    Array.from({ length: Math.min(ENSURE_CONCURRENCY, to - from) }, async () => {
      while (next < to) {
        const i = next++;
        const r = await a.api.ensureNode(spec(i, bmc));
        if (!r.node) throw new Error(`EnsureNode bmc${i}: no node in the response`);
        out.set(i, r.node);
      }
    }),
  );
  return out;
}

/** An agent's memory with `count` nodes (or BMCs, for the in-place series). */
interface Reading extends AgentMemory {
  count: number;
}

/** Counts at which memory is read: 1, every 100, and N. */
function readingPoints(): number[] {
  const points = [1];
  for (let n = 100; n < N; n += 100) points.push(n);
  // No tiny last step (its slope would be all noise); 100 stays, it is reported.
  const last = points[points.length - 1] ?? 1;
  if (last > 100 && N - last < 50) points.pop();
  points.push(N);
  return points;
}

/** Calls `step(from, to)` to go from one count to the next, reading the agent's memory at each. */
async function readAlong(
  a: Agent,
  points: number[],
  step: (from: number, to: number) => Promise<void>,
): Promise<Reading[]> {
  const out: Reading[] = [];
  let have = 0;
  for (const n of points) {
    await step(have, n);
    have = n;
    out.push({ count: n, ...(await agentMemory(a)) });
  }
  return out;
}

/**
 * Median of the per-step slopes of `y` (KB per node). The anonymous RSS drops by 10-15 MB at some
 * random reading (memory the C allocator had kept, handed back; forced GC or not): that throws a
 * two-point slope over 1000 nodes off by 10-15 KB, but moves only one of the steps here.
 */
function medianStep(series: Reading[], y: (m: Reading) => number = (m) => m.rssKb): number {
  const slopes: number[] = [];
  for (let i = 1; i < series.length; i++) {
    const [p, q] = [series[i - 1]!, series[i]!];
    slopes.push((y(q) - y(p)) / (q.count - p.count));
  }
  slopes.sort((x, z) => x - z);
  const mid = slopes.length >> 1;
  return slopes.length % 2 === 1 ? slopes[mid]! : (slopes[mid - 1]! + slopes[mid]!) / 2;
}

const seriesOf = (r: Reading[]): number[][] => r.map((m) => [m.count, m.rssKb]);

// ---------------------------------------------------------------------------------------------
// pyghmi processes.

interface Pyghmi {
  proc: ChildProcess;
  pid: number;
  port: number;
}

function startPyghmi(): Promise<Pyghmi> {
  const proc = spawnGroup(PYTHON, [
    'bench/pyghmi_bmc.py',
    '--port',
    '0',
    '--username',
    USERNAME,
    '--password',
    PASSWORD,
  ]);
  const log = captured(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`pyghmi BMC did not start in 60 s: ${log.out()}`));
    }, 60_000);
    proc.stdout?.on('data', () => {
      const m = /READY (\d+)/.exec(log.out());
      if (!m) return;
      clearTimeout(timer);
      resolve({ proc, pid: proc.pid ?? 0, port: Number(m[1]) });
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pyghmi BMC exited (${code}): ${log.out()}`));
    });
  });
}

async function startPyghmis(n: number, parallel = 8): Promise<Pyghmi[]> {
  const out: Pyghmi[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (started < n) {
        started++;
        out.push(await startPyghmi());
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Load generator runs.

/** What bench/ipmi-load.ts prints. */
interface LoadReport {
  suite: number;
  ports: number;
  concurrency: number;
  seconds: number;
  sessions_ok: number;
  sessions_per_s: number;
  sessions_failed: number;
  failures: Record<string, number>;
  retransmits: number;
  latency_ms_p50: number | null;
  latency_ms_p90: number | null;
  latency_ms_p99: number | null;
  power: { on: number; off: number };
  cpu_ms: number;
}

interface LoadResult {
  suite: number;
  /** `minimal`: the 7 exchanges of a power status session; `ipmitool`: with ipmitool's 4 probes (11). */
  flow: 'minimal' | 'ipmitool';
  bmc_ports: number;
  concurrency: number;
  load_processes: number;
  seconds: number;
  sessions_per_s: number;
  sessions_ok: number;
  sessions_failed: number;
  failures: Record<string, number>;
  retransmits: number;
  latency_ms_p50: number | null;
  latency_ms_p99: number | null;
  /** Cores the BMC process(es) used during the measured window (1.0 = one core busy). */
  bmc_cores: number;
  /** Cores the load generator(s) used during the measured window. */
  load_cores: number;
  /** BMC CPU time per complete session (ms): what a session costs the BMC, whatever the machine's load. */
  bmc_cpu_ms_per_session: number | null;
}

/** Runs the generator(s) against `ports`; `bmcPids` are the processes whose CPU is the BMC's. */
async function load(
  ports: number[],
  suite: 3 | 17,
  bmcPids: number[],
  flow: 'minimal' | 'ipmitool' = 'minimal',
): Promise<LoadResult> {
  const procs = Math.min(LOAD_PROCESSES, ports.length);
  // Room for tsx to start the generator(s), so that they all begin at the same moment.
  const startAt = Date.now() + 3000;
  const windowStart = startAt + WARMUP * 1000;
  const windowEnd = windowStart + SECONDS * 1000;
  const runs = Array.from({ length: procs }, (_, k) => {
    const mine = ports.filter((_, i) => i % procs === k);
    const concurrency = Math.floor(CONCURRENCY / procs) + (k < CONCURRENCY % procs ? 1 : 0);
    const child = spawnGroup(process.execPath, [
      '--import',
      'tsx',
      'bench/ipmi-load.ts',
      '--ports',
      mine.join(','),
      '--username',
      USERNAME,
      '--password',
      PASSWORD,
      '--suite',
      String(suite),
      '--seconds',
      String(SECONDS),
      '--warmup',
      String(WARMUP),
      '--concurrency',
      String(Math.max(1, concurrency)),
      '--start-at',
      String(startAt),
      '--flow',
      flow,
    ]);
    const log = captured(child);
    let stdout = '';
    child.stdout?.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    return new Promise<LoadReport>((resolve, reject) => {
      child.once('exit', (code) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        try {
          if (code !== 0) throw new Error(`exit ${code}`);
          resolve(JSON.parse(last) as LoadReport);
        } catch (e) {
          reject(new Error(`ipmi-load failed (${String(e)}): ${log.out()}`));
        }
      });
    });
  });
  // BMC CPU over the generators' measured window.
  const cpuAt = async (): Promise<number> => (await Promise.all(bmcPids.map(cpuMs))).reduce((a, b) => a + b, 0);
  const window = (async () => {
    await sleep(windowStart - Date.now());
    const before = await cpuAt();
    const t0 = Date.now();
    await sleep(windowEnd - Date.now());
    return ((await cpuAt()) - before) / (Date.now() - t0);
  })();
  const reports = await Promise.all(runs);
  const bmcCores = await window;
  const failures: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
  const ok = reports.reduce((a, r) => a + r.sessions_ok, 0);
  // Percentiles of the busiest generator (they see the same BMC).
  const main = reports.reduce((a, r) => (r.sessions_ok > a.sessions_ok ? r : a));
  return {
    suite,
    flow,
    bmc_ports: ports.length,
    concurrency: CONCURRENCY,
    load_processes: procs,
    seconds: SECONDS,
    sessions_per_s: round(ok / SECONDS),
    sessions_ok: ok,
    sessions_failed: reports.reduce((a, r) => a + r.sessions_failed, 0),
    failures,
    retransmits: reports.reduce((a, r) => a + r.retransmits, 0),
    latency_ms_p50: main.latency_ms_p50,
    latency_ms_p99: main.latency_ms_p99,
    bmc_cores: round(bmcCores, 2),
    bmc_cpu_ms_per_session: ok > 0 ? round((bmcCores * SECONDS * 1000) / ok, 3) : null,
    load_cores: round(reports.reduce((a, r) => a + r.cpu_ms, 0) / (SECONDS * 1000), 2),
  };
}

/** The median of `REPEAT` runs (by sessions/s), with every run's rate: the machine is shared and noisy. */
async function loadMedian(
  who: string,
  ports: number[],
  suite: 3 | 17,
  bmcPids: number[],
): Promise<LoadResult & { sessions_per_s_runs: number[] }> {
  const runs: LoadResult[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const r = await load(ports, suite, bmcPids);
    describe(`${who} (run ${i + 1}/${REPEAT})`, r);
    runs.push(r);
  }
  const sorted = [...runs].sort((x, y) => x.sessions_per_s - y.sessions_per_s);
  return { ...sorted[(sorted.length - 1) >> 1]!, sessions_per_s_runs: runs.map((r) => r.sessions_per_s) };
}

/** Sessions per second one fully busy core would give the BMC: 1000 / its CPU ms per session. */
function perCore(r: LoadResult): number | null {
  return r.bmc_cpu_ms_per_session ? round(1000 / r.bmc_cpu_ms_per_session) : null;
}

function describe(who: string, r: LoadResult): void {
  const failed = r.sessions_failed > 0 ? `, ${r.sessions_failed} failed ${JSON.stringify(r.failures)}` : '';
  say(
    `${who} suite ${r.suite} (${r.flow} flow): ${r.sessions_per_s} sessions/s over ${r.bmc_ports} BMCs (${r.load_processes} generator(s), ` +
      `${r.concurrency} in flight), p50 ${r.latency_ms_p50} ms, p99 ${r.latency_ms_p99} ms, ${r.retransmits} retransmits${failed}; ` +
      `BMC ${r.bmc_cores} cores (${r.bmc_cpu_ms_per_session} ms CPU per session), generator ${r.load_cores} cores`,
  );
}

// ---------------------------------------------------------------------------------------------
// ipmitool and wrk.

interface IpmitoolCheck {
  ok: boolean;
  output: string;
  /** Median wall time of a whole `ipmitool ... power status` run (process start included). */
  median_ms: number;
}

async function ipmitool(port: number, extra: string[], runs: number): Promise<IpmitoolCheck> {
  const args = [
    '-I',
    'lanplus',
    '-H',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    USERNAME,
    '-P',
    PASSWORD,
    ...extra,
    'power',
    'status',
  ];
  const times: number[] = [];
  let output = '';
  let ok = true;
  for (let i = 0; i < runs; i++) {
    const r = await runToEnd('ipmitool', args, 30_000);
    times.push(r.ms);
    output = (r.stdout + r.stderr).trim();
    if (r.code !== 0 || !/^Chassis Power is (on|off)$/.test(r.stdout.trim())) ok = false;
  }
  times.sort((a, b) => a - b);
  return { ok, output, median_ms: round(times[Math.floor(times.length / 2)] ?? NaN) };
}

interface WrkResult {
  requests_per_s: number | null;
  non_2xx: number;
  socket_errors: string | null;
  latency_avg: string | null;
  error: string | null;
}

async function wrk(url: string): Promise<WrkResult> {
  const auth = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}`;
  const r = await runToEnd(
    'wrk',
    ['-t2', `-c${WRK_CONNECTIONS}`, `-d${WRK_SECONDS}s`, '-H', `Authorization: ${auth}`, url],
    (WRK_SECONDS + 30) * 1000,
  );
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1];
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const sock = /Socket errors:\s+(.*)/.exec(r.stdout)?.[1] ?? null;
  const lat = /Latency\s+(\S+)/.exec(r.stdout)?.[1] ?? null;
  if (r.code !== 0 || rps === undefined)
    return {
      requests_per_s: null,
      non_2xx: non2xx,
      socket_errors: sock,
      latency_avg: lat,
      error: `wrk failed: ${r.stderr || r.stdout}`,
    };
  return {
    requests_per_s: round(Number(rps)),
    non_2xx: non2xx,
    socket_errors: sock,
    latency_avg: lat,
    error: non2xx > 0 ? `${non2xx} non-2xx responses` : null,
  };
}

// ---------------------------------------------------------------------------------------------

const dir = await mkdtemp(join(tmpdir(), 'tenks-bench-bmc-'));
const run = { interrupted: false, failure: null as string | null };
const onSignal = (): void => {
  run.interrupted = true;
  say('interrupted: stopping every process started');
  void Promise.all([...children].map((c) => killGroup(c, 2000))).finally(() => {
    void rm(dir, { recursive: true, force: true }).finally(() => process.exit(130));
  });
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

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
  say(`cores ${cpus().length}, load average ${round(loadavg()[0] ?? 0, 2)}; temp dir ${dir}`);

  // --- 1a. Nodes without a BMC: the node's own cost; then a BMC added to each, in place.
  {
    const a = await startAgent(dir, 'nobmc');
    try {
      let t = performance.now();
      const grown = await readAlong(a, readingPoints(), async (from, to) => {
        await ensureRange(a, from, to, { ipmi: false, redfish: false });
      });
      say(
        `no-BMC agent: ${N} ensures (${grown.length} memory readings) in ${round((performance.now() - t) / 1000, 2)} s`,
      );
      const at1 = grown[0]!;
      const atN = grown[grown.length - 1]!;
      t = performance.now();
      const added = await readAlong(a, readingPoints().slice(1), async (from, to) => {
        await ensureRange(a, from, to, { ipmi: true, redfish: false });
      });
      say(`no-BMC agent: IPMI turned on for its ${N} nodes in ${round((performance.now() - t) / 1000, 2)} s`);
      const inPlace = [{ ...atN, count: 0 }, ...added];
      const withBmc = inPlace[inPlace.length - 1]!;
      nodeTwoPoint = (atN.rssKb - at1.rssKb) / (N - 1);
      nodeMedian = medianStep(grown);
      Object.assign(result, {
        tenks_nobmc_rss_kb_at_1: at1.rssKb,
        [`tenks_nobmc_rss_kb_at_${N}`]: atN.rssKb,
        node_rss_kb_per_node: round(nodeMedian),
        node_rss_kb_per_node_two_point: round(nodeTwoPoint),
        bmc_rss_kb_per_node: round(medianStep(inPlace)),
        bmc_rss_kb_per_node_two_point: round((withBmc.rssKb - atN.rssKb) / N),
        bmc_heap_kb_per_node: round((withBmc.heapKb - atN.heapKb) / N, 2),
        tenks_nobmc_rss_series: seriesOf(grown),
        tenks_bmc_in_place_rss_series: seriesOf(inPlace),
      });
      say(
        `no-BMC agent: RSS ${at1.rssKb} KB at 1 node, ${atN.rssKb} KB at ${N}: ${round(nodeMedian)} KB per node ` +
          `(median step; two-point ${round(nodeTwoPoint)}); ${withBmc.rssKb} KB once all have an IPMI BMC: ` +
          `${round(medianStep(inPlace))} KB per BMC added in place (median step; V8 heap +${round((withBmc.heapKb - atN.heapKb) / N, 2)} KB per BMC)`,
      );
    } finally {
      await stopAgent(a);
    }
  }

  // --- 1b. Nodes with an IPMI BMC; then sessions, ipmitool and Redfish on this agent.
  {
    const a = await startAgent(dir, 'bmc');
    try {
      const nodes = new Map<number, NodeStatus>();
      const t = performance.now();
      const grown = await readAlong(a, readingPoints(), async (from, to) => {
        for (const [i, n] of await ensureRange(a, from, to, { ipmi: true, redfish: false })) nodes.set(i, n);
      });
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
        node_with_bmc_rss_kb_per_node: round(median),
        node_with_bmc_rss_kb_per_node_two_point: round(twoPoint),
        bmc_rss_kb_per_node_by_difference: round(median - nodeMedian),
        bmc_rss_kb_per_node_by_difference_two_point: round(twoPoint - nodeTwoPoint),
        tenks_rss_series: seriesOf(grown),
      });
      say(
        `BMC agent: RSS ${at1.rssKb} KB at 1 node, ${at100.rssKb} KB at 100, ${atN.rssKb} KB at ${N}: ` +
          `${round(median)} KB per node with BMC (median step; two-point ${round(twoPoint)}); the BMC's share ` +
          `${round(median - nodeMedian)} KB by difference with the no-BMC agent (median steps), ` +
          `${round(twoPoint - nodeTwoPoint)} KB (two-point)`,
      );

      const ports = Array.from({ length: N }, (_, i) => nodes.get(i)?.bmc?.ipmi?.port ?? 0);
      if (ports.some((p) => p === 0)) throw new Error('a node came back without an IPMI port');
      const loadPorts = ports.slice(0, LOAD_PORTS);

      // ipmitool: default (as Ironic: cipher discovery picks 17), -C 3, -C 17.
      const port0 = ports[0] ?? 0;
      const tool = await ipmitool(port0, [], 5);
      const tool3 = await ipmitool(port0, ['-C', '3'], 5);
      const tool17 = await ipmitool(port0, ['-C', '17'], 1);
      say(
        `ipmitool vs tenks: "${tool.output}" (median ${tool.median_ms} ms), -C 3 ${tool3.ok ? 'ok' : `FAILED: ${tool3.output}`}, -C 17 ${tool17.ok ? 'ok' : `FAILED: ${tool17.output}`}`,
      );
      Object.assign(result, {
        ipmitool_tenks_ok: tool.ok && tool3.ok && tool17.ok,
        ipmitool_tenks_output: tool.output,
        ipmitool_tenks_ms: tool.median_ms,
        ipmitool_tenks_ms_suite3: tool3.median_ms,
      });

      const l3 = await loadMedian('tenks', loadPorts, 3, [a.pid]);
      const l17 = await load(loadPorts, 17, [a.pid]);
      describe('tenks', l17);
      const lFull = await load(loadPorts, 3, [a.pid], 'ipmitool');
      describe('tenks', lFull);
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
      const r = await a.api.ensureNode(spec(0, { ipmi: true, redfish: true }));
      const ep = r.node?.bmc?.redfish;
      if (!ep?.url || !ep.systemId) {
        Object.assign(result, { redfish_get_per_s: null, redfish_error: 'EnsureNode reported no Redfish endpoint' });
      } else {
        const url = `${ep.url}${ep.systemId}`;
        let error: string | null = null;
        try {
          const res = await fetch(url, {
            headers: { Authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}` },
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
          const w = await wrk(url);
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
      bmcs.push(await startPyghmi());
      const first = bmcs[0]!;
      const at1 = await settledRssKb(first.pid);
      const tool = await ipmitool(first.port, [], 5);
      say(`ipmitool vs pyghmi: "${tool.output}" (median ${tool.median_ms} ms)`);
      const t = performance.now();
      bmcs.push(...(await startPyghmis(PYGHMI_N - 1)));
      say(`pyghmi: ${PYGHMI_N} processes started (${round((performance.now() - t) / 1000, 2)} s for ${PYGHMI_N - 1})`);
      await sleep(2000);
      const rss = await Promise.all(bmcs.map((b) => procStatusKb(b.pid, 'VmRSS')));
      const pss = await Promise.all(bmcs.map((b) => pssKb(b.pid)));
      const perProcess = rss.reduce((x, y) => x + y, 0) / bmcs.length;
      const pssPer = pss.reduce((x, y) => x + y, 0) / bmcs.length;
      say(
        `pyghmi: RSS ${at1} KB for 1 process; ${round(perProcess)} KB per process at ${bmcs.length} (PSS ${round(pssPer)} KB)`,
      );

      const loaded = bmcs.slice(0, LOAD_PORTS);
      const lp = await loadMedian(
        'pyghmi',
        loaded.map((b) => b.port),
        3,
        loaded.map((b) => b.pid),
      );
      const lpFull = await load(
        loaded.map((b) => b.port),
        3,
        loaded.map((b) => b.pid),
        'ipmitool',
      );
      describe('pyghmi', lpFull);
      await sleep(1000);
      const rssAfter = await Promise.all(loaded.map((b) => procStatusKb(b.pid, 'VmRSS')));
      Object.assign(result, {
        pyghmi_sessions_per_s: lp.sessions_per_s,
        pyghmi_sessions_per_s_ipmitool_flow: lpFull.sessions_per_s,
        pyghmi_sessions_per_bmc_core_s: perCore(lp),
        pyghmi_load_suite3: lp,
        pyghmi_load_suite3_ipmitool_flow: lpFull,
        pyghmi_rss_kb_at_1: at1,
        pyghmi_rss_kb_per_node: round(perProcess),
        pyghmi_processes: bmcs.length,
        pyghmi_pss_kb_per_node: round(pssPer),
        // pyghmi never frees a session: each one ipmitool (or the generator) opens stays in memory.
        pyghmi_rss_kb_per_node_after_load: round(rssAfter.reduce((x, y) => x + y, 0) / rssAfter.length),
        ipmitool_pyghmi_ok: tool.ok,
        ipmitool_pyghmi_output: tool.output,
        ipmitool_pyghmi_ms: tool.median_ms,
      });
    } finally {
      await Promise.all(bmcs.map((b) => killGroup(b.proc, 2000)));
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
  await Promise.all([...children].map((c) => killGroup(c, 2000)));
  await rm(dir, { recursive: true, force: true });
}

if (!run.interrupted) {
  if (run.failure !== null) say(`FAILED: ${run.failure}`);
  console.log(JSON.stringify(result));
}
