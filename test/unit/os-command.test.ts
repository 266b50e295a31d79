/** The agent's one way to run a host tool (agent/os/command.ts): its output, and how each failure reads. */
import assert from 'node:assert/strict';
import { CommandError, runCommand } from '../../agent/os/command.js';
import { tenksRejects as failure } from '../helpers/tenks-rejects.js';

describe('running a host tool', function () {
  it('returns what it printed, fed its input on stdin', async function () {
    assert.equal(await runCommand('cat', [], { input: 'line 1\nline 2\n' }), 'line 1\nline 2\n');
    assert.equal(await runCommand('sh', ['-c', 'cat; echo done']), 'done\n', 'stdin is closed without input');
  });

  it('fails INTERNAL with the command, its exit status and its stderr when it exits non-zero', async function () {
    const err = await failure(
      runCommand('sh', ['-c', 'echo out; echo bad thing >&2; echo worse >&2; exit 3']),
      'INTERNAL',
    );
    assert.ok(err instanceof CommandError);
    assert.equal(
      err.message,
      'sh -c echo out; echo bad thing >&2; echo worse >&2; exit 3 failed (exit 3): bad thing; worse',
    );
    assert.equal(err.exitCode, 3);
    assert.equal(err.stderr, 'bad thing\nworse\n');
  });

  it('fails NOT_FOUND, with a hint, when the tool is not installed', async function () {
    const err = await failure(runCommand('tenks-no-such-tool', ['x']), 'NOT_FOUND');
    assert.equal(err.message, "'tenks-no-such-tool' is not installed on this host");
    assert.equal(err.hint, 'run scripts/setup.sh');
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOENT');
  });

  it('kills it and fails TIMEOUT after its deadline', async function () {
    const started = Date.now();
    const err = await failure(runCommand('sleep', ['5'], { timeoutMs: 100 }), 'TIMEOUT');
    assert.equal(err.message, 'sleep 5 did not finish within 100 ms');
    assert.ok(Date.now() - started < 4_000, 'it did not wait for the command');
  });

  it('kills it and fails CANCELLED when the signal aborts, keeping the reason', async function () {
    const ac = new AbortController();
    const run = runCommand('sleep', ['5'], { signal: ac.signal });
    setTimeout(() => {
      ac.abort(new Error('stop now'));
    }, 50);
    const err = await failure(run, 'CANCELLED');
    assert.equal(err.message, 'sleep cancelled');
    assert.equal((err.cause as Error).message, 'stop now');
  });

  it('starts nothing when the signal has aborted already', async function () {
    const err = await failure(runCommand('tenks-no-such-tool', [], { signal: AbortSignal.abort() }), 'CANCELLED');
    assert.equal(err.message, 'tenks-no-such-tool cancelled', 'not NOT_FOUND: nothing was started');
  });
});
