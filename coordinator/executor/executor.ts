/**
 * Runs a plan across agents: host setup first, then deletions (freeing capacity), then node
 * changes, all concurrently within each agent's limit. A failed action does not stop the others;
 * an agent whose host setup failed gets none of its node actions. Cancelling stops new actions
 * and cancels the calls in flight.
 */
import { isTenksError, TenksError, toTenksError } from '../../common/index.js';
import type { AgentPort } from '../agents/index.js';
import { actionTarget, type Action, type ObservedNode, type Plan } from '../planner/index.js';
import type { ResultRecord } from '../state/index.js';
import { withRetry, type RetryPolicy } from './retry.js';

/** What the executor tells its caller as it goes. */
export interface ExecuteHooks {
  started: (a: Action) => void;
  /** Runs before the action counts as done (e.g. to record the node's placement). */
  finished: (a: Action, outcome: { changes: string[]; node: ObservedNode | null }) => Promise<void>;
  failed: (a: Action, e: TenksError, retrying: boolean) => void;
  /** Each action's result as soon as it is known, so progress is reported while the plan runs. */
  done?: (r: ResultRecord) => void;
}

/** Everything {@link execute} needs. */
export interface ExecuteContext {
  port: AgentPort;
  cluster: string;
  policy: RetryPolicy;
  signal: AbortSignal;
  hooks: ExecuteHooks;
}

async function run(a: Action, ctx: ExecuteContext): Promise<{ changes: string[]; node: ObservedNode | null }> {
  const { port, signal, cluster } = ctx;
  switch (a.kind) {
    case 'setup_host': {
      const r = await port.setupHost(a.agent, cluster, a.bridgeType, a.physnets, signal);
      return { changes: r.changes, node: null };
    }
    case 'teardown_host': {
      const r = await port.teardownHost(a.agent, cluster, signal);
      return { changes: r.removed, node: null };
    }
    case 'delete': {
      const r = await port.deleteNode(a.agent, { cluster, name: a.name, uuid: a.uuid }, signal);
      return { changes: r.existed ? r.removed : ['already gone'], node: null };
    }
    case 'replace': {
      const n = a.request.node;
      await port.deleteNode(a.agent, { cluster, name: n.name, uuid: a.request.uuid }, signal);
      const r = await port.ensureNode(a.agent, a.request, signal);
      return { changes: ['replaced', ...r.changes], node: r.node };
    }
    case 'create':
    case 'update':
    case 'bmc': {
      const r = await port.ensureNode(a.agent, a.request, signal);
      return { changes: r.changed ? r.changes : ['no change needed'], node: r.node };
    }
    case 'enrol':
    case 'unenrol':
    case 'flavor':
      throw new TenksError('INTERNAL', `${a.kind} is run by the enrolment stage, not the executor`);
  }
}

/** Read through a call, so a check after an await is not narrowed away by one before it. */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** The result record of action `a` (its target, kind and agent), ok or failed with `e`. */
export function resultOf(a: Action, ok: boolean, changes: string[], e: TenksError | null): ResultRecord {
  return {
    node: actionTarget(a),
    action: a.kind,
    hypervisor: a.agent,
    ok,
    code: e?.code ?? '',
    message: e?.message ?? '',
    changes,
  };
}

/** Runs every action of `plan`; resolves with one result per action (never rejects). */
export async function execute(plan: Plan, ctx: ExecuteContext): Promise<ResultRecord[]> {
  const results: ResultRecord[] = [];
  const blocked = new Map<string, TenksError>();
  const record = (r: ResultRecord): void => {
    results.push(r);
    ctx.hooks.done?.(r);
  };

  const one = async (a: Action): Promise<void> => {
    // Node changes need the host's bridges; deletions and teardown do not.
    const needsHost = a.kind === 'create' || a.kind === 'update' || a.kind === 'replace' || a.kind === 'bmc';
    const hostFailure = needsHost ? blocked.get(a.agent) : undefined;
    if (hostFailure) {
      const e = new TenksError(
        hostFailure.code,
        `not attempted: host setup of ${a.agent} failed: ${hostFailure.message}`,
      );
      ctx.hooks.failed(a, e, false);
      record(resultOf(a, false, [], e));
      return;
    }
    if (ctx.signal.aborted) {
      record(resultOf(a, false, [], new TenksError('CANCELLED', 'not attempted: the operation was cancelled')));
      return;
    }
    ctx.hooks.started(a);
    try {
      const out = await withRetry(
        () => run(a, ctx),
        ctx.policy,
        ctx.signal,
        (e) => {
          ctx.hooks.failed(a, e, true);
        },
        (stop) => ctx.port.whenBack(a.agent, stop),
      );
      await ctx.hooks.finished(a, out);
      record(resultOf(a, true, out.changes, null));
    } catch (err) {
      const e =
        aborted(ctx.signal) && !(isTenksError(err) && err.code !== 'CANCELLED')
          ? new TenksError('CANCELLED', 'cancelled while running', { cause: err })
          : toTenksError(err);
      if (a.kind === 'setup_host') blocked.set(a.agent, e);
      ctx.hooks.failed(a, e, false);
      record(resultOf(a, false, [], e));
    }
  };

  const phase = async (kinds: readonly Action['kind'][]): Promise<void> => {
    await Promise.all(plan.actions.filter((a) => kinds.includes(a.kind)).map(one));
  };
  await phase(['setup_host']);
  await phase(['delete']);
  await phase(['replace', 'create', 'update', 'bmc']);
  await phase(['teardown_host']);
  return results;
}
