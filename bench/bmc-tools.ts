/**
 * The real clients bench:bmc runs against the BMCs: ipmitool (`power status` over lanplus, timed
 * as a whole run, process start included) and wrk (Redfish GET System throughput).
 */
import { execFile } from 'node:child_process';
import type { BmcCredentials } from './bmc-agent.js';
import { REPO } from './lib-stack/paths.js';
import { round } from './lib-stack/figures.js';

/** A finished run of a program. */
interface Finished {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program to its end (killed after `timeoutMs`); never rejects. */
function runToEnd(file: string, args: readonly string[], timeoutMs: number): Promise<Finished> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** What `runs` runs of ipmitool saw. */
export interface IpmitoolCheck {
  /** Every run answered `Chassis Power is on|off`. */
  ok: boolean;
  output: string;
  /** Median wall time of a whole `ipmitool ... power status` run (process start included). */
  median_ms: number;
}

/** Runs `ipmitool -I lanplus ... [extra] power status` against 127.0.0.1:`port`, `runs` times. */
export async function ipmitool(
  port: number,
  creds: BmcCredentials,
  extra: string[],
  runs: number,
): Promise<IpmitoolCheck> {
  const target = ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port)];
  const args = [...target, '-U', creds.username, '-P', creds.password, ...extra, 'power', 'status'];
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
  return { ok, output, median_ms: round(times[Math.floor(times.length / 2)] ?? NaN, 1) };
}

/** What one wrk run measured. */
export interface WrkResult {
  requests_per_s: number | null;
  non_2xx: number;
  socket_errors: string | null;
  latency_avg: string | null;
  error: string | null;
}

/** wrk `-t2 -c<connections> -d<seconds>s` GETs of `url` with HTTP Basic `creds`. */
export async function wrk(
  url: string,
  creds: BmcCredentials,
  o: { connections: number; seconds: number },
): Promise<WrkResult> {
  const auth = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  const r = await runToEnd(
    'wrk',
    ['-t2', `-c${o.connections}`, `-d${o.seconds}s`, '-H', `Authorization: ${auth}`, url],
    (o.seconds + 30) * 1000,
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
    requests_per_s: round(Number(rps), 1),
    non_2xx: non2xx,
    socket_errors: sock,
    latency_avg: lat,
    error: non2xx > 0 ? `${non2xx} non-2xx responses` : null,
  };
}
