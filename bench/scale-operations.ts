/**
 * bench:scale's clock of coordinator operations: wall clock from the RPC to the operation's end, the
 * end being the `operation_done` event on NATS (subscribed before the call), confirmed by
 * GetOperation (polled every 2 s, as tenksctl does, which also records how actions_done advances);
 * milestones from the operation's own events; CPU of every process meanwhile.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { asOpEvent, decodeJson, type CoordinatorWire } from '../common/index.js';
import { OperationState, operationStateToJSON, type Operation } from '../proto/gen/tenks/v1/coordinator.pb.js';
import { round } from './lib-stack/figures.js';
import type { CpuMeter } from './lib-stack/proc-stats.js';

/** How one operation went. */
export interface OpOutcome {
  /** Wall clock from the RPC to the end; null when it did not end in time. */
  s: number | null;
  /** As the coordinator recorded it (started to finished). */
  opS: number | null;
  state: string;
  actionsTotal: number;
  actionsDone: number;
  results: number;
  failedResults: number;
  /** [seconds since the call, actions_done] from the GetOperation polls. */
  progress: [number, number][];
  /**
   * Seconds from the operation's start (coordinator clock, from its events): planned (observe,
   * schedule, plan), first step started (after recording new placements), last step reported
   * finished, done.
   */
  timeline: Record<string, number | null>;
  cpu: Record<string, number>;
  op: Operation | null;
}

const STATE_PREFIX = 'OPERATION_STATE_';

/** `pending`, `running`, `succeeded`, `failed`, `cancelled`; the number of any other state. */
function stateName(state: OperationState): string {
  const json = operationStateToJSON(state);
  return state !== OperationState.OPERATION_STATE_UNSPECIFIED && json.startsWith(STATE_PREFIX)
    ? json.slice(STATE_PREFIX.length).toLowerCase()
    : String(state);
}

/** CPU seconds of a phase: the coordinator, the agents (sum and busiest), nats-server. */
export function summarizeCpu(cpu: Record<string, number>): Record<string, number> {
  const agentCpu = Object.entries(cpu)
    .filter(([k]) => k.startsWith('agent'))
    .map(([, v]) => v);
  return {
    coordinator: cpu.coordinator ?? 0,
    agents_sum: round(
      agentCpu.reduce((s, v) => s + v, 0),
      2,
    ),
    agents_max: round(Math.max(0, ...agentCpu), 2),
    nats: cpu.nats ?? 0,
  };
}

/** Coordinator times (ms) of an operation's milestones, from its events. */
interface Milestones {
  planned?: number;
  firstStep?: number;
  lastFinished?: number;
  done?: number;
}

/** What an {@link OperationClock} times with. */
export interface OperationClockOptions {
  api: CoordinatorWire;
  meter: CpuMeter;
  /** An operation not ended by then is cancelled. */
  timeoutMs: number;
  say: (line: string) => void;
}

/** Times operations through one coordinator; see the file's comment. */
export class OperationClock {
  private readonly doneEvents = new Map<string, () => void>();
  private readonly seenDone = new Set<string>();
  private readonly milestones = new Map<string, Milestones>();

  private constructor(private readonly o: OperationClockOptions) {}

  /** Starts following every operation's events on `nc`; resolves once subscribed. */
  static async watch(nc: NatsConnection, o: OperationClockOptions): Promise<OperationClock> {
    const clock = new OperationClock(o);
    const sub = nc.subscribe('tenks.ops.*.events');
    void (async () => {
      for await (const m of sub) {
        const ev = asOpEvent(decodeJson(m.data));
        if (ev === null) continue;
        const ms = clock.milestones.get(ev.op) ?? {};
        clock.milestones.set(ev.op, ms);
        if (ev.type === 'operation_started') ms.planned ??= ev.timeMs;
        else if (ev.type === 'step_started') ms.firstStep ??= ev.timeMs;
        else if (ev.type === 'step_finished') ms.lastFinished = ev.timeMs;
        if (ev.type !== 'operation_done') continue;
        ms.done = ev.timeMs;
        clock.seenDone.add(ev.op);
        clock.doneEvents.get(ev.op)?.();
      }
    })().catch((e: unknown) => {
      // Ends of operations still show through GetOperation polls.
      o.say(`NATS event subscription ended: ${String(e)}`);
    });
    await nc.flush();
    return clock;
  }

  /** Runs the operation `start` starts and follows it to its end (or cancels it at the timeout). */
  async operate(what: string, start: () => Promise<Operation>): Promise<OpOutcome> {
    const { api, meter, timeoutMs, say } = this.o;
    await meter.mark();
    const t = performance.now();
    const started = await start();
    const id = started.id;
    const ended = new Promise<void>((resolve) => {
      if (this.seenDone.has(id)) resolve();
      this.doneEvents.set(id, resolve);
    });
    const progress: [number, number][] = [];
    let op: Operation = started;
    let endS: number | null = null;
    const deadline = t + timeoutMs;
    // Set by the event's callback: a holder, so the checks below are not narrowed away.
    const event: { at: number | null } = { at: null };
    void ended.then(() => (event.at = performance.now()));
    for (;;) {
      const wait = Math.max(0, Math.min(2000, deadline - performance.now()));
      await Promise.race([ended, sleep(wait)]);
      op = await api.getOperation(id, { timeoutMs: 60_000 });
      progress.push([round((performance.now() - t) / 1000, 1), op.actionsDone]);
      if (op.state >= OperationState.OPERATION_STATE_SUCCEEDED) {
        endS = ((event.at ?? performance.now()) - t) / 1000;
        break;
      }
      if (event.at !== null) await sleep(100);
      if (performance.now() > deadline) {
        say(`${what}: not done after ${timeoutMs / 1000} s (${op.actionsDone}/${op.actionsTotal} actions): cancelling`);
        await api.cancelOperation(id).catch(() => undefined);
        for (let i = 0; i < 120; i++) {
          op = await api.getOperation(id, { timeoutMs: 60_000 });
          if (op.state >= OperationState.OPERATION_STATE_SUCCEEDED) break;
          await sleep(1000);
        }
        break;
      }
    }
    this.doneEvents.delete(id);
    const cpu = await meter.since();
    const opS = op.finishedUnixMs > 0 && op.startedUnixMs > 0 ? (op.finishedUnixMs - op.startedUnixMs) / 1000 : null;
    const ms = this.milestones.get(id) ?? {};
    const since = (x: number | undefined): number | null =>
      x === undefined || op.startedUnixMs <= 0 ? null : round((x - op.startedUnixMs) / 1000);
    const out: OpOutcome = {
      timeline: {
        planned: since(ms.planned),
        first_step: since(ms.firstStep),
        last_step_finished: since(ms.lastFinished),
        done: since(ms.done),
      },
      s: endS,
      opS,
      state: stateName(op.state),
      actionsTotal: op.actionsTotal,
      actionsDone: op.actionsDone,
      results: op.results.length,
      failedResults: op.results.filter((r) => !r.ok).length,
      progress,
      cpu,
      op,
    };
    const c = summarizeCpu(cpu);
    say(
      `${what}: ${out.state} in ${endS === null ? 'n/a' : round(endS)} s (coordinator's record ${opS === null ? 'n/a' : round(opS)} s), ` +
        `${out.actionsDone}/${out.actionsTotal} actions, ${out.failedResults} failed; CPU s: coordinator ${c.coordinator}, agents ${c.agents_sum} (busiest ${c.agents_max}), nats ${c.nats}; ` +
        `timeline s: ${JSON.stringify(out.timeline)}`,
    );
    return out;
  }
}
