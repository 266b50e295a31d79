/** Runs the host tools a snapshot reads (virsh, ip, ovs-vsctl, ss), read-only, with a deadline. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** stdout of `file args`; rejects naming the command with its stderr. */
export async function hostOutput(file: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    const stderr = err.stderr?.trim() ?? '';
    throw new Error(`${file} ${args.join(' ')}: ${stderr !== '' ? stderr : err.message}`, { cause: e });
  }
}

/** A short content hash (enough to tell two versions of a document apart). */
export function shortHash(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Non-empty trimmed lines. */
export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Runs `fn` over `xs` with at most `limit` at once, keeping order. */
export async function mapLimit<T, R>(xs: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(xs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, xs.length) }, worker));
  return out;
}
