/**
 * The daemons' process guard (common/process-guard.ts, installed by runDaemonMain) in a real child
 * process: an unhandled rejection and an error writing to a vanished client are logged and the
 * daemon keeps serving; any other uncaught exception is logged and ends the daemon with status 70.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createInterface } from 'node:readline';
import { EXIT_UNCAUGHT } from '../../common/process-guard.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const FIXTURE = new URL('../helpers/guarded-daemon.ts', import.meta.url).pathname;

interface Line {
  message?: string;
  [key: string]: unknown;
}

/** The fixture daemon as a child process, with its JSON log lines. */
class Fixture {
  readonly lines: Line[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined = undefined;
  private constructor(readonly child: ChildProcess) {
    assert.ok(child.stdout && child.stderr);
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as Line);
      } catch {
        this.lines.push({ message: l });
      }
    });
    createInterface({ input: child.stderr }).on('line', (l) => this.stderr.push(l));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
  }

  static start(): Fixture {
    return new Fixture(
      spawn(process.execPath, ['--import', 'tsx', FIXTURE], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
  }

  async line(match: (l: Line) => boolean, timeoutMs = 20_000): Promise<Line> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (Date.now() > end || this.exitCode !== undefined)
        assert.fail(`no such log line (exit ${String(this.exitCode)}): ${this.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  output(): string {
    return `\nstdout:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${this.stderr.join('\n')}`;
  }

  kill(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
  }
}

function fetchText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve(body);
      });
    }).on('error', reject);
  });
}

describe('daemon process guard (child process)', function () {
  this.timeout(60_000);
  const started: Fixture[] = [];
  const start = async (): Promise<{ fixture: Fixture; port: number }> => {
    const fixture = Fixture.start();
    started.push(fixture);
    const l = await fixture.line((x) => x.message === 'fixture listening', 40_000);
    assert.ok(typeof l.port === 'number');
    return { fixture, port: l.port };
  };

  after(function () {
    for (const f of started) f.kill();
  });

  it('logs an unhandled rejection with its stack and keeps serving', async function () {
    const { fixture, port } = await start();
    assert.equal(await fetchText(port, '/reject'), 'ok');
    const l = await fixture.line((x) => x.message === 'unhandled promise rejection; still serving');
    assert.equal(l.daemon, 'guard-fixture');
    assert.equal(l.error, 'late failure nobody awaited');
    assert.match(String(l.stack), /guarded-daemon\.ts/);
    assert.equal(await fetchText(port, '/ping'), 'ok', 'still serving');
    fixture.child.kill('SIGTERM');
    assert.equal(await fixture.exited, 0, fixture.output());
  });

  it('logs an error writing to a client that is gone and keeps serving', async function () {
    const { fixture, port } = await start();
    assert.equal(await fetchText(port, '/peer-gone'), 'ok');
    const l = await fixture.line((x) => x.message === 'uncaught error writing to a client that is gone; still serving');
    assert.equal(l.errorCode, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
    assert.equal(await fetchText(port, '/ping'), 'ok', 'still serving');
    fixture.child.kill('SIGTERM');
    assert.equal(await fixture.exited, 0, fixture.output());
  });

  it('logs any other uncaught exception and exits with status 70 for the supervisor', async function () {
    const { fixture, port } = await start();
    assert.equal(await fetchText(port, '/bug'), 'ok');
    assert.equal(await fixture.exited, EXIT_UNCAUGHT, fixture.output());
    const l = await fixture.line((x) => String(x.message).startsWith('uncaught exception'));
    assert.equal(l.error, 'a bug in a callback');
    assert.ok(
      fixture.stderr.some((s) => s.startsWith('guard-fixture: uncaught exception: Error: a bug in a callback')),
    );
  });
});
