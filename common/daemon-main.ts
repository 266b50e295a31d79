/**
 * The daemons' entry point: command-line flags over the config file, compiled once, then the logger
 * (winston, JSON lines on stdout: the one place a daemon builds it), the daemon, and a drain on SIGTERM.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readYamlFile } from './config.js';
import { silenceIpServerNameWarning } from './grpc/tls.js';
import { onShutdownSignals, runDaemonMain } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createWinstonLogger, type LoggerOptions } from './winston-logger.js';

type Flags = NonNullable<ParseArgsConfig['options']>;

/** The values of `flags` as given on the command line. */
export type FlagValues<F extends Flags> = ReturnType<typeof parseArgs<{ options: F; strict: true }>>['values'];

/** Flags every daemon takes; the config keys they set are the same in both. */
const SHARED_FLAGS = {
  config: { type: 'string', short: 'c' },
  listen: { type: 'string' },
  nats: { type: 'string' },
  'insecure-loopback': { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What makes one daemon's entry point. */
export interface DaemonEntry<F extends Flags, C extends { logLevel: LoggerOptions['level'] }, D> {
  /** Process name, starting its one-line start-up error (`tenks-agent: ...`). */
  name: string;
  /** `--help` text. */
  usage: string;
  /** Its own flags, besides `--config FILE`, `--listen`, `--nats URL[,URL...]`, `--insecure-loopback`, `--log-level`, `--help`. */
  flags: F;
  /** The config keys its own flags set, put over the config file's (`{}` without `--config`). */
  override(file: Record<string, unknown>, flags: FlagValues<F>): Record<string, unknown>;
  /** Raw config → compiled, with field-path errors (INVALID_SPEC). */
  compile(raw: Record<string, unknown>): C;
  start(config: C, log: Logger): Promise<D>;
  /** Called once the daemon runs. */
  started?(daemon: D, config: C, log: Logger): void;
  /** Drains and stops the daemon on the first SIGTERM/SIGINT. */
  stop(daemon: D): Promise<void>;
}

/** Runs a daemon until SIGTERM; a failure to start is one line on stderr and exit status 2 (bad config) or 1. */
export function runDaemon<F extends Flags, C extends { logLevel: LoggerOptions['level'] }, D>(
  entry: DaemonEntry<F, C, D>,
): void {
  silenceIpServerNameWarning();
  runDaemonMain(entry.name, async (guard) => {
    const { values } = parseArgs({ options: { ...entry.flags, ...SHARED_FLAGS }, strict: true });
    const shared = values as FlagValues<typeof SHARED_FLAGS>;
    if (shared.help) {
      process.stdout.write(entry.usage + '\n');
      return;
    }
    const file = (shared.config ? await readYamlFile(shared.config) : {}) as Record<string, unknown>;
    const merged: Record<string, unknown> = { ...file, ...entry.override(file, values) };
    if (shared.listen !== undefined) merged.listen = shared.listen;
    if (shared.nats !== undefined)
      merged.nats = { ...(file.nats as object | undefined), servers: shared.nats.split(',') };
    if (shared['insecure-loopback'] !== undefined) merged.insecure_loopback = shared['insecure-loopback'];
    if (shared['log-level'] !== undefined) merged.log_level = shared['log-level'];
    const config = entry.compile(merged);
    const log = createWinstonLogger({ level: config.logLevel, format: 'json', stream: 'stdout' });
    guard.useLogger(log);
    const daemon = await entry.start(config, log);
    entry.started?.(daemon, config, log);
    onShutdownSignals(log, () => entry.stop(daemon));
  });
}
