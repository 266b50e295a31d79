import { spawn } from 'node:child_process';
import { TenksError } from '../../common/index.js';

/** Options of one command run. */
export interface CommandOptions {
  /** Text written to the command's stdin (e.g. an `ip -batch -` script); without it stdin is closed at once. */
  input?: string;
  /** Deadline in ms, after which the command is killed and the run fails TIMEOUT. Default 60000. */
  timeoutMs?: number;
  /** Aborting kills the command, and the run fails CANCELLED. */
  signal?: AbortSignal | undefined;
}

/** A command that exited non-zero or was killed, with what it printed on stderr. */
export class CommandError extends TenksError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(
      'INTERNAL',
      `${command} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim().split('\n').slice(0, 5).join('; ')}`,
    );
  }
}

/**
 * Runs a host tool and returns its stdout. Fails with {@link CommandError} when it exits non-zero,
 * NOT_FOUND when it is not installed, TIMEOUT after `timeoutMs`, CANCELLED when `signal` aborts;
 * every error keeps its cause.
 */
export function runCommand(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<string> {
  const { signal } = opts;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const command = `${file} ${args.slice(0, 3).join(' ')}`;
  const cancelled = (): TenksError => new TenksError('CANCELLED', `${file} cancelled`, { cause: signal?.reason });
  if (signal?.aborted) return Promise.reject(cancelled());
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    // Set when tenks stops the command, so its exit is reported as why it was stopped.
    let stopped: TenksError | null = null;
    let settled = false;
    const stop = (why: TenksError): void => {
      stopped ??= why;
      child.kill();
    };
    const timer = setTimeout(() => {
      stop(new TenksError('TIMEOUT', `${command} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = (): void => {
      stop(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (e: Error | null, stdout = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (e) reject(e);
      else resolve(stdout);
    };
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT')
        settle(
          new TenksError('NOT_FOUND', `'${file}' is not installed on this host`, {
            cause: e,
            hint: 'run scripts/setup.sh',
          }),
        );
      else settle(stopped ?? new TenksError('INTERNAL', `${file}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      if (stopped) settle(stopped);
      else if (code === 0) settle(null, Buffer.concat(out).toString('utf8'));
      else settle(new CommandError(command, code, Buffer.concat(err).toString('utf8')));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
