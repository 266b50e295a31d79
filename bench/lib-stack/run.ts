/** Runs a program to its end. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs a program; resolves with stdout, rejects naming it with its stderr. */
export async function run(file: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    const stderr = err.stderr?.trim() ?? '';
    throw new Error(`${file} ${args.join(' ')} failed: ${stderr !== '' ? stderr : err.message}`, { cause: e });
  }
}
