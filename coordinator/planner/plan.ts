/**
 * The planner: the difference between what the spec asks for and what the agents report, as a
 * list of actions. A pure function: no I/O, deterministic given its inputs.
 */
import { formatSize } from '../../common/index.js';
import { hostSettings, type ClusterSpec, type DesiredNode } from '../../common/spec/index.js';
import type { PlacementRecord } from '../state/index.js';
import { ARCH_LABEL, desiredLabels, FINGERPRINT_LABEL, VOLUME_LABEL_PREFIX } from './labels.js';
import { bmcFor, type Action, type DesiredBmc, type NodeRequest, type ObservedNode, type Plan } from './types.js';

/** Inputs of {@link plan}. */
export interface PlanInput {
  spec: ClusterSpec;
  /** expandNodes(spec). */
  desired: readonly DesiredNode[];
  /** Agent of every desired node (the scheduler's assignments). */
  assignment: ReadonlyMap<string, string>;
  /** Stored placements of this cluster, by node name. */
  placements: ReadonlyMap<string, PlacementRecord>;
  /** This cluster's nodes as the reachable agents report them. */
  observed: readonly ObservedNode[];
  /** Agents holding this cluster's placements that could not be asked. */
  unreachable: ReadonlySet<string>;
  /** Physnets each agent has set up now (from its heartbeat), with their bridge type and users. */
  hostPhysnets: ReadonlyMap<
    string,
    readonly { physnet: string; device: string; vlan: number; bridgeType?: string; clusters?: readonly string[] }[]
  >;
  /** IPMI ports taken on each agent (all clusters), for specs that give a port range. */
  usedPorts: ReadonlyMap<string, ReadonlySet<number>>;
  /** Makes a UUID for a new node. */
  newUuid: () => string;
}

function desiredBmc(spec: ClusterSpec, n: DesiredNode, ipmiPort: number): DesiredBmc {
  const { ipmi, redfish } = bmcFor(n.driver);
  const creds = n.driver === 'ipmi' ? spec.ipmi : spec.redfish;
  return { ipmi, redfish, username: creds.username, password: creds.password, ipmiPort: ipmi ? ipmiPort : 0 };
}

/** Field-by-field differences of a node's VM; `replace` when a volume's source or format changed. */
export function diffVm(n: DesiredNode, o: ObservedNode): { changes: string[]; replace: boolean } {
  const changes: string[] = [];
  let replace = false;
  const field = (name: string, from: unknown, to: unknown): void => {
    if (from !== to) changes.push(`${name}: ${String(from)} -> ${String(to)}`);
  };
  field('node_type', o.nodeType, n.nodeType);
  // Firmware, NVRAM and disks are made for one architecture: another means a new machine.
  const arch = o.labels[ARCH_LABEL] ?? 'x86_64';
  if (arch !== n.arch) {
    changes.push(`arch: ${arch} -> ${n.arch} (the node is rebuilt)`);
    replace = true;
  }
  field('memory_mb', o.memoryMb, n.memoryMb);
  field('vcpus', o.vcpus, n.vcpus);
  field('boot_mode', o.bootMode, n.bootMode);
  if (n.machine !== null) field('machine', o.machine, n.machine);
  field('console_log_enabled', o.consoleLog, n.consoleLog);
  const have = new Map(o.volumes.map((v) => [v.name, v.capacityBytes]));
  for (const v of n.volumes) {
    const pool = `${n.name}-${v.name}`;
    const size = have.get(pool);
    const label = o.labels[`${VOLUME_LABEL_PREFIX}${v.name}`];
    if (v.source.kind === 'existing') continue;
    if (size === undefined) changes.push(`volume ${v.name}: added (${formatSize(v.capacityBytes ?? 0)})`);
    else if (label !== undefined && label !== desiredLabels(n)[`${VOLUME_LABEL_PREFIX}${v.name}`]) {
      changes.push(`volume ${v.name}: source or format changed (the node is rebuilt)`);
      replace = true;
    } else if (v.capacityBytes !== null && size < v.capacityBytes)
      changes.push(`volume ${v.name}: ${formatSize(size)} -> ${formatSize(v.capacityBytes)}`);
  }
  // An `existing` pool volume is reported under its own name.
  const wanted = new Set(n.volumes.map((v) => (v.source.kind === 'existing' ? v.source.ref : `${n.name}-${v.name}`)));
  for (const v of o.volumes)
    if (!wanted.has(v.name) && !v.name.endsWith('-vmedia-cd')) changes.push(`volume ${v.name}: removed`);
  const physnets = o.nics.map((x) => x.physnet).join(',');
  if (physnets !== n.physnets.join(',')) changes.push(`nics: [${physnets}] -> [${n.physnets.join(',')}]`);
  // Anything the fields above cannot show (VNC, CPU mode, ...) still shows as a new fingerprint.
  if (changes.length === 0 && o.labels[FINGERPRINT_LABEL] !== n.fingerprint) changes.push('node type settings changed');
  return { changes, replace };
}

/** Differences of a node's BMC. */
export function diffBmc(want: DesiredBmc, o: ObservedNode): string[] {
  const out: string[] = [];
  if (want.ipmi !== (o.bmc.ipmi !== null))
    out.push(`ipmi: ${o.bmc.ipmi ? 'on' : 'off'} -> ${want.ipmi ? 'on' : 'off'}`);
  if (want.redfish !== (o.bmc.redfish !== null))
    out.push(`redfish: ${o.bmc.redfish ? 'on' : 'off'} -> ${want.redfish ? 'on' : 'off'}`);
  const ep = o.bmc.ipmi ?? o.bmc.redfish;
  if (ep) {
    if (ep.username !== want.username) out.push(`bmc username: ${ep.username} -> ${want.username}`);
    // The password itself never goes into a plan.
    if (ep.password !== '' && ep.password !== want.password) out.push('bmc password changed');
  }
  if (want.ipmi && want.ipmiPort !== 0 && o.bmc.ipmi && o.bmc.ipmi.port !== want.ipmiPort)
    out.push(`ipmi port: ${o.bmc.ipmi.port} -> ${want.ipmiPort}`);
  return out;
}

/** The first free port of `range` on an agent, or 0 (let the agent choose, and fail if it cannot). */
function pickPort(range: { start: number; end: number } | null, used: Set<number>): number {
  if (range === null) return 0;
  for (let p = range.start; p <= range.end; p++)
    if (!used.has(p)) {
      used.add(p);
      return p;
    }
  return 0;
}

/** Plans the actions that bring the agents to the spec. */
export function plan(input: PlanInput): Plan {
  const { spec } = input;
  const warnings: string[] = [];
  const placedAt = new Map([...input.placements].map(([name, p]) => [name, p.agent]));
  const observed = new Map(keepers(input.observed, placedAt).map((o) => [o.name, o]));
  for (const o of input.observed) {
    const keep = observed.get(o.name);
    if (keep && keep !== o)
      warnings.push(`node ${o.name} exists on ${keep.agent} and on ${o.agent}: the copy on ${o.agent} is removed`);
  }
  const desiredNames = new Set(input.desired.map((n) => n.name));
  const ports = new Map<string, Set<number>>();
  const portsOf = (agent: string): Set<number> => {
    let s = ports.get(agent);
    if (!s) ports.set(agent, (s = new Set(input.usedPorts.get(agent) ?? [])));
    return s;
  };

  const setup: Action[] = [];
  const deletes: Action[] = [];
  const changes: Action[] = [];
  let unchanged = 0;

  // Host setup: every agent that gets nodes needs their physnets, mapped as the spec says for it.
  const agents = [
    ...new Set(input.desired.map((n) => input.assignment.get(n.name)).filter((a) => a !== undefined)),
  ].sort();
  for (const agent of agents) {
    const needed = new Set<string>();
    for (const n of input.desired)
      if (input.assignment.get(n.name) === agent) for (const p of n.physnets) needed.add(p);
    if (needed.size === 0) continue;
    const mappings = hostSettings(spec, agent).physnetMappings;
    const have = input.hostPhysnets.get(agent) ?? [];
    const physnets: { physnet: string; device: string; vlan: number }[] = [];
    const missing: string[] = [];
    for (const p of [...needed].sort()) {
      const m = mappings[p];
      if (m) {
        physnets.push({ physnet: p, device: m.device, vlan: m.vlan ?? 0 });
        const h = have.find((x) => x.physnet === p);
        const where = `${m.device}${m.vlan ? `:${m.vlan}` : ''}`;
        if (h?.device !== m.device || h.vlan !== (m.vlan ?? 0)) missing.push(`physnet ${p} -> ${where}`);
        else if (h.bridgeType !== undefined && h.bridgeType !== spec.bridgeType)
          missing.push(`physnet ${p}: bridge ${h.bridgeType} -> ${spec.bridgeType}`);
        // The agent keeps a bridge while any cluster uses it: this one must be among its users.
        else if (h.clusters !== undefined && !h.clusters.includes(spec.name))
          missing.push(`physnet ${p} on ${where}: used by ${spec.name}`);
      } else if (!have.some((x) => x.physnet === p)) {
        warnings.push(`agent ${agent}: physnet '${p}' has no mapping in the spec and is not set up there`);
      }
    }
    if (missing.length > 0)
      setup.push({ kind: 'setup_host', agent, bridgeType: spec.bridgeType, physnets, changes: missing });
  }

  // Ports nodes keep are taken before any new node picks one.
  for (const n of input.desired) {
    const agent = input.assignment.get(n.name);
    const range = agent === undefined ? null : hostSettings(spec, agent).ipmiPortRange;
    if (agent === undefined || range === null) continue;
    const kept = observed.get(n.name)?.bmc.ipmi?.port ?? input.placements.get(n.name)?.ipmiPort ?? 0;
    if (kept >= range.start && kept <= range.end) portsOf(agent).add(kept);
  }

  for (const n of input.desired) {
    const agent = input.assignment.get(n.name);
    if (agent === undefined) {
      warnings.push(`node ${n.name} was not scheduled`);
      continue;
    }
    const o = observed.get(n.name);
    const p = input.placements.get(n.name);
    if (o && o.agent !== agent) {
      // Placed nodes never move; the scheduler keeps them where they are observed.
      warnings.push(`node ${n.name} is on ${o.agent}, not on ${agent} as scheduled: left where it is`);
      continue;
    }
    const range = hostSettings(spec, agent).ipmiPortRange;
    const keptPort = o?.bmc.ipmi?.port ?? p?.ipmiPort ?? 0;
    const ipmiPort =
      bmcFor(n.driver).ipmi && range !== null
        ? keptPort >= range.start && keptPort <= range.end
          ? keptPort
          : pickPort(range, portsOf(agent))
        : keptPort;
    const request: NodeRequest = {
      node: n,
      uuid: o?.uuid ?? p?.uuid ?? input.newUuid(),
      macs: n.physnets.map((_x, i) => o?.nics[i]?.mac ?? p?.macs[i] ?? ''),
      bmc: desiredBmc(spec, n, ipmiPort),
      labels: desiredLabels(n),
    };
    if (!o) {
      if (p && input.unreachable.has(agent))
        changes.push({ kind: 'update', agent, request, changes: [`agent ${agent} is unreachable: state unknown`] });
      else
        changes.push({
          kind: 'create',
          agent,
          request,
          changes: [p ? 'node missing on its agent: re-created with its UUID and MACs' : 'node created'],
        });
      continue;
    }
    const vm = diffVm(n, o);
    const bmc = diffBmc(request.bmc, o);
    if (vm.replace) changes.push({ kind: 'replace', agent, request, changes: [...vm.changes, ...bmc] });
    else if (vm.changes.length > 0) changes.push({ kind: 'update', agent, request, changes: [...vm.changes, ...bmc] });
    else if (bmc.length > 0) changes.push({ kind: 'bmc', agent, request, changes: bmc });
    else unchanged++;
  }

  // Nodes of the cluster the spec no longer has, wherever they are (and second copies).
  for (const o of input.observed) {
    const keep = desiredNames.has(o.name) && observed.get(o.name) === o;
    if (!keep) deletes.push({ kind: 'delete', agent: o.agent, name: o.name, uuid: o.uuid, changes: ['node deleted'] });
  }
  for (const [name, p] of input.placements)
    if (!desiredNames.has(name) && !observed.has(name) && input.unreachable.has(p.agent))
      deletes.push({
        kind: 'delete',
        agent: p.agent,
        name,
        uuid: p.uuid,
        changes: [`agent ${p.agent} is unreachable: delete when it is back`],
      });

  return { cluster: spec.name, actions: [...setup, ...deletes, ...changes], unchanged, warnings };
}

/**
 * One copy of each observed node: where several agents report the same name (a node created twice
 * after lost state, say), the copy on the agent its placement names, else the first.
 */
export function keepers(observed: readonly ObservedNode[], placedAt: ReadonlyMap<string, string>): ObservedNode[] {
  const byName = new Map<string, ObservedNode>();
  for (const o of observed) {
    const cur = byName.get(o.name);
    if (!cur || (cur.agent !== placedAt.get(o.name) && o.agent === placedAt.get(o.name))) byName.set(o.name, o);
  }
  return [...byName.values()];
}
