import { spawn } from 'node:child_process';
import { TenksError } from '../../common/index.js';

/** Options of one command run. */
export interface RunOptions {
  /** Text written to the command's stdin (e.g. an `ip -batch -` script). */
  input?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A failed command, with what it printed. */
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

/** Runs a host tool and returns its stdout; rejects with CommandError (or NOT_FOUND when the tool is missing). */
export function run(file: string, args: readonly string[], o: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: o.timeoutMs ?? 60_000,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT')
        reject(
          new TenksError('NOT_FOUND', `'${file}' is not installed on this host`, {
            cause: e,
            hint: 'run scripts/setup.sh',
          }),
        );
      else if (e.name === 'AbortError') reject(new TenksError('CANCELLED', `${file} cancelled`, { cause: e }));
      else reject(new TenksError('INTERNAL', `${file}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new CommandError(`${file} ${args.slice(0, 3).join(' ')}`, code, Buffer.concat(err).toString('utf8')));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}
