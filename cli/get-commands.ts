/** `get clusters|nodes|agents|operation` and `info`: what the coordinator knows. */
import { callOpts, type CoordinatorContext, type CoordinatorFlags } from './coordinator-context.js';
import { ExitCode } from './exit-codes.js';
import { getNodes } from './node-commands.js';
import { emit, table } from './output.js';
import { agentColumns, agentJson, clusterColumns, clusterJson, operationJson } from './present-coordinator.js';
import { OperationProgress } from './progress.js';
import { summaryLines } from './progress-view.js';
import { useColor } from './style.js';
import { noMoreArgs, usageError } from './usage.js';

/** `get WHAT ...`. */
export async function get(ctx: CoordinatorContext, args: string[], flags: CoordinatorFlags): Promise<number> {
  const [what, name] = args;
  const api = await ctx.api();
  switch (what) {
    case 'clusters':
    case 'cluster': {
      noMoreArgs(args, 1, `get ${what}`);
      const cs = await api.getClusters(flags.showSecrets, callOpts(ctx));
      emit(
        ctx.format,
        cs.map((c) => clusterJson(c)),
        () => table(cs, clusterColumns),
      );
      return ExitCode.OK;
    }
    case 'nodes':
    case 'node':
      return getNodes(ctx, what, args, flags);
    case 'agents':
    case 'agent': {
      noMoreArgs(args, 1, `get ${what}`);
      const agents = await api.getAgents(callOpts(ctx));
      emit(ctx.format, agents.map(agentJson), () => table(agents, agentColumns(Date.now())));
      return ExitCode.OK;
    }
    case 'operation': {
      noMoreArgs(args, 2, 'get operation');
      if (name === undefined) throw usageError('get operation needs an operation id', 'OPERATION_ID');
      const op = await api.getOperation(name, callOpts(ctx));
      emit(ctx.format, operationJson(op), () => {
        const lines = summaryLines(new OperationProgress(op), useColor(ctx.stdout, ctx.env));
        return lines.join('\n') + '\n';
      });
      return ExitCode.OK;
    }
    default:
      throw usageError(
        `get needs what to list: clusters, nodes, agents or operation ID (got '${what ?? ''}')`,
        'RESOURCE',
      );
  }
}

/** `info`: the coordinator and where it publishes events. */
export async function info(ctx: CoordinatorContext): Promise<number> {
  const api = await ctx.api();
  const i = await api.getInfo(callOpts(ctx));
  const out = {
    coordinator: ctx.settings.coordinator,
    coordinator_id: i.coordinatorId,
    version: i.version,
    nats_urls: i.natsUrls,
    events_subject_prefix: i.eventsSubjectPrefix,
  };
  emit(
    ctx.format,
    out,
    () =>
      Object.entries(out)
        .map(([k, v]) => `${k.padEnd(24)}${Array.isArray(v) ? v.join(', ') : v}`)
        .join('\n') + '\n',
  );
  return ExitCode.OK;
}
