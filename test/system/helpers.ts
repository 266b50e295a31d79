/** Helpers of the system tests: the agent as a child process, mTLS certificates, virsh, free ports. */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { stringify } from 'yaml';

const execFileAsync = promisify(execFile);

/** The repository root. */
export const ROOT = new URL('../../', import.meta.url).pathname;
export const SYSTEM_URI = 'qemu:///system';
/** Channel options to verify the agent's certificate name (it has DNS:localhost) while dialling 127.0.0.1. */
export const SERVER_NAME = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };

/** A short random suffix, so names of one run never collide with another's. */
export function suffix(): string {
  return randomBytes(4).toString('hex');
}

/** Runs a program; resolves with its stdout, rejects with its stderr in the message. */
export async function run(file: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    const stderr = err.stderr?.trim() ?? '';
    throw new Error(`${file} ${args.join(' ')} failed: ${stderr !== '' ? stderr : err.message}`, { cause: e });
  }
}

/** Runs `virsh -c qemu:///system ARGS`. */
export function virsh(...args: string[]): Promise<string> {
  return run('virsh', ['-c', SYSTEM_URI, ...args]);
}

/** Names of every libvirt domain (running or not). */
export async function domainNames(): Promise<string[]> {
  return (await virsh('list', '--all', '--name'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Names of the volumes of a pool. */
export async function volumeNames(pool: string): Promise<string[]> {
  await virsh('pool-refresh', pool).catch(() => undefined);
  return (await virsh('vol-list', pool))
    .split('\n')
    .slice(2)
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '')
    .sort();
}

/** A domain's state as virsh words it (`running`, `shut off`, ...). */
export async function domState(name: string): Promise<string> {
  return (await virsh('domstate', name)).trim();
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Removes every domain whose name contains `part` (with its NVRAM), then the pool. Never throws. */
export async function cleanupLibvirt(o: { domainPart: string; pool?: string }): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await domainNames().catch(() => [])) {
    if (!name.includes(o.domainPart)) continue;
    await virsh('destroy', name).catch(() => undefined);
    await virsh('undefine', name, '--nvram')
      .catch(() => virsh('undefine', name))
      .catch(() => undefined);
    removed.push(`domain ${name}`);
  }
  if (o.pool !== undefined) {
    const pools = await virsh('pool-list', '--all', '--name').catch(() => '');
    if (pools.split('\n').some((l) => l.trim() === o.pool)) {
      for (const v of await volumeNames(o.pool).catch(() => [])) {
        await virsh('vol-delete', '--pool', o.pool, v).catch(() => undefined);
        removed.push(`volume ${v}`);
      }
      await virsh('pool-destroy', o.pool).catch(() => undefined);
      await virsh('pool-undefine', o.pool).catch(() => undefined);
      removed.push(`pool ${o.pool}`);
    }
  }
  return removed;
}

/** Makes a CA and certificates `names` in `dir` with deploy/make-certs.sh. */
export async function makeCerts(dir: string, ...names: string[]): Promise<void> {
  await run('bash', [join(ROOT, 'deploy/make-certs.sh'), dir, ...names]);
}

/** mTLS client credentials from `dir` (as made by makeCerts with a `client` certificate). */
export async function clientCredentials(dir: string): Promise<ChannelCredentials> {
  const [ca, key, cert] = await Promise.all(
    ['ca.pem', 'client-key.pem', 'client.pem'].map((f) => readFile(join(dir, f))),
  );
  return credentials.createSsl(ca, key, cert);
}

/** A log line of the agent (winston JSON). */
export interface LogLine {
  level?: string;
  message?: string;
  [key: string]: unknown;
}

/** A daemon (the agent by default, or the coordinator) as a child process, with its JSON log lines. */
export class AgentProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly child: ChildProcess) {
    assert.ok(child.stdout && child.stderr);
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as LogLine);
      } catch {
        this.lines.push({ message: l });
      }
      this.notify();
    });
    createInterface({ input: child.stderr }).on('line', (l) => {
      this.stderr.push(l);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolve({ code, signal });
      });
    });
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Writes `config` as YAML to `configFile` and spawns `node bin/tenks-agent.js --config configFile`. */
  static async spawn(
    configFile: string,
    config: Record<string, unknown>,
    o: { bin?: string; netns?: string } = {},
  ): Promise<AgentProcess> {
    await writeFile(configFile, stringify(config));
    const args = [join(ROOT, o.bin ?? 'bin/tenks-agent.js'), '--config', configFile];
    // In a network namespace of the test's own: `ip netns exec NS node ...`.
    const child =
      o.netns === undefined
        ? spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('ip', ['netns', 'exec', o.netns, process.execPath, ...args], {
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
    return new AgentProcess(child);
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Waits for a log line matching `match`; fails when the agent exits first or on timeout. */
  async waitForLine(match: (l: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.exit)
        assert.fail(`the agent exited (${JSON.stringify(this.exit)}) before the expected log line: ${this.output()}`);
      const left = end - Date.now();
      if (left <= 0) assert.fail(`timed out after ${timeoutMs} ms waiting for a log line: ${this.output()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /**
   * The port the coordinator bound (its config says `listen: 127.0.0.1:0`), from its
   * `coordinator listening` log line (needs log_level info or lower).
   */
  async listeningPort(timeoutMs = 60_000): Promise<number> {
    const l = await this.waitForLine((x) => x.message === 'coordinator listening', timeoutMs);
    assert.ok(typeof l.port === 'number' && l.port > 0, `no port in ${JSON.stringify(l)}`);
    return l.port;
  }

  /** Sends `signal` and waits for the exit; rejects after `timeoutMs`. */
  async stop(
    signal: NodeJS.Signals,
    timeoutMs: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    return this.exitStatus(timeoutMs);
  }

  /** Waits for the daemon to exit by itself; rejects after `timeoutMs`. */
  async exitStatus(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exit) return this.exit;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`the agent did not exit within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the agent for good (cleanup): SIGTERM, then SIGKILL. */
  async kill(): Promise<void> {
    if (!this.running) return;
    await this.stop('SIGTERM', 15_000).catch(() => this.stop('SIGKILL', 5_000));
  }

  /** The last lines of output, for failure messages. */
  output(): string {
    const out = this.lines.slice(-20).map((l) => JSON.stringify(l));
    return `\nstdout:\n${out.join('\n')}\nstderr:\n${this.stderr.slice(-20).join('\n')}`;
  }
}
