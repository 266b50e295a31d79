/** `tenksctl validate|plan|apply|delete|teardown|get|describe|power|watch|info|cancel`: the coordinator side. */
import { readFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Operation } from '../proto/gen/tenks/v1/coordinator.pb.js';
import { PowerAction, type NodeStatus } from '../proto/gen/tenks/v1/types.pb.js';
import {
  OPS_SUBJECT_PREFIX,
  TenksError,
  allOpEventsSubject,
  asOpEvent,
  decodeJson,
  isTenksError,
  opEventsSubject,
  describeNameSource,
  parseClusterSpecFiles,
  type CompiledClusterSpec,
  type MergedClusterSpec,
  type SpecFile,
  type CoordinatorApi,
  type FieldError,
} from '../common/index.js';
import type { CliSettings, Env } from './config.js';
import { ExitCode, operationExitStatus } from './exit-codes.js';
import { runExport } from './export.js';
import { followOperation } from './follow.js';
import { cliLogger } from './log.js';
import { closeNats, connectEventsNats, subscribeOpEvents, type EventSource } from './nats-events.js';
import { emit, table, type OutputFormat } from './output.js';
import { clusterLine, planJson, renderPlan } from './plan-render.js';
import {
  agentColumns,
  agentJson,
  clusterColumns,
  clusterJson,
  clusterNodeColumns,
  describeNodeLines,
  nodeJson,
  operationJson,
  withoutSecrets,
} from './present-coordinator.js';
import { powerName } from './present.js';
import {
  EventStreamView,
  LiveProgressView,
  PlainProgressView,
  eventLine,
  summaryLines,
  type ProgressView,
} from './progress-view.js';
import { OperationProgress } from './progress.js';
import { useColor, type MaybeTty } from './style.js';
import { noMoreArgs, usageError } from './usage.js';

/** A writable terminal-or-not stream (process.stdout / process.stderr, or fakes). */
export interface OutStream extends MaybeTty {
  write(s: string): unknown;
  columns?: number;
}

/** What every coordinator command gets. */
export interface CoordinatorContext {
  settings: CliSettings;
  format: OutputFormat;
  /** Dials the coordinator (once; closed by the caller). */
  api: () => Promise<CoordinatorApi>;
  /** Aborted at the first Ctrl-C. */
  interrupt: AbortSignal;
  /** Aborted at the second Ctrl-C. */
  hardStop: AbortSignal;
  debug: boolean;
  env: Env;
  stdout: OutStream;
  stderr: OutStream;
}

/** Flags the coordinator commands read. */
export interface CoordinatorFlags {
  /** The first -f/--file (export's output file). */
  file?: string | undefined;
  /** Every -f, in order (validate, plan and apply merge them). */
  files?: readonly string[] | undefined;
  cluster?: string | undefined;
  force: boolean;
  /** plan, apply: allow deleting most of a cluster's nodes. */
  prune?: boolean | undefined;
  showSecrets: boolean;
  /** `export --format`. */
  format?: string | undefined;
}

/** Coordinator commands, for the dispatcher in main.ts. */
export const COORDINATOR_COMMANDS = [
  'validate',
  'plan',
  'apply',
  'delete',
  'teardown',
  'get',
  'describe',
  'power',
  'watch',
  'info',
  'cancel',
  'export',
] as const;

const POWER_ACTIONS: Record<string, PowerAction> = {
  on: PowerAction.POWER_ACTION_ON,
  off: PowerAction.POWER_ACTION_OFF,
  'soft-off': PowerAction.POWER_ACTION_SOFT_OFF,
  reset: PowerAction.POWER_ACTION_RESET,
  nmi: PowerAction.POWER_ACTION_NMI,
  cycle: PowerAction.POWER_ACTION_CYCLE,
};

/** Runs one coordinator command; resolves with the exit status (errors are thrown). */
export async function runCoordinatorCommand(
  ctx: CoordinatorContext,
  command: string,
  args: string[],
  flags: CoordinatorFlags,
): Promise<number> {
  switch (command) {
    case 'validate':
      return validate(ctx, needFiles(flags, 'validate'));
    case 'plan':
      return plan(ctx, needFiles(flags, 'plan'), flags.prune === true);
    case 'apply':
      return apply(ctx, needFiles(flags, 'apply'), flags.prune === true);
    case 'delete': {
      const name = args[0];
      if (name === undefined || name === '')
        throw usageError('delete needs a cluster name: tenksctl delete CLUSTER [--force]', 'CLUSTER');
      noMoreArgs(args, 1, 'delete');
      const api = await ctx.api();
      return runOperation(ctx, () => api.deleteCluster(name, flags.force, callOpts(ctx, true)));
    }
    case 'teardown': {
      noMoreArgs(args, 0, 'teardown');
      const api = await ctx.api();
      return runOperation(ctx, () => api.teardown(flags.force, callOpts(ctx, true)));
    }
    case 'get':
      return get(ctx, args, flags);
    case 'describe':
      return describe(ctx, args, flags);
    case 'power':
      return power(ctx, args, flags);
    case 'watch':
      noMoreArgs(args, 1, 'watch');
      return args[0] === undefined ? watchAll(ctx) : watchOne(ctx, args[0]);
    case 'info':
      return info(ctx);
    case 'cancel':
      return cancel(ctx, args);
    case 'export':
      return runExport(ctx, args, flags);
    default:
      throw usageError(`unknown command '${command}'`, 'COMMAND');
  }
}

function needFiles(flags: CoordinatorFlags, command: string): string[] {
  const files = [...(flags.files ?? (flags.file === undefined ? [] : [flags.file]))];
  if (files.length === 0 || files.includes(''))
    throw usageError(`${command} needs the cluster spec: tenksctl ${command} -f FILE [-f FILE ...]`, '-f');
  return files;
}

/** Per-call options: the client's deadline; Ctrl-C aborts unless the call starts an operation. */
function callOpts(ctx: CoordinatorContext, startsOperation = false): { timeoutMs: number; signal: AbortSignal } {
  // A call that starts an operation is not aborted by the first Ctrl-C: the coordinator may have
  // started it already, and only its id lets us cancel it instead of leaving it orphaned.
  return { timeoutMs: ctx.settings.timeoutMs, signal: startsOperation ? ctx.hardStop : ctx.interrupt };
}

function fieldLine(w: FieldError): string {
  return `${w.field}: ${w.message}`;
}

function warn(ctx: CoordinatorContext, lines: Iterable<string>): void {
  const seen = new Set<string>();
  for (const l of lines) {
    if (seen.has(l)) continue;
    seen.add(l);
    ctx.stderr.write(`warning: ${l}\n`);
  }
}

/**
 * Reads the spec files, merges them in order (a later file's top-level keys replace the earlier
 * ones, see common/spec/spec-files.ts) and validates the result locally; INVALID_SPEC lists every
 * problem with its path (and, of several files, the file of its key).
 */
async function loadSpec(files: readonly string[]): Promise<MergedClusterSpec> {
  const read: SpecFile[] = [];
  for (const file of files) {
    try {
      read.push({ source: file, text: await readFile(file, 'utf8') });
    } catch (e) {
      throw new TenksError('NOT_FOUND', `cannot read '${file}': ${(e as Error).message}`, { cause: e, field: '-f' });
    }
  }
  return parseClusterSpecFiles(read);
}

function nodeCount(c: CompiledClusterSpec): number {
  return c.spec.specs.reduce((n, s) => n + s.count, 0);
}

async function validate(ctx: CoordinatorContext, files: readonly string[]): Promise<number> {
  const file = files.join(' + ');
  let loaded: MergedClusterSpec;
  try {
    loaded = await loadSpec(files);
  } catch (e) {
    if (ctx.format !== 'table' && isTenksError(e) && e.code === 'INVALID_SPEC') {
      const errors = e.details.length > 0 ? e.details : [{ field: e.field ?? '(root)', message: e.message }];
      emit(ctx.format, { valid: false, file, files, nodes: 0, warnings: [], errors }, () => '');
      return ExitCode.INVALID;
    }
    throw e;
  }
  const { spec, warnings } = loaded.compiled;
  warn(ctx, warnings.map(fieldLine));
  const nodes = nodeCount(loaded.compiled);
  const nameSource = describeNameSource(spec);
  const data = {
    valid: true,
    file,
    files,
    cluster: spec.name,
    name_source: nameSource,
    state_file_path: spec.stateFilePath,
    nodes,
    specs: spec.specs.length,
    flavors: spec.novaFlavors.length,
    warnings,
    errors: [],
  };
  emit(
    ctx.format,
    data,
    () =>
      `spec ${file} is valid: ${nodes} node${nodes === 1 ? '' : 's'} in ${spec.specs.length} spec${spec.specs.length === 1 ? '' : 's'}, ${spec.novaFlavors.length} flavor${spec.novaFlavors.length === 1 ? '' : 's'}\n` +
      `${clusterLine(spec.name, nameSource)}\n`,
  );
  return ExitCode.OK;
}

async function plan(ctx: CoordinatorContext, files: readonly string[], prune: boolean): Promise<number> {
  const { specYaml, source, compiled } = await loadSpec(files);
  const api = await ctx.api();
  const p = await api.plan(specYaml, source, { ...callOpts(ctx), prune });
  // A coordinator from before name_source: say it from the local compile.
  if (p.nameSource === '') p.nameSource = describeNameSource(compiled.spec);
  warn(ctx, [...compiled.warnings.map(fieldLine), ...p.warnings, ...(p.pruneRequired !== '' ? [p.pruneRequired] : [])]);
  emit(ctx.format, planJson(p), () => renderPlan(p, { color: useColor(ctx.stdout, ctx.env) }).join('\n') + '\n');
  return ExitCode.OK;
}

async function apply(ctx: CoordinatorContext, files: readonly string[], prune: boolean): Promise<number> {
  const { specYaml, source, compiled } = await loadSpec(files);
  warn(ctx, compiled.warnings.map(fieldLine));
  const api = await ctx.api();
  return runOperation(
    ctx,
    () => api.apply(specYaml, source, { ...callOpts(ctx, true), prune }),
    compiled.warnings.map(fieldLine),
  );
}

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
async function runOperation(
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

async function get(ctx: CoordinatorContext, args: string[], flags: CoordinatorFlags): Promise<number> {
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
    case 'node': {
      noMoreArgs(args, 2, `get ${what}`);
      const raw = await api.getNodes(flags.cluster ?? '', name ?? '', flags.showSecrets, callOpts(ctx));
      const nodes = flags.showSecrets ? raw : raw.map(withoutSecrets);
      emit(ctx.format, nodes.map(nodeJson), () => table(nodes, clusterNodeColumns));
      return ExitCode.OK;
    }
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

async function describe(ctx: CoordinatorContext, args: string[], flags: CoordinatorFlags): Promise<number> {
  const [what, name] = args;
  if (what !== 'node') throw usageError(`describe needs 'node NAME' (got '${what ?? ''}')`, 'RESOURCE');
  noMoreArgs(args, 2, 'describe node');
  const found = await findNode(ctx, name, flags.cluster, flags.showSecrets);
  const n = flags.showSecrets ? found : withoutSecrets(found);
  emit(ctx.format, nodeJson(n), () => describeNodeLines(n, flags.showSecrets).join('\n') + '\n');
  return ExitCode.OK;
}

async function power(ctx: CoordinatorContext, args: string[], flags: CoordinatorFlags): Promise<number> {
  const [actionName, name] = args;
  const action = actionName === undefined ? undefined : POWER_ACTIONS[actionName];
  if (action === undefined) throw usageError(`power needs one of ${Object.keys(POWER_ACTIONS).join(', ')}`, 'ACTION');
  noMoreArgs(args, 2, 'power');
  // Resolve the cluster here so a name used in two clusters is an error, not a guess.
  const cluster = flags.cluster ?? (await findNode(ctx, name, undefined, false)).cluster;
  if (name === undefined) throw usageError('a node name is required', 'NAME');
  const api = await ctx.api();
  const r = await api.setNodePower(cluster, name, action, callOpts(ctx));
  const out = { cluster, node: name, power_state: powerName(r.powerState), changed: r.changed };
  emit(ctx.format, out, () => `${name}: ${out.power_state}${r.changed ? '' : ' (no change)'}\n`);
  return ExitCode.OK;
}

async function info(ctx: CoordinatorContext): Promise<number> {
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

async function cancel(ctx: CoordinatorContext, args: string[]): Promise<number> {
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
