/**
 * A real `nats-server` with JetStream for integration tests: a random port on 127.0.0.1 and a store
 * in a fresh temporary directory. `stop()` kills it and removes the directory; `halt()` and
 * `restart()` simulate an outage on the same port and store. Servers still running when the test
 * process exits are killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A running (or halted) test NATS server. */
export interface TestNats {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** JetStream store directory (removed by stop). */
  readonly storeDir: string;
  /** Kills the server (if running) and removes its store. Idempotent. */
  stop(): Promise<void>;
  /** Kills the server, keeping port and store, so that clients see it go away. */
  halt(): Promise<void>;
  /** Starts it again on the same port and store (halting it first if it runs). */
  restart(): Promise<void>;
}

/** Options of {@link startNats}. */
export interface StartNatsOptions {
  /** Enable JetStream (`-js`). Default true. */
  jetstream?: boolean;
  /** Further nats-server arguments. */
  args?: readonly string[];
  /** How long to wait for "Server is ready". Default 10 s. */
  readyTimeoutMs?: number;
  /** Address to listen on: 127.0.0.1 (default), or an address of a test's own network namespace link. */
  host?: string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Path of the nats-server binary: `$NATS_SERVER`, else the first on PATH, /usr/sbin or /usr/local/bin; null if none. */
export async function findNatsServer(): Promise<string | null> {
  const fromEnv = process.env.NATS_SERVER;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/bin', '/usr/bin'];
  const candidates =
    fromEnv !== undefined && fromEnv !== ''
      ? [fromEnv]
      : dirs.filter((d) => d !== '').map((d) => join(d, 'nats-server'));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // Try the next one.
    }
  }
  return null;
}

const LISTENING = /Listening for client connections on [^\s]*:(\d+)/;

/** Spawns nats-server and resolves with its port once it is ready. */
function launch(
  bin: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(child);
    let log = '';
    let port = 0;
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`nats-server ${args.join(' ')}: ${why}\n${log}`));
    };
    const timer = setTimeout(() => {
      fail(`not ready after ${timeoutMs} ms`);
    }, timeoutMs);
    child.on('error', (e) => {
      live.delete(child);
      fail(e.message);
    });
    child.on('exit', (code, signal) => {
      live.delete(child);
      if (port === 0 || !log.includes('Server is ready'))
        fail(`exited (${signal ?? String(code)}) before it was ready`);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      log += chunk;
      const m = LISTENING.exec(log);
      if (m && port === 0) port = Number(m[1]);
      if (!settled && port !== 0 && log.includes('Server is ready')) {
        settled = true;
        clearTimeout(timer);
        // Keep reading stderr so the pipe never fills, but stop keeping it.
        log = 'Server is ready';
        resolve({ child, port });
      }
    });
  });
}

async function kill(child: ChildProcess | null): Promise<void> {
  if (child?.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts a nats-server on 127.0.0.1 (or `o.host`) and a random free port, with JetStream in a temporary directory. */
export async function startNats(o: StartNatsOptions = {}): Promise<TestNats> {
  const bin = await findNatsServer();
  if (bin === null) throw new Error('nats-server not found (install it, or set NATS_SERVER)');
  const storeDir = await mkdtemp(join(tmpdir(), 'tenks-nats-'));
  const timeoutMs = o.readyTimeoutMs ?? 10_000;
  const host = o.host ?? '127.0.0.1';
  const argsFor = (port: number): string[] => [
    '-a',
    host,
    '-p',
    String(port),
    ...(o.jetstream === false ? [] : ['-js', '-sd', storeDir]),
    ...(o.args ?? []),
  ];
  let first: { child: ChildProcess; port: number };
  try {
    // -p -1: the server picks a free port itself, so there is no window for another process to take it.
    first = await launch(bin, argsFor(-1), timeoutMs);
  } catch (e) {
    await rm(storeDir, { recursive: true, force: true });
    throw e;
  }
  let child: ChildProcess | null = first.child;
  const port = first.port;
  let stopped = false;
  return {
    url: `nats://${host}:${port}`,
    port,
    storeDir,
    halt: async () => {
      await kill(child);
      child = null;
    },
    restart: async () => {
      if (stopped) throw new Error('restart after stop');
      await kill(child);
      child = (await launch(bin, argsFor(port), timeoutMs)).child;
    },
    stop: async () => {
      stopped = true;
      await kill(child);
      child = null;
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
