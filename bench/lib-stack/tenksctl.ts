/** `tenksctl` runs, timed wall-clock the way a user runs them. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { bundleIsFresh } from '../../bin/bundle.js';
import { REPO } from './paths.js';
import { run } from './run.js';

/** `npm run --silent build` unless the bundle is fresh (sources edited meanwhile make it stale). */
export async function ensureBundle(say: (l: string) => void): Promise<void> {
  if (bundleIsFresh()) return;
  say('building dist/tenksctl.cjs (npm run --silent build)');
  await run('npm', ['run', '--silent', 'build'], 120_000);
}

/** One timed `tenksctl` run. */
export interface CtlRun {
  args: string[];
  code: number | null;
  seconds: number;
  stdout: string;
  stderr: string;
  /** Whether bin/tenksctl.js ran the bundle (false: through tsx, ~0.5 s slower). */
  bundle: boolean;
}

/** Runs `node bin/tenksctl.js ARGS` with `env`, timing it wall-clock from spawn to exit. */
export function tenksctl(args: readonly string[], env: Record<string, string>, timeoutMs = 600_000): Promise<CtlRun> {
  const bundle = bundleIsFresh();
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [join(REPO, 'bin/tenksctl.js'), ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      resolve({ args: [...args], code, seconds, stdout, stderr, bundle });
    });
  });
}
