/**
 * Follows an operation to its end: NATS events for live progress, GetOperation after subscribing
 * (events published before it are not replayed) and every 2 s as a fallback, so it finishes even
 * when NATS is unreachable from here. The first Ctrl-C cancels the operation (it is cancelled, not
 * orphaned) and waits, bounded, for it to end; a second one stops waiting.
 *
 * Timers, signals and the NATS pump only push inputs onto one queue; this loop does the async work.
 */
import { toTenksError, type CoordinatorApi, type OpEvent, type Operation } from '../common/index.js';
import { AsyncQueue } from './async-queue.js';
import type { EventSource } from './nats-events.js';
import { OperationProgress } from './progress.js';
import type { ProgressView } from './progress-view.js';

/** Default interval of GetOperation polls. */
export const POLL_MS = 2_000;
/** Poll interval once the end is near (done event seen, or cancelling). */
export const FAST_POLL_MS = 500;
/** How long to wait for a cancelled operation to end. */
export const CANCEL_WAIT_MS = 10_000;
/** How long to wait, after an `operation_done` event, for GetOperation to show the end too. */
export const DONE_GRACE_MS = 15_000;
/** Deadline of each poll and of the cancel call. */
export const FOLLOW_CALL_TIMEOUT_MS = 10_000;

/** What {@link followOperation} needs. */
export interface FollowOptions {
  api: Pick<CoordinatorApi, 'getOperation' | 'cancelOperation'>;
  /** Subscribes to the operation's events; null when there is no NATS to try. Rejections mean: poll. */
  events: (() => Promise<EventSource>) | null;
  view: ProgressView;
  /** Aborted at the first Ctrl-C. */
  interrupt: AbortSignal;
  /** Aborted at the second Ctrl-C: stop waiting at once. */
  hardStop: AbortSignal;
  /** Ctrl-C cancels the operation (apply, delete, teardown) or only stops watching (watch). */
  cancelOnInterrupt: boolean;
  pollMs?: number;
  fastPollMs?: number;
  cancelWaitMs?: number;
  doneGraceMs?: number;
  callTimeoutMs?: number;
}

/** How following ended. */
export interface FollowResult {
  progress: OperationProgress;
  /** Ctrl-C was pressed before the operation ended. */
  interrupted: boolean;
  /** Why the loop stopped. */
  reason: 'ended' | 'ended_by_event' | 'cancel_timeout' | 'cancel_failed' | 'stopped';
}

type Input =
  | { t: 'event'; ev: OpEvent }
  | { t: 'subscribed'; subject: string }
  | { t: 'nats_failed'; error: unknown }
  | { t: 'nats_ended'; error: unknown }
  | { t: 'poll' }
  | { t: 'interrupt' }
  | { t: 'hard_stop' }
  | { t: 'cancel_timeout' }
  | { t: 'done_grace' };

/** Errors of a poll worth retrying: the coordinator is restarting or briefly unreachable. */
function transient(code: string): boolean {
  return code === 'UNAVAILABLE' || code === 'TIMEOUT' || code === 'CONFLICT';
}

/** Follows `op` until it ends (or Ctrl-C); the view shows progress, the caller the summary. */
export async function followOperation(op: Operation, o: FollowOptions): Promise<FollowResult> {
  const pollMs = o.pollMs ?? POLL_MS;
  const fastPollMs = o.fastPollMs ?? FAST_POLL_MS;
  const callTimeoutMs = o.callTimeoutMs ?? FOLLOW_CALL_TIMEOUT_MS;
  const progress = new OperationProgress(op);
  const q = new AsyncQueue<Input>();
  const timers = new Set<NodeJS.Timeout>();
  // Held in an object: the timer callbacks change it, which control-flow analysis cannot see.
  const poll: { timer: NodeJS.Timeout | null } = { timer: null };
  let source: EventSource | null = null;
  let finished = false;
  let interrupted = false;
  let cancelling = false;
  let pollFailing = false;
  let reason: FollowResult['reason'] = 'ended';

  const later = (ms: number, input: Input): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      q.push(input);
    }, ms);
    timers.add(t);
  };
  const schedulePoll = (ms: number): void => {
    if (poll.timer !== null) clearTimeout(poll.timer);
    poll.timer = setTimeout(() => {
      poll.timer = null;
      q.push({ t: 'poll' });
    }, ms);
  };
  // A getter read through a function: narrowing from an earlier check must not stick to it.
  const ended = (): boolean => progress.confirmedEnd;
  const nextPollMs = (): number => (progress.endedByEvent || cancelling ? fastPollMs : pollMs);
  const onInterrupt = (): void => {
    q.push({ t: 'interrupt' });
  };
  const onHardStop = (): void => {
    q.push({ t: 'hard_stop' });
  };

  o.view.start(progress);
  if (progress.confirmedEnd) {
    o.view.stop(progress);
    return { progress, interrupted: false, reason: 'ended' };
  }

  if (o.interrupt.aborted) onInterrupt();
  else o.interrupt.addEventListener('abort', onInterrupt, { once: true });
  if (o.hardStop.aborted) onHardStop();
  else o.hardStop.addEventListener('abort', onHardStop, { once: true });

  if (o.events !== null) {
    o.events().then(
      (src) => {
        if (finished) {
          void src.close();
          return;
        }
        source = src;
        q.push({ t: 'subscribed', subject: src.subject });
        void (async () => {
          try {
            for await (const ev of src) q.push({ t: 'event', ev });
            q.push({ t: 'nats_ended', error: null });
          } catch (e) {
            q.push({ t: 'nats_ended', error: e });
          }
        })();
      },
      (e: unknown) => {
        q.push({ t: 'nats_failed', error: e });
      },
    );
  }
  schedulePoll(o.events === null ? 0 : pollMs);

  try {
    for await (const input of q) {
      let stop = false;
      switch (input.t) {
        case 'event': {
          const changed = progress.event(input.ev);
          o.view.update(progress, changed, input.ev);
          if (input.ev.type === 'operation_done' && input.ev.op === progress.id) {
            schedulePoll(0);
            later(o.doneGraceMs ?? DONE_GRACE_MS, { t: 'done_grace' });
          }
          break;
        }
        case 'subscribed':
          // Anything published from now on reaches us; what came before, the snapshot has.
          schedulePoll(0);
          break;
        case 'nats_failed':
          o.view.note(
            `no progress events (${toTenksError(input.error).message}); following operation ${progress.id} by polling every ${pollMs / 1000} s`,
          );
          break;
        case 'nats_ended':
          o.view.note(
            `progress events stopped; following operation ${progress.id} by polling every ${pollMs / 1000} s`,
          );
          break;
        case 'poll': {
          try {
            const snap = await o.api.getOperation(progress.id, { timeoutMs: callTimeoutMs, signal: o.hardStop });
            const changed = progress.reconcile(snap);
            o.view.update(progress, changed, null);
            if (pollFailing) o.view.note('coordinator reachable again');
            pollFailing = false;
          } catch (e) {
            const err = toTenksError(e);
            if (o.hardStop.aborted) break;
            if (!transient(err.code)) throw err;
            if (!pollFailing) o.view.note(`cannot get operation ${progress.id} (${err.message}); retrying`);
            pollFailing = true;
          }
          schedulePoll(nextPollMs());
          break;
        }
        case 'interrupt': {
          if (ended() || interrupted) break;
          interrupted = true;
          if (!o.cancelOnInterrupt) {
            reason = 'stopped';
            stop = true;
            break;
          }
          cancelling = true;
          o.view.note(`interrupted: cancelling operation ${progress.id} (Ctrl-C again to stop waiting)`);
          try {
            const snap = await o.api.cancelOperation(progress.id, { timeoutMs: callTimeoutMs, signal: o.hardStop });
            o.view.update(progress, progress.reconcile(snap), null);
          } catch (e) {
            if (o.hardStop.aborted) break;
            o.view.note(`could not cancel operation ${progress.id}: ${toTenksError(e).message}`);
            reason = 'cancel_failed';
            stop = true;
            break;
          }
          later(o.cancelWaitMs ?? CANCEL_WAIT_MS, { t: 'cancel_timeout' });
          schedulePoll(fastPollMs);
          break;
        }
        case 'cancel_timeout':
          if (ended()) break;
          o.view.note(
            `operation ${progress.id} has not ended ${(o.cancelWaitMs ?? CANCEL_WAIT_MS) / 1000} s after the cancel request; the coordinator goes on cancelling it (tenksctl watch ${progress.id})`,
          );
          reason = 'cancel_timeout';
          stop = true;
          break;
        case 'done_grace':
          if (ended()) break;
          o.view.note(
            `the coordinator announced the end of operation ${progress.id}, but GetOperation does not show it yet`,
          );
          reason = 'ended_by_event';
          stop = true;
          break;
        case 'hard_stop':
          interrupted = true;
          o.view.note(`stopped waiting for operation ${progress.id} (tenksctl watch ${progress.id} to follow it)`);
          reason = 'stopped';
          stop = true;
          break;
      }
      if (stop) break;
      if (ended()) {
        reason = 'ended';
        break;
      }
    }
  } finally {
    finished = true;
    if (poll.timer !== null) clearTimeout(poll.timer);
    for (const t of timers) clearTimeout(t);
    o.interrupt.removeEventListener('abort', onInterrupt);
    o.hardStop.removeEventListener('abort', onHardStop);
    q.close();
    const src = source as EventSource | null;
    if (src !== null) await src.close();
    o.view.stop(progress);
  }
  return { progress, interrupted, reason };
}
