/**
 * IPMI lanplus load generator for bench:bmc: runs complete `power status` sessions (the exchange
 * `ipmitool -I lanplus -C <suite> -L ADMINISTRATOR ... power status` makes, every reply verified; see
 * bench/ipmi-client.ts) against a set of BMC ports, `--concurrency` sessions in flight, each session
 * on a new UDP socket (a new source port, as every ipmitool run has). Sessions are handed to the
 * ports round-robin. Run it as its own process so its CPU is not the BMC's:
 *
 *   node --import tsx bench/ipmi-load.ts --ports 6230,6231 --username admin --password pw \
 *     [--suite 3] [--seconds 10] [--warmup 2] [--concurrency 64] [--timeout-ms 1000] [--retries 4] \
 *     [--start-at <ms since the epoch>] [--flow minimal|ipmitool]
 *
 * `--flow minimal` (default): set privilege, chassis status, close session after RAKP. `--flow
 * ipmitool`: also the four probes ipmitool 1.8.19 sends first (Get HPM.x Capabilities, Get Device ID,
 * PICMG and VSO properties; error completion codes are fine there, as for ipmitool): 11 exchanges.
 *
 * Generators started together with the same `--start-at` share one measured window: it opens
 * `--warmup` seconds after that time and lasts `--seconds`.
 *
 * Only sessions that complete inside the measured window (after the warm-up) count; failed sessions
 * (a timeout after all retransmits, or any reply that does not check out) are counted by reason.
 * Prints one JSON line: sessions_ok, sessions_per_s, sessions_failed, failures, retransmits,
 * latency_ms_p50/p90/p99, power (on/off counts), cpu_ms (this process, measured window).
 */
import { parseArgs } from 'node:util';
import { powerStatusSession, SessionFailure, type SessionOptions } from './ipmi-client.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    ports: { type: 'string' },
    username: { type: 'string', default: 'admin' },
    password: { type: 'string' },
    suite: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
    'timeout-ms': { type: 'string', default: '1000' },
    retries: { type: 'string', default: '4' },
    'start-at': { type: 'string' },
    flow: { type: 'string', default: 'minimal' },
  },
  strict: true,
});

const ports = (values.ports ?? '')
  .split(',')
  .filter((p) => p !== '')
  .map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
  throw new Error('--ports must be a comma-separated list of UDP ports');
if (values.password === undefined) throw new Error('--password is required');
const suite = Number(values.suite);
if (suite !== 3 && suite !== 17) throw new Error('--suite must be 3 or 17');
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const concurrency = Number(values.concurrency);
if (!(seconds > 0) || !(warmup >= 0) || !Number.isInteger(concurrency) || concurrency < 1)
  throw new Error('--seconds, --warmup and --concurrency must be positive');

const timeoutMs = Number(values['timeout-ms']);
const retries = Number(values.retries);
if (!(timeoutMs > 0) || !Number.isInteger(retries) || retries < 0)
  throw new Error('--timeout-ms must be positive and --retries a non-negative integer');

const flow = values.flow;
if (flow !== 'minimal' && flow !== 'ipmitool') throw new Error('--flow must be minimal or ipmitool');

const base: Omit<SessionOptions, 'port'> = {
  host: values.host,
  username: values.username,
  password: values.password,
  suite,
  timeoutMs,
  retries,
  flow,
};

// Several generators given the same --start-at share one measured window (wall clock).
const startAt = values['start-at'] === undefined ? Date.now() : Number(values['start-at']);
if (!Number.isFinite(startAt)) throw new Error('--start-at must be a time in ms since the epoch');
if (startAt > Date.now()) await new Promise((r) => setTimeout(r, startAt - Date.now()));
const windowStart = startAt + warmup * 1000;
const windowEnd = windowStart + seconds * 1000;
const latencies: number[] = [];
const failures: Record<string, number> = {};
const power = { on: 0, off: 0 };
let ok = 0;
let failed = 0;
let retransmits = 0;
let next = 0;
let cpuAtStart = process.cpuUsage();
const cpuTimer = setTimeout(
  () => {
    cpuAtStart = process.cpuUsage();
  },
  Math.max(0, windowStart - Date.now()),
);

async function worker(): Promise<void> {
  while (Date.now() < windowEnd) {
    const port = ports[next++ % ports.length] ?? 0;
    const t0 = performance.now();
    try {
      const r = await powerStatusSession({ ...base, port });
      const t1 = Date.now();
      if (t1 >= windowStart && t1 < windowEnd) {
        ok++;
        retransmits += r.retransmits;
        latencies.push(performance.now() - t0);
        power[r.power]++;
      }
    } catch (e) {
      const t1 = Date.now();
      if (t1 >= windowStart && t1 < windowEnd) {
        failed++;
        const f = e instanceof SessionFailure ? e : new SessionFailure('session', String(e));
        retransmits += f.retransmits;
        failures[f.message] = (failures[f.message] ?? 0) + 1;
      }
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, () => worker()));
clearTimeout(cpuTimer);
// Up to the last session in flight at the end of the window: close enough to the window itself.
const cpu = process.cpuUsage(cpuAtStart);

latencies.sort((a, b) => a - b);
const pct = (q: number): number | null => {
  if (latencies.length === 0) return null;
  const v = latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return Math.round(v * 100) / 100;
};
console.log(
  JSON.stringify({
    suite,
    flow,
    ports: ports.length,
    concurrency,
    seconds,
    sessions_ok: ok,
    sessions_per_s: Math.round((ok / seconds) * 10) / 10,
    sessions_failed: failed,
    failures,
    retransmits,
    latency_ms_p50: pct(0.5),
    latency_ms_p90: pct(0.9),
    latency_ms_p99: pct(0.99),
    power,
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
  }),
);
