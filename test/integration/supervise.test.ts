/**
 * scripts/supervise.sh, which keeps the quickstart's daemons running without systemd: a real
 * tenks-agent (port 0, test:///default, everything in a temp dir) killed with SIGKILL comes back,
 * and TERM to the supervisor stops both; stand-in commands show the crash-loop backoff, the
 * Restart= policies and the kill after the stop timeout.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const ROOT = new URL('../../', import.meta.url).pathname;
const SUPERVISE = join(ROOT, 'scripts/supervise.sh');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A supervisor run in a temp dir, in its own process group (so a failed test can kill it all). */
class Supervised {
  readonly exited: Promise<number | null>;
  stderr = '';
  private status: number | null | undefined;

  private constructor(
    readonly dir: string,
    readonly proc: ChildProcess,
  ) {
    proc.stderr?.on('data', (c: Buffer) => (this.stderr += c.toString('utf8')));
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code) => {
        this.status = code;
        resolve(code);
      });
    });
  }

  static async start(options: readonly string[], command: readonly string[]): Promise<Supervised> {
    const dir = await mkdtemp(join(tmpdir(), 'tenks-supervise-'));
    const proc = spawn(
      'bash',
      [
        SUPERVISE,
        '--name',
        'd',
        '--pid-dir',
        join(dir, 'run'),
        '--log',
        join(dir, 'd.log'),
        ...options,
        '--',
        ...command,
      ],
      { detached: true, stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT },
    );
    return new Supervised(dir, proc);
  }

  get running(): boolean {
    return this.status === undefined;
  }

  log(): Promise<string> {
    return readFile(join(this.dir, 'd.log'), 'utf8').catch(() => '');
  }

  async pidFile(which: 'd.pid' | 'd.supervisor.pid'): Promise<number | null> {
    const text = await readFile(join(this.dir, 'run', which), 'utf8').catch(() => '');
    return text.trim() === '' ? null : Number(text.trim());
  }

  async until<T>(what: string, probe: () => Promise<T | null | false>, timeoutMs = 20_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== null && v !== false) return v;
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}; log:\n${await this.log()}`);
      await sleep(100);
    }
  }

  /** Kills everything left (the group) and removes the dir. */
  async close(): Promise<void> {
    if (this.running && this.proc.pid !== undefined) {
      try {
        process.kill(-this.proc.pid, 'SIGKILL');
      } catch {
        // Gone.
      }
      await this.exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

describe('scripts/supervise.sh', function () {
  const started: Supervised[] = [];
  const start = async (options: readonly string[], command: readonly string[]): Promise<Supervised> => {
    const s = await Supervised.start(options, command);
    started.push(s);
    return s;
  };
  afterEach(async function () {
    for (const s of started.splice(0)) await s.close();
  });

  it('restarts a real tenks-agent killed with SIGKILL, and TERM stops both for good', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'tenks-supervise-agent-'));
    try {
      const config = join(dir, 'agent.yaml');
      await writeFile(
        config,
        stringify({
          agent_id: `sup-${randomBytes(3).toString('hex')}`,
          listen: '127.0.0.1:0',
          insecure_loopback: true,
          libvirt_uri: 'test:///default',
          storage: { pool_name: `tenks-sup-${randomBytes(3).toString('hex')}`, pool_path: join(dir, 'pool') },
          log_directory: join(dir, 'log'),
          state_dir: join(dir, 'state'),
          bmc: { listen_address: '127.0.0.1', ipmi_port_range_start: 0, ipmi_port_range_end: 0, redfish_port: 0 },
          log_level: 'info',
          shutdown_grace_s: 2,
        }),
      );
      const agent = await start(
        ['--restart-sec', '0.5', '--kill-signal', 'SIGTERM', '--timeout-stop-sec', '20'],
        [process.execPath, join(ROOT, 'bin/tenks-agent.js'), '--config', config],
      );
      const listening = async (): Promise<number> =>
        (await agent.log()).split('\n').filter((l) => l.includes('"grpc listening"')).length;
      await agent.until('the agent to listen', async () => (await listening()) === 1, 60_000);
      const first = await agent.until('the agent pid file', () => agent.pidFile('d.pid'));
      const supervisor = await agent.until('the supervisor pid file', () => agent.pidFile('d.supervisor.pid'));
      assert.equal(supervisor, agent.proc.pid);
      assert.match(await readFile(`/proc/${first}/cmdline`, 'utf8'), /tenks-agent\.js/);

      process.kill(first, 'SIGKILL');
      const second = await agent.until(
        'a new agent pid',
        async () => {
          const p = await agent.pidFile('d.pid');
          return p !== null && p !== first ? p : null;
        },
        20_000,
      );
      await agent.until('the restarted agent to listen', async () => (await listening()) === 2, 60_000);
      assert.ok(!alive(first));
      assert.ok(alive(second));
      assert.match(await readFile(`/proc/${second}/cmdline`, 'utf8'), /tenks-agent\.js/);
      assert.match(await agent.log(), /pid \d+ exited with status 137 after [\d.]+ s; restarting in 0\.500 s/);

      const t0 = Date.now();
      process.kill(supervisor, 'SIGTERM');
      assert.equal(await agent.exited, 0);
      assert.ok(Date.now() - t0 < 15_000, `stopped in ${Date.now() - t0} ms`);
      assert.ok(!alive(second), 'the agent is gone');
      assert.equal(await agent.pidFile('d.pid'), null);
      assert.equal(await agent.pidFile('d.supervisor.pid'), null);
      const log = await agent.log();
      assert.match(log, /"agent stopped"/, 'the agent drained and stopped on its own');
      assert.match(log, /stopped \(status 0\); not restarted/);
      // Nothing restarted it afterwards.
      await sleep(1500);
      assert.equal((await agent.log()).split('\n').filter((l) => l.includes('started pid')).length, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('backs off while a daemon keeps crashing soon after start, up to the maximum', async function () {
    const s = await start(
      ['--restart-sec', '0.2', '--max-restart-sec', '0.8', '--stable-sec', '30'],
      ['bash', '-c', 'exit 3'],
    );
    const delays = await s.until('four restarts', async () => {
      const d = [...(await s.log()).matchAll(/exited with status 3 after [\d.]+ s; restarting in ([\d.]+) s/g)].map(
        (m) => m[1],
      );
      return d.length >= 5 ? d.slice(0, 5) : null;
    });
    assert.deepEqual(delays, ['0.200', '0.400', '0.800', '0.800', '0.800']);
    process.kill(s.proc.pid!, 'SIGTERM');
    assert.equal(await s.exited, 0);
    assert.match(await s.log(), /stopped (while waiting to restart|\(status 3\); not restarted)/);
  });

  it('goes back to the short delay after the daemon stayed up for --stable-sec', async function () {
    // Up 1 s (more than --stable-sec 0.5), then fails: every restart waits the base delay.
    const s = await start(
      ['--restart-sec', '0.2', '--max-restart-sec', '5', '--stable-sec', '0.5'],
      ['bash', '-c', 'sleep 1; exit 1'],
    );
    const delays = await s.until('three restarts', async () => {
      const d = [...(await s.log()).matchAll(/restarting in ([\d.]+) s/g)].map((m) => m[1]);
      return d.length >= 3 ? d.slice(0, 3) : null;
    });
    assert.deepEqual(delays, ['0.200', '0.200', '0.200']);
  });

  it('with Restart=on-failure, leaves a clean exit and a TERM from elsewhere alone, as systemd does', async function () {
    const clean = await start(['--restart-sec', '0.1'], ['bash', '-c', 'exit 0']);
    assert.equal(await clean.exited, 0);
    assert.match(await clean.log(), /exited with status 0 after [\d.]+ s; not restarted \(Restart=on-failure\)/);
    assert.equal(await clean.pidFile('d.supervisor.pid'), null);

    const termed = await start(['--restart-sec', '0.1'], ['sleep', '60']);
    const pid = await termed.until('the pid file', () => termed.pidFile('d.pid'));
    process.kill(pid, 'SIGTERM');
    assert.equal(await termed.exited, 143);
    assert.match(await termed.log(), /exited with status 143 .*not restarted/);
  });

  it('with Restart=always, restarts after a clean exit too', async function () {
    const s = await start(
      ['--restart', 'always', '--restart-sec', '0.1', '--stable-sec', '30'],
      ['bash', '-c', 'exit 0'],
    );
    await s.until(
      'two restarts',
      async () => ((await s.log()).match(/exited with status 0 .*restarting/g)?.length ?? 0) >= 2,
    );
  });

  it('kills a daemon that ignores its stop signal after --timeout-stop-sec, and does not restart it', async function () {
    const s = await start(
      ['--restart', 'always', '--restart-sec', '0.1', '--timeout-stop-sec', '1'],
      ['bash', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done'],
    );
    const pid = await s.until('the daemon to start', async () =>
      (await s.log()).includes('ready') ? s.pidFile('d.pid') : null,
    );
    const t0 = Date.now();
    process.kill(s.proc.pid!, 'SIGTERM');
    assert.equal(await s.exited, 0);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 5000, `stopped after ${took} ms`);
    assert.ok(!alive(pid));
    assert.match(await s.log(), /pid \d+ killed after 1 s/);
    assert.match(await s.log(), /stopped \(status 137\); not restarted/);
  });

  it('gives the daemon its stop signal even though background commands start with SIGINT ignored', async function () {
    // NATS stops on SIGINT (KillSignal=SIGINT in its unit).
    const s = await start(['--kill-signal', 'SIGINT', '--timeout-stop-sec', '10'], ['sleep', '60']);
    const pid = await s.until('the pid file', () => s.pidFile('d.pid'));
    const t0 = Date.now();
    process.kill(s.proc.pid!, 'SIGTERM');
    assert.equal(await s.exited, 0);
    assert.ok(Date.now() - t0 < 5000, 'sleep ended on SIGINT, not on the kill after 10 s');
    assert.ok(!alive(pid));
    assert.match(await s.log(), /stopped \(status 130\)/);
  });

  it('refuses bad options with a message naming them', async function () {
    const s = await start(['--restart', 'sometimes'], ['true']);
    assert.equal(await s.exited, 2);
    assert.match(s.stderr, /--restart must be on-failure, always or no, not 'sometimes'/);
    const t = await start(['--restart-sec', 'soon'], ['true']);
    assert.equal(await t.exited, 2);
    assert.match(t.stderr, /'soon' is not a number of seconds/);
  });
});
