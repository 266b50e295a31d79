/** What a bench started: processes, cleanups, a temp dir; and the config files it wrote there. */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Daemon } from './daemon.js';
import { REPO } from './paths.js';

/** Options of {@link Stack.spawn}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  /**
   * Raise the open-files limit of the process to this (a `bash -c 'ulimit -n N; exec ...'` wrapper),
   * or to the hard limit when N is above it and this process may not raise that.
   */
  nofile?: number;
}

/** What a bench started: processes, cleanups, a temp dir. */
export class Stack {
  readonly daemons: Daemon[] = [];
  private readonly cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
  private closing: Promise<void> | null = null;

  private constructor(readonly dir: string) {}

  /** A stack with a fresh temp dir (mode 711: QEMU, running as another user, can reach pools under it). */
  static async create(prefix: string): Promise<Stack> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    await chmod(dir, 0o711);
    return new Stack(dir);
  }

  /** Registers a cleanup; cleanups run in reverse order at close, after every process stopped. */
  onCleanup(what: string, fn: () => Promise<unknown>): void {
    this.cleanups.push({ what, fn });
  }

  spawn(name: string, file: string, args: readonly string[], o: SpawnOptions = {}): Daemon {
    const [cmd, argv] =
      o.nofile === undefined
        ? [file, args]
        : // Up to the hard limit when N is above it and raising that is not permitted (no CAP_SYS_RESOURCE).
          [
            'bash',
            ['-c', `ulimit -n ${o.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, 'bash', file, ...args],
          ];
    const proc = spawn(cmd, argv, {
      cwd: REPO,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...o.env },
    });
    const d = new Daemon(name, proc);
    this.daemons.push(d);
    return d;
  }

  /** Stops every process (newest first), runs the cleanups, removes the temp dir. Idempotent. */
  close(say: (l: string) => void = () => undefined): Promise<void> {
    this.closing ??= (async () => {
      for (const d of [...this.daemons].reverse()) await d.stop();
      for (const c of [...this.cleanups].reverse())
        await c.fn().catch((e: unknown) => {
          say(`cleanup of ${c.what} failed: ${String(e)}`);
        });
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  /** Ctrl-C / SIGTERM: close everything, then exit 130. */
  closeOnSignals(say: (l: string) => void): void {
    const onSignal = (sig: string): void => {
      say(`${sig}: stopping every process started and cleaning up`);
      void this.close(say).finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
}

/** Writes `config` (YAML) to `<stack dir>/<name>.yaml`. */
export async function writeConfig(stack: Stack, name: string, config: Record<string, unknown>): Promise<string> {
  const file = join(stack.dir, `${name}.yaml`);
  await writeFile(file, stringify(config), { mode: 0o600 });
  return file;
}
