/** `get nodes`, `describe node` and `power`: nodes as the coordinator reports them, across hypervisors. */
import { TenksError, type NodeStatus } from '../common/index.js';
import { callOpts, type CoordinatorContext, type CoordinatorFlags } from './coordinator-context.js';
import { ExitCode } from './exit-codes.js';
import { emit, table } from './output.js';
import { clusterNodeColumns, describeNodeLines, nodeJson, withoutSecrets } from './present-coordinator.js';
import { noMoreArgs, parsePowerAction, usageError } from './usage.js';

/** `get nodes [NAME]` (`what`: how the user spelled `nodes`). */
export async function getNodes(
  ctx: CoordinatorContext,
  what: string,
  args: string[],
  flags: CoordinatorFlags,
): Promise<number> {
  noMoreArgs(args, 2, `get ${what}`);
  const api = await ctx.api();
  const raw = await api.getNodes(flags.cluster ?? '', args[1] ?? '', flags.showSecrets, callOpts(ctx));
  const nodes = flags.showSecrets ? raw : raw.map(withoutSecrets);
  emit(ctx.format, nodes.map(nodeJson), () => table(nodes, clusterNodeColumns));
  return ExitCode.OK;
}

/** The one node called `name` (in `cluster` when given); NOT_FOUND, or INVALID_SPEC when the name is in several clusters. */
async function findNode(
  ctx: CoordinatorContext,
  name: string | undefined,
  cluster: string | undefined,
  includeSecrets: boolean,
): Promise<NodeStatus> {
  if (name === undefined || name === '') throw usageError('a node name is required', 'NAME');
  const api = await ctx.api();
  const nodes = (await api.getNodes(cluster ?? '', name, includeSecrets, callOpts(ctx))).filter(
    (n) => n.name === name && (cluster === undefined || n.cluster === cluster),
  );
  const [first, ...more] = nodes;
  if (first === undefined)
    throw new TenksError(
      'NOT_FOUND',
      `node '${name}' not found${cluster !== undefined ? ` in cluster '${cluster}'` : ''}`,
      {
        hint: 'tenksctl get nodes lists them',
      },
    );
  if (more.length > 0)
    throw new TenksError(
      'INVALID_SPEC',
      `node name '${name}' is in several clusters (${nodes.map((n) => n.cluster).join(', ')}): say which with --cluster`,
      { field: '--cluster', hint: `e.g. --cluster ${first.cluster}` },
    );
  return first;
}

/** `describe node NAME`. */
export async function describe(ctx: CoordinatorContext, args: string[], flags: CoordinatorFlags): Promise<number> {
  const [what, name] = args;
  if (what !== 'node') throw usageError(`describe needs 'node NAME' (got '${what ?? ''}')`, 'RESOURCE');
  noMoreArgs(args, 2, 'describe node');
  const found = await findNode(ctx, name, flags.cluster, flags.showSecrets);
  const n = flags.showSecrets ? found : withoutSecrets(found);
  emit(ctx.format, nodeJson(n), () => describeNodeLines(n, flags.showSecrets).join('\n') + '\n');
  return ExitCode.OK;
}

/** `power ACTION NAME`. */
export async function power(ctx: CoordinatorContext, args: string[], flags: CoordinatorFlags): Promise<number> {
  const [actionName, name] = args;
  const action = parsePowerAction(actionName);
  noMoreArgs(args, 2, 'power');
  // Resolve the cluster here so a name used in two clusters is an error, not a guess.
  const cluster = flags.cluster ?? (await findNode(ctx, name, undefined, false)).cluster;
  if (name === undefined) throw usageError('a node name is required', 'NAME');
  const api = await ctx.api();
  const r = await api.setNodePower(cluster, name, action, callOpts(ctx));
  const out = { cluster, node: name, power_state: r.powerState, changed: r.changed };
  emit(ctx.format, out, () => `${name}: ${out.power_state}${r.changed ? '' : ' (no change)'}\n`);
  return ExitCode.OK;
}
