import { readYamlFile, type AgentApi, type NodeRef } from '../common/index.js';
import { nodeFileToSpec } from './node-file.js';
import { emit, table, type OutputFormat } from './output.js';
import { hostJson, nodeColumns, nodeJson, physnetColumns, physnetJson } from './present.js';
import { parsePowerAction, usageError } from './usage.js';

/** What every agent command gets. */
export interface AgentContext {
  client: AgentApi;
  format: OutputFormat;
  timeoutMs: number;
  signal: AbortSignal;
  /** Progress and notices (stderr). */
  note: (line: string) => void;
}

function ref(name: string | undefined, cluster: string | undefined): NodeRef {
  if (!name) throw usageError('a node name is required', 'NAME');
  return /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(name)
    ? { cluster: cluster ?? '', name: '', uuid: name }
    : { cluster: cluster ?? '', name, uuid: '' };
}

/** Parses `--physnet NAME=DEVICE[:VLAN]`. */
export function parsePhysnetFlag(s: string): { physnet: string; device: string; vlan: number } {
  const m = /^([^=]+)=([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) throw usageError(`'${s}' is not NAME=DEVICE or NAME=DEVICE:VLAN`, '--physnet');
  return { physnet: m[1] ?? '', device: m[2] ?? '', vlan: m[3] === undefined ? 0 : Number(m[3]) };
}

/** The commands of `tenksctl agent`. */
export const AGENT_COMMANDS = [
  'info',
  'nodes',
  'get',
  'ensure',
  'delete',
  'power',
  'setup-host',
  'teardown-host',
  'physnets',
  'watch',
] as const;

/** `tenksctl agent <command>`. */
export async function runAgentCommand(
  ctx: AgentContext,
  args: string[],
  opts: {
    cluster?: string | undefined;
    file?: string | undefined;
    dryRun: boolean;
    physnets?: string[] | undefined;
    bridgeType?: string | undefined;
    /** Include BMC passwords. */
    showSecrets?: boolean;
  },
): Promise<void> {
  const [command, ...rest] = args;
  const call = { timeoutMs: ctx.timeoutMs, signal: ctx.signal };
  const c = ctx.client;
  switch (command) {
    case 'info': {
      const j = hostJson(await c.hostInfo(call));
      emit(
        ctx.format,
        j,
        () =>
          Object.entries(j)
            .map(([k, v]) => `${k.padEnd(20)}${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join('\n') + '\n',
      );
      return;
    }
    case 'nodes': {
      const nodes = await c.listNodes(opts.cluster ?? '', opts.showSecrets ?? false, call);
      emit(ctx.format, nodes.map(nodeJson), () => table(nodes, nodeColumns));
      return;
    }
    case 'get': {
      const node = await c.getNode(ref(rest[0], opts.cluster), opts.showSecrets ?? false, call);
      emit(ctx.format, nodeJson(node), () => table([node], nodeColumns));
      return;
    }
    case 'ensure': {
      if (!opts.file) throw usageError('ensure needs -f NODE.yaml', '-f');
      const spec = nodeFileToSpec(await readYamlFile(opts.file), opts.file);
      const r = await c.ensureNode(spec, opts.dryRun, call);
      const out = {
        changed: r.changed,
        changes: r.changes,
        pending_restart: r.pendingRestart,
        node: r.node ? nodeJson(r.node) : null,
      };
      emit(ctx.format, out, () => {
        const head = r.changed
          ? `${spec.name}: ${opts.dryRun ? 'would change' : 'changed'}\n`
          : `${spec.name}: unchanged\n`;
        return (
          head +
          r.changes.map((x) => `  ${x}\n`).join('') +
          (r.pendingRestart ? '  (takes effect at the next power-on)\n' : '')
        );
      });
      return;
    }
    case 'delete': {
      const r = await c.deleteNode(ref(rest[0], opts.cluster), call);
      emit(ctx.format, r, () =>
        r.existed ? `deleted: ${r.removed.join(', ')}\n` : `${rest[0] ?? ''}: nothing to delete\n`,
      );
      return;
    }
    case 'power': {
      const [action, name] = rest;
      const verb = parsePowerAction(action);
      const r = await c.setPower(ref(name, opts.cluster), verb, call);
      const out = { power_state: r.powerState, changed: r.changed };
      emit(ctx.format, out, () => `${name ?? ''}: ${out.power_state}${r.changed ? '' : ' (no change)'}\n`);
      return;
    }
    case 'setup-host': {
      if (!opts.cluster) throw usageError('setup-host needs --cluster', '--cluster');
      const physnets = (opts.physnets ?? []).map(parsePhysnetFlag);
      if (physnets.length === 0)
        throw usageError('setup-host needs at least one --physnet NAME=DEVICE[:VLAN]', '--physnet');
      const bt = opts.bridgeType ?? 'openvswitch';
      if (bt !== 'openvswitch' && bt !== 'linuxbridge')
        throw usageError(`unknown bridge type '${bt}' (openvswitch or linuxbridge)`, '--bridge-type');
      const r = await c.setupHost({ cluster: opts.cluster, bridgeType: bt, physnets }, call);
      const out = { changed: r.changed, changes: r.changes, physnets: r.physnets.map(physnetJson) };
      emit(
        ctx.format,
        out,
        () =>
          (r.changed ? r.changes.map((x) => `${x}\n`).join('') : 'host unchanged\n') +
          table(r.physnets, physnetColumns),
      );
      return;
    }
    case 'teardown-host': {
      const r = await c.teardownHost(opts.cluster ?? '', call);
      emit(ctx.format, { changed: r.changed, removed: r.removed }, () =>
        r.changed ? r.removed.map((x) => `${x}\n`).join('') : 'nothing to remove\n',
      );
      return;
    }
    case 'physnets': {
      const list = (await c.hostInfo(call)).physnets;
      emit(ctx.format, list.map(physnetJson), () => table(list, physnetColumns));
      return;
    }
    case 'watch': {
      await watch(ctx, opts.cluster ?? '');
      return;
    }
    default:
      throw usageError(`unknown agent command '${command ?? ''}' (${AGENT_COMMANDS.join(', ')})`, 'COMMAND');
  }
}

async function watch(ctx: AgentContext, cluster: string): Promise<void> {
  for await (const ev of ctx.client.watchEvents(cluster, ctx.signal)) {
    const j = {
      time: new Date(ev.timeUnixMs).toISOString(),
      type: ev.type,
      cluster: ev.cluster,
      node: ev.name,
      uuid: ev.uuid,
      power_state: ev.powerState,
    };
    if (ctx.format === 'table') process.stdout.write(`${j.time}  ${j.node}  ${j.type}  ${j.power_state}\n`);
    else process.stdout.write(JSON.stringify(j) + '\n');
  }
}
