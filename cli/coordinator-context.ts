/** What every coordinator command gets, and the small helpers they share. */
import type { CoordinatorApi, FieldError } from '../common/index.js';
import type { CliSettings, Env } from './config.js';
import type { OutputFormat } from './output.js';
import type { MaybeTty } from './style.js';

/** A writable terminal-or-not stream (process.stdout / process.stderr, or fakes). */
export interface OutStream extends MaybeTty {
  write(s: string): unknown;
  columns?: number;
}

/** What every coordinator command gets. */
export interface CoordinatorContext {
  settings: CliSettings;
  format: OutputFormat;
  /** Dials the coordinator (once; closed by the caller). */
  api: () => Promise<CoordinatorApi>;
  /** Aborted at the first Ctrl-C. */
  interrupt: AbortSignal;
  /** Aborted at the second Ctrl-C. */
  hardStop: AbortSignal;
  debug: boolean;
  env: Env;
  stdout: OutStream;
  stderr: OutStream;
}

/** Flags the coordinator commands read. */
export interface CoordinatorFlags {
  /** The first -f/--file (export's output file). */
  file?: string | undefined;
  /** Every -f, in order (validate, plan and apply merge them). */
  files?: readonly string[] | undefined;
  cluster?: string | undefined;
  force: boolean;
  /** plan, apply: allow deleting most of a cluster's nodes. */
  prune?: boolean | undefined;
  showSecrets: boolean;
  /** `export --format`. */
  format?: string | undefined;
}

/** Per-call options: the client's deadline; Ctrl-C aborts unless the call starts an operation. */
export function callOpts(ctx: CoordinatorContext, startsOperation = false): { timeoutMs: number; signal: AbortSignal } {
  // A call that starts an operation is not aborted by the first Ctrl-C: the coordinator may have
  // started it already, and only its id lets us cancel it instead of leaving it orphaned.
  return { timeoutMs: ctx.settings.timeoutMs, signal: startsOperation ? ctx.hardStop : ctx.interrupt };
}

/** A spec warning or error as one line: `specs[0].count: ...`. */
export function fieldLine(w: FieldError): string {
  return `${w.field}: ${w.message}`;
}
/** Prints each warning once, on stderr. */
export function warn(ctx: CoordinatorContext, lines: Iterable<string>): void {
  const seen = new Set<string>();
  for (const l of lines) {
    if (seen.has(l)) continue;
    seen.add(l);
    ctx.stderr.write(`warning: ${l}\n`);
  }
}
