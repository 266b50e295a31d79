import { isTenksError, toTenksError } from './errors.js';
import type { Logger } from './logger.js';
import { guardProcess, type ProcessGuard } from './process-guard.js';

/** Daemon lifecycle states. */
export const DaemonState = {
  STARTING: 'STARTING',
  RUNNING: 'RUNNING',
  DRAINING: 'DRAINING',
  STOPPED: 'STOPPED',
} as const;
export type DaemonState = (typeof DaemonState)[keyof typeof DaemonState];

const NEXT: Record<DaemonState, readonly DaemonState[]> = {
  STARTING: ['RUNNING', 'DRAINING', 'STOPPED'],
  RUNNING: ['DRAINING', 'STOPPED'],
  DRAINING: ['STOPPED'],
  STOPPED: [],
};

/** A daemon's lifecycle: STARTING → RUNNING → DRAINING → STOPPED, logged, never backwards. */
export class Lifecycle {
  private current: DaemonState = 'STARTING';
  constructor(
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  get state(): DaemonState {
    return this.current;
  }

  /** Moves to `next`; false (and nothing changes) when that is not a legal step. */
  to(next: DaemonState): boolean {
    if (!NEXT[this.current].includes(next)) return false;
    this.log.info('daemon state', { daemon: this.name, from: this.current, to: next });
    this.current = next;
    return true;
  }
}

/**
 * Runs `drain` on the first SIGTERM/SIGINT; a second signal exits at once. `drain` must finish in
 * its own grace period.
 */
export function onShutdownSignals(log: Logger, drain: (signal: string) => Promise<void>): void {
  let draining = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (draining) {
      log.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    draining = true;
    drain(signal).then(
      () => process.exit(0),
      (e: unknown) => {
        log.error('shutdown failed', { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/**
 * Runs a daemon's `main` under a {@link guardProcess} guard (which `main` hands its logger once it
 * has one); a failure to start is one line on stderr (`<name>: message ({code, field, hint})`) and
 * exit status 2 for bad configuration (INVALID_SPEC), else 1.
 */
export function runDaemonMain(name: string, main: (guard: ProcessGuard) => Promise<void>): void {
  const guard = guardProcess(name);
  main(guard).catch((e: unknown) => {
    const err = toTenksError(e);
    const fields = {
      code: err.code,
      ...(err.field ? { field: err.field } : {}),
      ...(err.hint ? { hint: err.hint } : {}),
    };
    process.stderr.write(`${name}: ${err.message} (${JSON.stringify(fields)})\n`);
    process.exitCode = isTenksError(e) && e.code === 'INVALID_SPEC' ? 2 : 1;
  });
}
