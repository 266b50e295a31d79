import assert from 'node:assert/strict';
import { AsyncQueue } from '../../cli/async-queue.js';
import { followOperation, type FollowOptions } from '../../cli/follow.js';
import type { EventSource } from '../../cli/nats-events.js';
import type { OperationProgress, StepState } from '../../cli/progress.js';
import type { ProgressView } from '../../cli/progress-view.js';
import { TenksError } from '../../common/errors.js';
import type { OpEvent } from '../../common/nats/events.js';
import type { NodeResult, Operation } from '../../common/index.js';
import { Changes } from '../helpers/changes.js';

const ID = 'op1';
const base = { op: ID, cluster: 'lab1' };

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
    eventsSubject: '',
    errorCode: '',
    errorMessage: '',
    warnings: [],
    owner: '',
    actionsTotal: 0,
    actionsDone: 0,
    ...p,
  };
}
const okResult = (node: string): NodeResult => ({
  node,
  action: 'ensure',
  ok: true,
  hypervisor: 'hv1',
  changes: [],
  errorCode: '',
  errorMessage: '',
});

/** A coordinator whose GetOperation answers from `current`, recording calls. */
class FakeApi {
  /** Told of every call (and, through {@link RecordingView}, of what the view is shown). */
  readonly changes = new Changes();
  current = op();
  calls: string[] = [];
  cancelFails = false;
  pollFailures = 0;
  onCancel: () => void = () => undefined;
  /** Runs before GetOperation answers. */
  onGet: () => void = () => undefined;

  getOperation(id: string): Promise<Operation> {
    this.calls.push(`get ${id}`);
    this.onGet();
    this.changes.changed();
    if (this.pollFailures > 0) {
      this.pollFailures--;
      return Promise.reject(new TenksError('UNAVAILABLE', 'coordinator restarting'));
    }
    return Promise.resolve(this.current);
  }
  cancelOperation(id: string): Promise<Operation> {
    this.calls.push(`cancel ${id}`);
    this.changes.changed();
    if (this.cancelFails) return Promise.reject(new TenksError('INTERNAL', 'boom'));
    this.onCancel();
    return Promise.resolve(this.current);
  }
}

class FakeSource implements EventSource {
  readonly subject = `tenks.ops.${ID}.events`;
  readonly q = new AsyncQueue<OpEvent>();
  closed = false;
  [Symbol.asyncIterator](): AsyncIterator<OpEvent> {
    return this.q[Symbol.asyncIterator]();
  }
  close(): Promise<void> {
    this.closed = true;
    this.q.close();
    return Promise.resolve();
  }
}

class RecordingView implements ProgressView {
  notes: string[] = [];
  changes: [string, string][] = [];
  events: OpEvent[] = [];
  stopped = false;
  started = false;
  /** `observer` is told of every update and note. */
  constructor(private readonly observer: Changes | null = null) {}
  start(): void {
    this.started = true;
  }
  update(_p: OperationProgress, changed: readonly StepState[], ev: OpEvent | null): void {
    for (const s of changed) this.changes.push([s.node, s.status]);
    if (ev) this.events.push(ev);
    this.observer?.changed();
  }
  note(line: string): void {
    this.notes.push(line);
    this.observer?.changed();
  }
  stop(): void {
    this.stopped = true;
  }
}

function options(api: FakeApi, view: ProgressView, o: Partial<FollowOptions> = {}): FollowOptions {
  return {
    api,
    events: null,
    view,
    interrupt: new AbortController().signal,
    hardStop: new AbortController().signal,
    cancelOnInterrupt: true,
    pollMs: 40,
    fastPollMs: 10,
    cancelWaitMs: 300,
    doneGraceMs: 200,
    callTimeoutMs: 1000,
    ...o,
  };
}

describe('tenksctl follow loop', () => {
  it('reads the snapshot right after subscribing, then events, and ends when the snapshot shows the end', async () => {
    const api = new FakeApi();
    // tk0 finished before the subscription: only the snapshot knows.
    api.current = op({ results: [okResult('tk0')] });
    const src = new FakeSource();
    const view = new RecordingView(api.changes);
    const run = followOperation(op(), options(api, view, { events: () => Promise.resolve(src), pollMs: 60_000 }));
    await api.changes.until(() => view.changes.length > 0, 'the snapshot read after subscribing to reach the view');
    assert.deepEqual(api.calls, [`get ${ID}`], 'one GetOperation as soon as subscribed');
    src.q.push({
      ...base,
      type: 'step_finished',
      node: 'tk1',
      hypervisor: 'hv1',
      action: 'ensure',
      changes: [],
      timeMs: 5,
    });
    api.current = op({ state: 'succeeded', results: [okResult('tk0'), okResult('tk1')] });
    src.q.push({ ...base, type: 'operation_done', state: 'succeeded', succeeded: 2, failed: 0, timeMs: 6 });
    const r = await run;
    assert.equal(r.reason, 'ended');
    assert.equal(r.interrupted, false);
    assert.equal(r.progress.stateName, 'succeeded');
    assert.deepEqual(view.changes, [
      ['tk0', 'ok'],
      ['tk1', 'ok'],
    ]);
    assert.ok(src.closed, 'the subscription is closed');
    assert.ok(view.stopped);
    assert.deepEqual(view.notes, []);
  });

  it('says once that NATS is unreachable and finishes by polling', async () => {
    const api = new FakeApi();
    const view = new RecordingView(api.changes);
    const run = followOperation(
      op(),
      options(api, view, { events: () => Promise.reject(new TenksError('UNAVAILABLE', 'cannot connect to NATS')) }),
    );
    await api.changes.until(
      () => view.notes.length > 0 && api.calls.length > 0,
      'the note that NATS is unreachable and a poll of the running operation',
    );
    api.current = op({ state: 'succeeded', results: [okResult('tk0')] });
    const r = await run;
    assert.equal(r.reason, 'ended');
    assert.equal(view.notes.length, 1);
    assert.match(view.notes[0] ?? '', /cannot connect to NATS.*polling/);
    assert.ok(api.calls.length >= 2);
  });

  it('keeps polling through a coordinator restart', async () => {
    const api = new FakeApi();
    api.pollFailures = 3;
    api.current = op({ state: 'succeeded' });
    const view = new RecordingView();
    const r = await followOperation(op(), options(api, view));
    assert.equal(r.reason, 'ended');
    assert.equal(view.notes.filter((n) => n.includes('retrying')).length, 1, 'said once');
  });

  it('cancels on Ctrl-C and waits for the operation to end as cancelled', async () => {
    const api = new FakeApi();
    // Cancelling takes the coordinator a while: the first poll after the cancel still shows it running.
    let pollsSinceCancel: number | null = null;
    api.onCancel = () => {
      pollsSinceCancel = 0;
    };
    api.onGet = () => {
      if (pollsSinceCancel === null || ++pollsSinceCancel < 2) return;
      api.current = op({ state: 'cancelled', errorCode: 'CANCELLED' });
    };
    const interrupt = new AbortController();
    const view = new RecordingView();
    const run = followOperation(op(), options(api, view, { interrupt: interrupt.signal, pollMs: 60_000 }));
    await api.changes.until(() => api.calls.length > 0, 'the first poll');
    interrupt.abort();
    const r = await run;
    assert.equal(r.interrupted, true);
    assert.equal(r.reason, 'ended');
    assert.equal(r.progress.stateName, 'cancelled');
    assert.ok(api.calls.includes(`cancel ${ID}`));
    assert.match(view.notes[0] ?? '', /cancelling operation op1/);
  });

  it('stops waiting for a cancel after the bound', async () => {
    const api = new FakeApi();
    const interrupt = new AbortController();
    interrupt.abort();
    const view = new RecordingView();
    const r = await followOperation(op(), options(api, view, { interrupt: interrupt.signal, cancelWaitMs: 100 }));
    assert.equal(r.reason, 'cancel_timeout');
    assert.equal(r.interrupted, true);
    assert.ok(view.notes.some((n) => n.includes('has not ended')));
  });

  it('stops when the cancel call fails', async () => {
    const api = new FakeApi();
    api.cancelFails = true;
    const interrupt = new AbortController();
    interrupt.abort();
    const r = await followOperation(op(), options(api, new RecordingView(), { interrupt: interrupt.signal }));
    assert.equal(r.reason, 'cancel_failed');
  });

  it('stops at once on a second Ctrl-C', async () => {
    const api = new FakeApi();
    const interrupt = new AbortController();
    const hardStop = new AbortController();
    const run = followOperation(
      op(),
      options(api, new RecordingView(), {
        interrupt: interrupt.signal,
        hardStop: hardStop.signal,
        cancelWaitMs: 60_000,
      }),
    );
    interrupt.abort();
    await api.changes.until(() => api.calls.includes(`cancel ${ID}`), 'the cancel call');
    hardStop.abort();
    const r = await run;
    assert.equal(r.reason, 'stopped');
    assert.equal(r.interrupted, true);
  });

  it('only stops watching on Ctrl-C when told not to cancel', async () => {
    const api = new FakeApi();
    const interrupt = new AbortController();
    const run = followOperation(
      op(),
      options(api, new RecordingView(), { interrupt: interrupt.signal, cancelOnInterrupt: false }),
    );
    interrupt.abort();
    const r = await run;
    assert.equal(r.reason, 'stopped');
    assert.ok(!api.calls.some((c) => c.startsWith('cancel')));
  });

  it('ends on the done event when GetOperation lags behind for too long', async () => {
    const api = new FakeApi();
    const src = new FakeSource();
    const view = new RecordingView();
    const run = followOperation(op(), options(api, view, { events: () => Promise.resolve(src), doneGraceMs: 100 }));
    await api.changes.until(() => api.calls.length > 0, 'the GetOperation after subscribing');
    src.q.push({
      ...base,
      type: 'operation_done',
      state: 'failed',
      succeeded: 0,
      failed: 1,
      code: 'CAPACITY',
      message: 'full',
      timeMs: 1,
    });
    const r = await run;
    assert.equal(r.reason, 'ended_by_event');
    assert.equal(r.progress.stateName, 'failed');
    assert.equal(r.progress.current.errorCode, 'CAPACITY');
  });

  it('returns at once for an operation that already ended, without subscribing', async () => {
    const api = new FakeApi();
    let subscribed = false;
    const r = await followOperation(
      op({ state: 'succeeded' }),
      options(api, new RecordingView(), {
        events: () => {
          subscribed = true;
          return Promise.resolve(new FakeSource());
        },
      }),
    );
    assert.equal(r.reason, 'ended');
    assert.equal(subscribed, false);
    assert.deepEqual(api.calls, []);
  });
});
