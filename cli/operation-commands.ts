/**
 * Commands that start or follow operations: apply's following, `delete`, `teardown`, `watch` and
 * `cancel`. Progress comes from NATS when it can be reached, else from polling the coordinator.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import {
  OPS_SUBJECT_PREFIX,
  TenksError,
  allOpEventsSubject,
  asOpEvent,
  decodeJson,
  opEventsSubject,
  type Operation,
} from '../common/index.js';
import { callOpts, warn, type CoordinatorContext, type CoordinatorFlags } from './coordinator-context.js';
import { ExitCode, operationExitStatus } from './exit-codes.js';
import { followOperation } from './follow.js';
import { cliLogger } from './log.js';
import { closeNats, connectEventsNats, subscribeOpEvents, type EventSource } from './nats-events.js';
import { emit } from './output.js';
import { operationJson } from './present-coordinator.js';
import {
  EventStreamView,
  LiveProgressView,
  PlainProgressView,
  eventLine,
  summaryLines,
  type ProgressView,
} from './progress-view.js';
import { useColor } from './style.js';
import { noMoreArgs, usageError } from './usage.js';

type NatsAttempt = { ok: true; nc: NatsConnection; prefix: string } | { ok: false; error: unknown };

/** Connects to NATS (the configured URLs, else those GetInfo reports); never rejects. */
async function connectForEvents(ctx: CoordinatorContext, note: (l: string) => void): Promise<NatsAttempt> {
  try {
    let servers = ctx.settings.nats;
    let prefix = OPS_SUBJECT_PREFIX;
    if (servers === null) {
      const api = await ctx.api();
      const i = await api.getInfo({ timeoutMs: Math.min(ctx.settings.timeoutMs, 10_000), signal: ctx.hardStop });
      prefix = i.eventsSubjectPrefix || OPS_SUBJECT_PREFIX;
      servers = i.natsUrls;
      if (servers.length === 0)
        throw new TenksError('UNAVAILABLE', 'the coordinator reports no NATS URL', { hint: 'give --nats URL' });
    }
    const nc = await connectEventsNats(servers, ctx.settings, cliLogger(note, ctx.debug));
    return { ok: true, nc, prefix };
  } catch (e) {
    return { ok: false, error: e };
  }
}

/** Follow's event source: `op`'s events on the NATS connection `natsP` resolves with. */
function opEvents(natsP: Promise<NatsAttempt>, op: Operation): () => Promise<EventSource> {
  return async () => {
    const n = await natsP;
    if (!n.ok) throw n.error;
    return subscribeOpEvents(n.nc, op.eventsSubject || opEventsSubject(op.id, n.prefix));
  };
}

/** Closes the connection unless following already did (it owns it once subscribed). */
async function releaseNats(natsP: Promise<NatsAttempt>): Promise<void> {
  const n = await natsP;
  if (n.ok) await closeNats(n.nc);
}

function progressView(ctx: CoordinatorContext): ProgressView {
  const live =
    ctx.format === 'table' && ctx.stderr.isTTY === true && ctx.stdout.isTTY === true && ctx.env.TERM !== 'dumb';
  return live ? new LiveProgressView(ctx.stderr, useColor(ctx.stderr, ctx.env)) : new PlainProgressView(ctx.stderr);
}

/**
 * Starts an operation (`start` is the Apply/DeleteCluster/Teardown call), follows it to its end
 * and prints the summary; resolves with the exit status.
 */
export async function runOperation(
  ctx: CoordinatorContext,
  start: () => Promise<Operation>,
  alreadyWarned: readonly string[] = [],
): Promise<number> {
  const view = progressView(ctx);
  // Connect to NATS while the coordinator starts the operation, so following begins at once.
  const natsP = connectForEvents(ctx, (l) => {
    view.note(l);
  });
  // Ctrl-C now does not abort the call (see callOpts): the operation is cancelled once we know its id.
  const onEarlyInterrupt = (): void => {
    view.note('interrupted: waiting for the coordinator to start the operation, to cancel it');
  };
  ctx.interrupt.addEventListener('abort', onEarlyInterrupt, { once: true });
  let op: Operation;
  try {
    op = await start();
  } catch (e) {
    await releaseNats(natsP);
    throw e;
  } finally {
    ctx.interrupt.removeEventListener('abort', onEarlyInterrupt);
  }
  const known = new Set(alreadyWarned);
  warn(
    ctx,
    op.warnings.filter((w) => !known.has(w)),
  );
  ctx.stderr.write(
    `${op.kind || 'operation'}${op.cluster ? ` ${op.cluster}` : ''}: operation ${op.id} started${op.actionsTotal > 0 ? ` (${op.actionsTotal} actions)` : ''}\n`,
  );
  const result = await followOperation(op, {
    api: await ctx.api(),
    events: opEvents(natsP, op),
    view,
    interrupt: ctx.interrupt,
    hardStop: ctx.hardStop,
    cancelOnInterrupt: true,
  });
  await releaseNats(natsP);
  const p = result.progress;
  if (ctx.format === 'table') ctx.stdout.write(summaryLines(p, useColor(ctx.stdout, ctx.env)).join('\n') + '\n');
  else emit(ctx.format, operationJson(p.current), () => '');
  // Warnings the operation added on its way (what a forced delete left in the cloud, say).
  const shown = new Set([...alreadyWarned, ...op.warnings]);
  warn(
    ctx,
    p.current.warnings.filter((w) => !shown.has(w)),
  );
  if (result.interrupted) return ExitCode.CANCELLED;
  if (!p.ended) return ExitCode.INTERNAL;
  return operationExitStatus(
    p.confirmedEnd
      ? p.operation
      : {
          state: p.state,
          errorCode: p.current.errorCode,
          results: p.steps().map((s) => ({ ok: s.status === 'ok', errorCode: s.code })),
        },
  );
}

/** `delete CLUSTER [--force]`. */
export async function deleteCluster(ctx: CoordinatorContext, args: string[], flags: CoordinatorFlags): Promise<number> {
  const name = args[0];
  if (name === undefined || name === '')
    throw usageError('delete needs a cluster name: tenksctl delete CLUSTER [--force]', 'CLUSTER');
  noMoreArgs(args, 1, 'delete');
  const api = await ctx.api();
  return runOperation(ctx, () => api.deleteCluster(name, flags.force, callOpts(ctx, true)));
}

/** `teardown [--force]`. */
export async function teardown(ctx: CoordinatorContext, args: string[], flags: CoordinatorFlags): Promise<number> {
  noMoreArgs(args, 0, 'teardown');
  const api = await ctx.api();
  return runOperation(ctx, () => api.teardown(flags.force, callOpts(ctx, true)));
}

/** `watch [ID]`. */
export function watch(ctx: CoordinatorContext, args: string[]): Promise<number> {
  noMoreArgs(args, 1, 'watch');
  return args[0] === undefined ? watchAll(ctx) : watchOne(ctx, args[0]);
}

/** `cancel ID`. */
export async function cancel(ctx: CoordinatorContext, args: string[]): Promise<number> {
  const [id] = args;
  if (id === undefined) throw usageError('cancel needs an operation id', 'OPERATION_ID');
  noMoreArgs(args, 1, 'cancel');
  const api = await ctx.api();
  const op = await api.cancelOperation(id, callOpts(ctx));
  emit(ctx.format, operationJson(op), () => `operation ${op.id}: cancel requested\n`);
  return ExitCode.OK;
}

/** `watch ID`: the operation's events until it ends; exit status as for apply (130 on Ctrl-C). */
async function watchOne(ctx: CoordinatorContext, id: string): Promise<number> {
  const api = await ctx.api();
  const view = new EventStreamView(ctx.stdout, ctx.stderr, ctx.format !== 'table');
  const natsP = connectForEvents(ctx, (l) => {
    view.note(l);
  });
  let op: Operation;
  try {
    op = await api.getOperation(id, callOpts(ctx));
  } catch (e) {
    await releaseNats(natsP);
    throw e;
  }
  const result = await followOperation(op, {
    api,
    events: opEvents(natsP, op),
    view,
    interrupt: ctx.interrupt,
    hardStop: ctx.hardStop,
    cancelOnInterrupt: false,
  });
  await releaseNats(natsP);
  if (result.interrupted) return ExitCode.CANCELLED;
  const p = result.progress;
  return p.ended ? operationExitStatus(p.confirmedEnd ? p.operation : p.current) : ExitCode.INTERNAL;
}

/** `watch`: every operation's events until Ctrl-C (exit 0). NATS is required here. */
async function watchAll(ctx: CoordinatorContext): Promise<number> {
  const n = await connectForEvents(ctx, (l) => ctx.stderr.write(l + '\n'));
  if (!n.ok) throw n.error;
  const subject = allOpEventsSubject(n.prefix);
  const sub = n.nc.subscribe(subject);
  const onAbort = (): void => {
    sub.unsubscribe();
  };
  ctx.interrupt.addEventListener('abort', onAbort, { once: true });
  try {
    await n.nc.flush();
    if (ctx.format === 'table') ctx.stderr.write(`watching ${subject} (Ctrl-C to stop)\n`);
    for await (const m of sub) {
      const ev = asOpEvent(decodeJson(m.data));
      if (ev === null) continue;
      ctx.stdout.write((ctx.format === 'table' ? eventLine(ev) : JSON.stringify(ev)) + '\n');
    }
  } finally {
    ctx.interrupt.removeEventListener('abort', onAbort);
    await closeNats(n.nc);
  }
  return ExitCode.OK;
}
