/**
 * What a daemon does with an error nobody caught: a promise rejection nobody handled, or an
 * exception thrown out of a callback. Installed by {@link runDaemonMain} for both daemons.
 */
import { writeSync } from 'node:fs';
import { inspect } from 'node:util';
import type { LogFields, Logger } from './logger.js';

/** Exit status after an exception nobody caught (EX_SOFTWARE of sysexits.h): the supervisor restarts. */
export const EXIT_UNCAUGHT = 70;

/**
 * Codes Node gives an error raised at a write to a peer that went away (a datagram to a closed
 * socket, a reply on a connection the client reset). Such an error comes after the request's work
 * is done: nothing of the daemon's state was left half-changed by it.
 */
const PEER_GONE = new Set([
  'ERR_SOCKET_DGRAM_NOT_RUNNING',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'ERR_STREAM_PREMATURE_CLOSE',
  'EPIPE',
  'ECONNRESET',
  'ECONNABORTED',
]);

/** True for an error Node raises when writing to a client that is gone (see {@link PEER_GONE}). */
export function isPeerGoneError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && PEER_GONE.has(code);
}

/** Everything known about an error, as log fields (message, code, stack, cause). */
export function describeError(e: unknown): LogFields {
  if (!(e instanceof Error)) return { error: inspect(e) };
  const fields: LogFields = { error: e.message, errorName: e.name };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) fields.errorCode = code;
  const syscall = (e as { syscall?: unknown }).syscall;
  if (syscall !== undefined) fields.syscall = syscall;
  if (e.stack !== undefined) fields.stack = e.stack;
  if (e.cause !== undefined) fields.cause = e.cause instanceof Error ? e.cause.message : inspect(e.cause);
  return fields;
}

/** A daemon's guard against errors nobody caught. */
export interface ProcessGuard {
  /** Logs through `log` from now on (before: JSON lines on stderr). */
  useLogger(log: Logger): void;
  /** Removes the process handlers. */
  uninstall(): void;
}

/** Logs to stderr as JSON lines, for the time before the daemon has built its logger. */
function stderrLogger(): Logger {
  const line =
    (level: string) =>
    (message: string, fields?: LogFields): void => {
      writeSync(2, JSON.stringify({ level, message, ...fields, timestamp: new Date().toISOString() }) + '\n');
    };
  const log: Logger = {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    child: () => log,
  };
  return log;
}

/**
 * Installs the guard of daemon `name`:
 *
 * - An unhandled rejection is logged with what is known (error, code, stack, cause) and the daemon
 *   keeps serving. A rejected promise is a task that failed with nobody waiting for its result:
 *   the task unwound through its own `finally` blocks (locks released, handles closed), so the
 *   process is in a state the code made on purpose. All that was lost is that nobody heard of the
 *   failure, and the log now says it. Exiting would instead drop every other client's calls and
 *   every BMC session of the host because of one forgotten `catch`.
 * - An uncaught exception from a write to a client that went away ({@link isPeerGoneError}) is
 *   logged and the daemon keeps serving: it is raised at the reply, after the work was done, and
 *   a daemon never exits because of what a client did or when it did it.
 * - Any other uncaught exception was thrown through a callback that did not expect it, possibly
 *   halfway through changing shared state (a lock never released, a table half updated), and Node
 *   documents that resuming then is unsafe. It is logged, and the daemon exits with
 *   {@link EXIT_UNCAUGHT} so the supervisor (systemd `Restart=on-failure`) starts it afresh. A
 *   restart loses little: the agent reads its state back from the host, the coordinator from NATS.
 */
export function guardProcess(name: string, exit: (code: number) => void = (code) => process.exit(code)): ProcessGuard {
  let log = stderrLogger();
  let exiting = false;
  const onRejection = (reason: unknown): void => {
    log.error('unhandled promise rejection; still serving', { daemon: name, ...describeError(reason) });
  };
  const onException = (err: Error, origin: string): void => {
    if (isPeerGoneError(err)) {
      log.error('uncaught error writing to a client that is gone; still serving', {
        daemon: name,
        origin,
        ...describeError(err),
      });
      return;
    }
    log.error('uncaught exception; exiting for the supervisor to restart the daemon', {
      daemon: name,
      origin,
      exitCode: EXIT_UNCAUGHT,
      ...describeError(err),
    });
    if (exiting) return;
    exiting = true;
    // The same in one plain stderr line, written now, in case the logger's stream never flushes.
    writeSync(2, `${name}: uncaught exception: ${err.stack ?? err.message}\n`);
    process.exitCode = EXIT_UNCAUGHT;
    // A moment for the log line to leave the logger's stream.
    setTimeout(() => {
      exit(EXIT_UNCAUGHT);
    }, 100);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    useLogger: (l) => {
      log = l;
    },
    uninstall: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}
