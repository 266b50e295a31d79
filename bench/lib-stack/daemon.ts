/** A child process of a bench, with the tail of its output and the warnings it printed. */
import type { ChildProcess } from 'node:child_process';

/** A child process in its own group, with the tail of its output. */
export class Daemon {
  private out = '';
  private partial = '';
  private exitInfo: string | null = null;
  /** Distinct warnings seen in the output, with counts (at most 100 kinds). */
  readonly warnings = new Map<string, number>();
  readonly exited: Promise<void>;
  private readonly lineListeners: ((line: string) => void)[] = [];

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      this.out = (this.out + text).slice(-20_000);
      const lines = (this.partial + text).split('\n');
      this.partial = lines.pop() ?? '';
      for (const l of lines) {
        for (const f of this.lineListeners) f(l);
        const w = warningOf(l);
        if (w !== null && (this.warnings.has(w) || this.warnings.size < 100))
          this.warnings.set(w, (this.warnings.get(w) ?? 0) + 1);
      }
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitInfo = signal ?? String(code);
        resolve();
      });
    });
  }

  /** Calls `fn` with every later line of output (the kept tail is bounded; this is not). */
  onLine(fn: (line: string) => void): void {
    this.lineListeners.push(fn);
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** The last output, for failure messages. */
  tail(chars = 3000): string {
    return `[${this.name}${this.exitInfo !== null ? `, exited ${this.exitInfo}` : ''}]\n${this.out.slice(-chars)}`;
  }

  /** Everything kept of the output (the last 20,000 characters). */
  output(): string {
    return this.out;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    const kill = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-this.pid, sig);
      } catch {
        // The group is gone.
      }
    };
    kill('SIGTERM');
    const timer = setTimeout(() => {
      kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    // Anything the daemon left in its group.
    kill('SIGKILL');
  }
}

/**
 * Distinct warnings and errors the daemons printed (JSON log lines at warn/error, Node and NATS
 * warnings), `daemon: message (xN)`, at most `max`: what went wrong besides the figures.
 */
export function daemonWarnings(daemons: readonly Daemon[], max = 20): string[] {
  const out: string[] = [];
  for (const d of daemons) for (const [k, n] of d.warnings) out.push(`${d.name}: ${k}${n > 1 ? ` (x${n})` : ''}`);
  return out.slice(0, max);
}

/** The warning a daemon's output line is, or null. */
function warningOf(line: string): string | null {
  if (line.startsWith('{')) {
    try {
      const j = JSON.parse(line) as { level?: string; message?: string; error?: unknown };
      if (j.level !== 'warn' && j.level !== 'error') return null;
      const why = j.error === undefined ? '' : ` (${JSON.stringify(j.error).slice(0, 160)})`;
      return `${j.level}: ${j.message ?? ''}${why}`;
    } catch {
      // Not JSON after all.
    }
  }
  return /warning|error|\[(WRN|ERR|FTL)\]/i.test(line)
    ? line
        .replace(/^\[\d+\] \S+ \S+ /, '')
        .trim()
        .slice(0, 240)
    : null;
}
