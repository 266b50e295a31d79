/**
 * Sessions per second for bench:bmc: bench/ipmi-load.ts runs complete lanplus `power status`
 * sessions in its own process(es), so the generator's CPU is not the BMC's; ports and concurrency
 * are split over `processes` generators that share one measured window. The BMC's CPU over that
 * window (from /proc/<pid>/stat) says what a session costs it, whatever the machine's load.
 */
import type { BmcCredentials } from './bmc-agent.js';
import { sleep, type Stack } from './lib-stack.js';
import { cpuSeconds } from './lib-stack/proc-stats.js';
import { round } from './lib-stack/figures.js';

/** How the generators run. */
export interface LoadSettings {
  creds: BmcCredentials;
  /** Measured window, and the warm-up before it. */
  seconds: number;
  warmup: number;
  /** Sessions in flight, over all generators. */
  concurrency: number;
  /** Generator processes (at most one per port). */
  processes: number;
  /** Runs of which {@link LoadGenerator.median} reports the median. */
  repeat: number;
}

/** Which in-session requests a session makes: `minimal` (7 exchanges) or also ipmitool's 4 probes (11). */
export type LoadFlow = 'minimal' | 'ipmitool';

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

/** One measured run. */
export interface LoadResult {
  suite: number;
  /** `minimal`: the 7 exchanges of a power status session; `ipmitool`: with ipmitool's 4 probes (11). */
  flow: LoadFlow;
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

/** Sessions per second one fully busy core would give the BMC: 1000 / its CPU ms per session. */
export function perCore(r: LoadResult): number | null {
  return r.bmc_cpu_ms_per_session ? round(1000 / r.bmc_cpu_ms_per_session, 1) : null;
}

/** The progress line of a run. */
export function describeLoad(who: string, r: LoadResult): string {
  const failed = r.sessions_failed > 0 ? `, ${r.sessions_failed} failed ${JSON.stringify(r.failures)}` : '';
  return (
    `${who} suite ${r.suite} (${r.flow} flow): ${r.sessions_per_s} sessions/s over ${r.bmc_ports} BMCs (${r.load_processes} generator(s), ` +
    `${r.concurrency} in flight), p50 ${r.latency_ms_p50} ms, p99 ${r.latency_ms_p99} ms, ${r.retransmits} retransmits${failed}; ` +
    `BMC ${r.bmc_cores} cores (${r.bmc_cpu_ms_per_session} ms CPU per session), generator ${r.load_cores} cores`
  );
}

/** Runs generators against BMC ports. */
export class LoadGenerator {
  constructor(
    private readonly stack: Stack,
    private readonly s: LoadSettings,
    private readonly say: (line: string) => void,
  ) {}

  /** One generator process over `ports` with `concurrency` sessions in flight; resolves with its report. */
  private generator(ports: number[], concurrency: number, suite: 3 | 17, flow: LoadFlow, startAt: number) {
    const { creds, seconds, warmup } = this.s;
    const d = this.stack.spawn('ipmi-load', process.execPath, [
      ...['--import', 'tsx', 'bench/ipmi-load.ts', '--ports', ports.join(',')],
      ...['--username', creds.username, '--password', creds.password, '--suite', String(suite)],
      ...['--seconds', String(seconds), '--warmup', String(warmup), '--concurrency', String(Math.max(1, concurrency))],
      ...['--start-at', String(startAt), '--flow', flow],
    ]);
    let stdout = '';
    d.proc.stdout?.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    return new Promise<LoadReport>((resolve, reject) => {
      d.proc.once('exit', (code) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        try {
          if (code !== 0) throw new Error(`exit ${code}`);
          resolve(JSON.parse(last) as LoadReport);
        } catch (e) {
          reject(new Error(`ipmi-load failed (${String(e)}): ${d.output()}`));
        }
      });
    });
  }

  /** Runs the generator(s) against `ports`; `bmcPids` are the processes whose CPU is the BMC's. */
  async run(ports: number[], suite: 3 | 17, bmcPids: number[], flow: LoadFlow = 'minimal'): Promise<LoadResult> {
    const { seconds, warmup, concurrency } = this.s;
    const procs = Math.min(this.s.processes, ports.length);
    // Room for tsx to start the generator(s), so that they all begin at the same moment.
    const startAt = Date.now() + 3000;
    const windowStart = startAt + warmup * 1000;
    const windowEnd = windowStart + seconds * 1000;
    const runs = Array.from({ length: procs }, (_, k) =>
      this.generator(
        ports.filter((_, i) => i % procs === k),
        Math.floor(concurrency / procs) + (k < concurrency % procs ? 1 : 0),
        suite,
        flow,
        startAt,
      ),
    );
    // BMC CPU over the generators' measured window.
    const cpuAt = async (): Promise<number> =>
      (await Promise.all(bmcPids.map(cpuSeconds))).reduce((a, b) => a + b, 0) * 1000;
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
      concurrency,
      load_processes: procs,
      seconds,
      sessions_per_s: round(ok / seconds, 1),
      sessions_ok: ok,
      sessions_failed: reports.reduce((a, r) => a + r.sessions_failed, 0),
      failures,
      retransmits: reports.reduce((a, r) => a + r.retransmits, 0),
      latency_ms_p50: main.latency_ms_p50,
      latency_ms_p99: main.latency_ms_p99,
      bmc_cores: round(bmcCores, 2),
      bmc_cpu_ms_per_session: ok > 0 ? round((bmcCores * seconds * 1000) / ok, 3) : null,
      load_cores: round(reports.reduce((a, r) => a + r.cpu_ms, 0) / (seconds * 1000), 2),
    };
  }

  /** The median of `repeat` runs (by sessions/s), with every run's rate: the machine is shared and noisy. */
  async median(
    who: string,
    ports: number[],
    suite: 3 | 17,
    bmcPids: number[],
  ): Promise<LoadResult & { sessions_per_s_runs: number[] }> {
    const runs: LoadResult[] = [];
    for (let i = 0; i < this.s.repeat; i++) {
      const r = await this.run(ports, suite, bmcPids);
      this.say(describeLoad(`${who} (run ${i + 1}/${this.s.repeat})`, r));
      runs.push(r);
    }
    const sorted = [...runs].sort((x, y) => x.sessions_per_s - y.sessions_per_s);
    return { ...sorted[(sorted.length - 1) >> 1]!, sessions_per_s_runs: runs.map((r) => r.sessions_per_s) };
  }
}
