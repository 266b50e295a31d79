/** What a process costs, from /proc: CPU time, memory, open files. */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { round } from './figures.js';
import { run } from './run.js';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system) of a process, in seconds; its children are not included. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11] ?? 0) + Number(f[12] ?? 0)) / CLK_TCK;
}

/** A `/proc/<pid>/status` field in MB (VmHWM: peak RSS, VmRSS: now). */
export async function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return round(kb / 1024, 1);
}

/** The soft limit of open files of a process (from /proc/<pid>/limits). */
export async function nofileLimit(pid: number): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/limits`, 'utf8').catch(() => '');
  const m = /Max open files\s+(\d+|unlimited)/.exec(text);
  return m?.[1] === undefined || m[1] === 'unlimited' ? null : Number(m[1]);
}

/** Open file descriptors of a process now. */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** CPU seconds and RSS of named processes, to tell where a phase's time went. */
export class CpuMeter {
  private last = new Map<string, number>();

  constructor(private readonly pids: () => Map<string, number>) {}

  /** Marks the start of a phase. */
  async mark(): Promise<void> {
    this.last = await this.read();
  }

  /** CPU seconds each process used since the last mark (and marks again). */
  async since(): Promise<Record<string, number>> {
    const now = await this.read();
    const out: Record<string, number> = {};
    for (const [name, s] of now) out[name] = round(s - (this.last.get(name) ?? s), 2);
    this.last = now;
    return out;
  }

  private async read(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [name, pid] of this.pids()) out.set(name, await cpuSeconds(pid));
    return out;
  }
}

/** pid of a system daemon by exact process name (e.g. libvirtd), or null. */
export async function pidOf(name: string): Promise<number | null> {
  const out = await run('pidof', ['-s', name]).catch(() => '');
  const pid = Number(out.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}
