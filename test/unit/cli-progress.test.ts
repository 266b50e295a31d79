import assert from 'node:assert/strict';
import { ExitCode, operationExitStatus } from '../../cli/exit-codes.js';
import { OperationProgress, type StepState } from '../../cli/progress.js';
import {
  EventStreamView,
  LiveProgressView,
  PlainProgressView,
  eventOfStep,
  fitLine,
  progressBar,
  stepLine,
  summaryLines,
} from '../../cli/progress-view.js';
import type { OpEvent } from '../../common/nats/events.js';
import type { NodeResult, Operation, OperationState } from '../../common/index.js';

const ID = 'op1';
const ESC = String.fromCharCode(27);

/** An operation as GetOperation answers it, every field empty but those given. */
function op(p: Partial<Operation> = {}): Operation {
  return {
    id: ID,
    cluster: 'lab1',
    kind: 'apply',
    state: 'running',
    startedUnixMs: 0,
    finishedUnixMs: 0,
    results: [],
    errorCode: '',
    errorMessage: '',
    warnings: [],
    owner: '',
    actionsTotal: 0,
    actionsDone: 0,
    eventsSubject: `tenks.ops.${ID}.events`,
    ...p,
  };
}

function ok(node: string, hypervisor = 'hv1', changes: string[] = ['created']): NodeResult {
  return { node, action: 'ensure', ok: true, hypervisor, changes, errorCode: '', errorMessage: '' };
}

function failed(node: string, errorCode: string, errorMessage: string): NodeResult {
  return { node, action: 'ensure', ok: false, hypervisor: 'hv2', changes: [], errorCode, errorMessage };
}

const base = { op: ID, cluster: 'lab1' };
const started = (node: string, timeMs: number): OpEvent => ({
  ...base,
  type: 'step_started',
  node,
  hypervisor: 'hv1',
  action: 'ensure',
  timeMs,
});
const finished = (node: string, timeMs: number): OpEvent => ({
  ...base,
  type: 'step_finished',
  node,
  hypervisor: 'hv1',
  action: 'ensure',
  changes: ['created'],
  timeMs,
});
const stepFailed = (node: string, timeMs: number, retrying: boolean): OpEvent => ({
  ...base,
  type: 'step_failed',
  node,
  hypervisor: 'hv1',
  action: 'ensure',
  code: retrying ? 'UNAVAILABLE' : 'CAPACITY',
  message: retrying ? 'agent hv1 is restarting' : 'no room on hv1',
  retrying,
  timeMs,
});

function statuses(p: OperationProgress): Record<string, string> {
  return Object.fromEntries(p.steps().map((s) => [s.node, s.status]));
}

describe('tenksctl operation progress', () => {
  it('tracks steps from events, in order', () => {
    const p = new OperationProgress(op({ state: 'pending' }));
    assert.equal(p.stateName, 'pending');
    p.event({ ...base, type: 'operation_started', kind: 'apply', actions: 3, timeMs: 1 });
    assert.equal(p.stateName, 'running');
    assert.equal(p.total, 3);
    p.event(started('tk0', 2));
    p.event(started('tk1', 3));
    const changed = p.event(finished('tk0', 4));
    assert.deepEqual(
      changed.map((s) => [s.node, s.status]),
      [['tk0', 'ok']],
    );
    assert.deepEqual(statuses(p), { tk0: 'ok', tk1: 'running' });
    assert.equal(p.done, 1);
  });

  it('ignores duplicated events and says nothing changed', () => {
    const p = new OperationProgress(op());
    assert.equal(p.event(started('tk0', 2)).length, 1);
    assert.equal(p.event(started('tk0', 2)).length, 0);
    assert.equal(p.event(finished('tk0', 5)).length, 1);
    assert.equal(p.event(finished('tk0', 5)).length, 0);
    assert.equal(p.steps().length, 1);
  });

  it('keeps a finished step finished when its start arrives late', () => {
    const p = new OperationProgress(op());
    p.event(finished('tk0', 5));
    assert.deepEqual(p.event(started('tk0', 2)), []);
    assert.deepEqual(statuses(p), { tk0: 'ok' });
  });

  it('follows a retry, and ignores an older failure arriving after the retry started', () => {
    const p = new OperationProgress(op());
    p.event(started('tk0', 1));
    p.event(stepFailed('tk0', 2, true));
    assert.equal(p.steps()[0]?.status, 'retrying');
    assert.equal(p.steps()[0]?.code, 'UNAVAILABLE');
    p.event(started('tk0', 3));
    assert.equal(p.steps()[0]?.status, 'running');
    assert.deepEqual(p.event(stepFailed('tk0', 2, true)), [], 'stale');
    p.event(finished('tk0', 4));
    assert.deepEqual(statuses(p), { tk0: 'ok' });
    assert.equal(p.steps()[0]?.code, '', 'a success clears the retry error');
  });

  it('ignores events of other operations', () => {
    const p = new OperationProgress(op());
    assert.deepEqual(p.event({ ...started('tk0', 1), op: 'other' }), []);
    assert.equal(p.steps().length, 0);
  });

  it('fills in missed events from GetOperation, reporting only what changed', () => {
    const p = new OperationProgress(op());
    // tk0 and tk1 finished before the subscription: their events are lost.
    p.event(started('tk2', 10));
    const changed = p.reconcile(op({ actionsTotal: 4, actionsDone: 2, results: [ok('tk0'), ok('tk1')] }));
    assert.deepEqual(
      changed.map((s: StepState) => s.node),
      ['tk0', 'tk1'],
    );
    assert.deepEqual(statuses(p), { tk2: 'running', tk0: 'ok', tk1: 'ok' });
    assert.equal(p.total, 4);
    assert.equal(p.done, 2);
    // The same snapshot again changes nothing.
    assert.deepEqual(p.reconcile(op({ actionsTotal: 4, actionsDone: 2, results: [ok('tk0'), ok('tk1')] })), []);
  });

  it('lets the snapshot win over events for a reported step', () => {
    const p = new OperationProgress(op());
    p.reconcile(op({ results: [failed('tk0', 'CAPACITY', 'full')] }));
    assert.deepEqual(p.event(finished('tk0', 99)), []);
    assert.equal(p.steps()[0]?.status, 'failed');
    assert.equal(p.steps()[0]?.hypervisor, 'hv2');
  });

  it('does not let a stale snapshot take back an end announced by an event', () => {
    const p = new OperationProgress(op());
    p.event({ ...base, type: 'operation_done', state: 'succeeded', succeeded: 1, failed: 0, timeMs: 9 });
    assert.equal(p.ended, true);
    assert.equal(p.endedByEvent, true);
    assert.equal(p.confirmedEnd, false);
    p.reconcile(op({ state: 'running' }));
    assert.equal(p.stateName, 'succeeded');
    p.reconcile(op({ state: 'succeeded', results: [ok('tk0')] }));
    assert.equal(p.confirmedEnd, true);
  });

  it('marks steps that never finished when the operation ends', () => {
    const p = new OperationProgress(op());
    p.event(started('tk0', 1));
    p.event(started('tk1', 1));
    const changed = p.reconcile(op({ state: 'cancelled', results: [ok('tk0')], errorCode: 'CANCELLED' }));
    assert.deepEqual(
      changed.map((s) => [s.node, s.status]),
      [
        ['tk0', 'ok'],
        ['tk1', 'unfinished'],
      ],
    );
    assert.equal(p.stateName, 'cancelled');
    assert.equal(p.current.errorCode, 'CANCELLED');
  });

  it('ignores a done event once the snapshot showed the end', () => {
    const p = new OperationProgress(op({ state: 'failed', errorCode: 'CAPACITY' }));
    p.event({ ...base, type: 'operation_done', state: 'succeeded', succeeded: 1, failed: 0, timeMs: 9 });
    assert.equal(p.stateName, 'failed');
  });
});

describe('tenksctl operation exit status', () => {
  const outcome = (state: OperationState, errorCode = '', results: NodeResult[] = []): number =>
    operationExitStatus({ state, errorCode, results });

  it('is 0 for success and 130 for a cancelled operation', () => {
    assert.equal(outcome('succeeded', '', [ok('tk0')]), ExitCode.OK);
    assert.equal(outcome('cancelled'), ExitCode.CANCELLED);
  });

  it("is the operation's error code when it has one", () => {
    assert.equal(outcome('failed', 'UNAVAILABLE', [failed('tk1', 'CAPACITY', 'x')]), ExitCode.UNAVAILABLE);
    assert.equal(outcome('failed', 'INVALID_SPEC'), ExitCode.INVALID);
  });

  it("is the first failed node's code when only nodes failed", () => {
    assert.equal(
      outcome('failed', '', [ok('tk0'), failed('tk1', 'CAPACITY', 'full'), failed('tk2', 'PERMISSION', 'denied')]),
      ExitCode.CAPACITY,
    );
  });

  it('is 1 for a failure nobody explained, or an operation still running', () => {
    assert.equal(outcome('failed'), ExitCode.INTERNAL);
    assert.equal(outcome('failed', 'BOGUS', [failed('tk1', '', '?')]), ExitCode.INTERNAL);
    assert.equal(outcome('running'), ExitCode.INTERNAL);
  });
});

describe('tenksctl progress views', () => {
  it('writes one plain line per outcome, without escape codes', () => {
    const out: string[] = [];
    const view = new PlainProgressView({ write: (s: string) => out.push(s) });
    const p = new OperationProgress(op());
    view.start();
    view.update(p, p.event(started('tk0', 1)));
    view.update(p, p.event(finished('tk0', 2)));
    view.update(p, p.event(stepFailed('tk1', 3, false)));
    view.update(p, p.event(finished('tk0', 2)));
    assert.deepEqual(out, ['tk0 ensure ok (hv1)\n', 'tk1 ensure failed (hv1): CAPACITY: no room on hv1\n']);
    assert.ok(!out.join('').includes(ESC));
  });

  it('names cluster-wide steps by their hypervisor', () => {
    const p = new OperationProgress(op());
    p.event({
      ...base,
      type: 'step_finished',
      node: '',
      hypervisor: 'hv1',
      action: 'setup_host',
      changes: [],
      timeMs: 1,
    });
    p.event({
      ...base,
      type: 'step_finished',
      node: '',
      hypervisor: 'hv2',
      action: 'setup_host',
      changes: [],
      timeMs: 1,
    });
    assert.deepEqual(
      p.steps().map((s) => stepLine(s)),
      ['hv1 setup_host ok', 'hv2 setup_host ok'],
    );
  });

  it('draws a bar', () => {
    assert.equal(progressBar(0, 4, 8), '[>       ]');
    assert.equal(progressBar(2, 4, 8), '[====>   ]');
    assert.equal(progressBar(4, 4, 8), '[========]');
    assert.equal(progressBar(0, 0, 4), '[    ]');
  });

  it('cuts long lines to the terminal width, counting no escape codes', () => {
    assert.equal(fitLine('abcdef', 10), 'abcdef');
    assert.equal(fitLine('abcdefghijkl', 6), 'abcde…');
    assert.equal(fitLine(`${ESC}[2mabc${ESC}[22m`, 4), `${ESC}[2mabc${ESC}[22m`);
  });

  it('sums up per node, with code and message of failures', () => {
    const p = new OperationProgress(
      op({
        state: 'failed',
        startedUnixMs: 1_000,
        finishedUnixMs: 13_000,
        results: [ok('tk0'), failed('tk1', 'CAPACITY', 'no host has 4096 MiB free')],
      }),
    );
    const lines = summaryLines(p, false);
    assert.equal(lines[0], 'apply lab1: failed in 12s (1 ok, 1 failed)  [op1]');
    assert.match(lines[1] ?? '', /^NODE\s+ACTION\s+RESULT\s+HYPERVISOR\s+DETAIL$/);
    assert.match(lines[2] ?? '', /^tk0\s+ensure\s+ok\s+hv1\s+created$/);
    assert.match(lines[3] ?? '', /^tk1\s+ensure\s+failed\s+hv2\s+CAPACITY: no host has 4096 MiB free$/);
  });

  it('turns a step learnt from a snapshot back into the event it stands for', () => {
    const p = new OperationProgress(op({ results: [failed('tk1', 'CAPACITY', 'full')] }));
    const s = p.steps()[0];
    assert.ok(s);
    assert.deepEqual(eventOfStep(p, s, 7), {
      op: ID,
      cluster: 'lab1',
      timeMs: 7,
      node: 'tk1',
      hypervisor: 'hv2',
      action: 'ensure',
      type: 'step_failed',
      code: 'CAPACITY',
      message: 'full',
      retrying: false,
    });
  });
});

describe('tenksctl live and event views', () => {
  it('redraws the bar and running steps in place, keeping failures above', () => {
    let out = '';
    let now = 0;
    const view = new LiveProgressView({ write: (s: string) => (out += s), columns: 60 }, false, () => now);
    const p = new OperationProgress(op({ actionsTotal: 4 }));
    view.start(p);
    assert.equal(out, '[>                       ] 0/4  0s  0 running\n');
    view.update(p, p.event(started('tk0', 1)));
    view.update(p, p.event(stepFailed('tk1', 2, false)));
    assert.ok(out.includes(`${ESC}[1A\r${ESC}[J`), 'moved up over the one-line block and cleared it');
    assert.ok(out.includes('tk1 ensure failed (hv1): CAPACITY: no room on hv1\n'));
    assert.ok(out.endsWith('  tk0 ensure … (hv1)\n'), out);
    now = 5_000;
    p.reconcile(op({ state: 'failed', results: [ok('tk0'), failed('tk1', 'CAPACITY', 'x')] }));
    view.stop(p);
    assert.ok(out.endsWith(`${ESC}[2A\r${ESC}[J[============>           ] 2/4  5s  failed\n`), JSON.stringify(out));
    assert.ok(
      out.split('\n').every((l) => fitLine(l, 59) === l),
      'no line is wider than the terminal',
    );
  });

  it('writes events as they come, fills in missed outcomes, and ends with operation_done', () => {
    const lines: string[] = [];
    const view = new EventStreamView(
      { write: (s: string) => lines.push(s.trimEnd()) },
      { write: () => true },
      true,
      () => 42,
    );
    const p = new OperationProgress(op());
    const ev = finished('tk1', 5);
    view.update(p, p.event(ev), ev);
    view.update(p, p.reconcile(op({ state: 'succeeded', finishedUnixMs: 50, results: [ok('tk0'), ok('tk1')] })), null);
    view.stop(p);
    const events = lines.map((l) => JSON.parse(l) as OpEvent);
    assert.deepEqual(
      events.map((e) => [e.type, 'node' in e ? e.node : '']),
      [
        ['step_finished', 'tk1'],
        ['step_finished', 'tk0'],
        ['operation_done', ''],
      ],
    );
    assert.deepEqual(events[2], {
      op: ID,
      cluster: 'lab1',
      timeMs: 50,
      type: 'operation_done',
      state: 'succeeded',
      succeeded: 2,
      failed: 0,
    });
  });
});
