/**
 * The coordinator's core, as its gRPC service uses it: plan, start and follow operations, and
 * answer questions about clusters and agents. No protobuf here.
 */
import { TenksError, toTenksError, type Logger, type NodeStatus, type PowerAction } from '../common/index.js';
import { CLUSTER_NAME_PATTERN, describeNameSource, expandNodes, redactSpecSecrets } from '../common/spec/index.js';
import type { AgentPort, AgentRegistry, AgentView } from './agents/index.js';
import type { OpenStackConnector } from './openstack/index.js';
import type { RetryPolicy } from './executor/index.js';
import {
  cloudOf,
  compileSpec,
  planCluster,
  previewEnrolment,
  pruneRefusalOf,
  type FlowDeps,
  type OperationRunner,
} from './operations/index.js';
import { pruneError, prunePlanWarning, pruneRefusal, type Plan } from './planner/index.js';
import { sealSpec, unsealSpec, type SecretBox } from './secrets/index.js';
import {
  emptyClusterRecord,
  type ClusterRecord,
  type OperationRecord,
  type PlacementRecord,
  type StateStore,
} from './state/index.js';

/** Version of the coordinator, reported by GetInfo. */
export const COORDINATOR_VERSION = '0.2.0';

/** A cluster as reported. */
export interface ClusterView {
  /** As stored (its spec's secrets sealed). */
  record: ClusterRecord;
  /** The spec as submitted, or with every secret redacted (see {@link Coordinator.clusters}). */
  specYaml: string;
  nodeCount: number;
  agents: string[];
}

/** Which nodes {@link Coordinator.nodes} reports. */
export interface NodeQuery {
  /** '' for every cluster. */
  cluster: string;
  /** '' for every node; else only nodes of this name, and NOT_FOUND when there is none. */
  name: string;
  /** BMC passwords. */
  includeSecrets: boolean;
}

/** Everything the coordinator is made of. */
export interface CoordinatorParts {
  coordinatorId: string;
  store: StateStore;
  registry: AgentRegistry;
  port: AgentPort;
  runner: OperationRunner;
  policy: RetryPolicy;
  /** Seals the secrets of the specs it stores, and opens them. */
  secrets: SecretBox;
  natsUrls: string[];
  eventsSubjectPrefix: string;
  /** How clouds are reached for enrolment. */
  openstack?: OpenStackConnector;
  /** How long a check of a cloud may take in all (openstack.timeout_s). */
  cloudCheckTimeoutMs?: number;
  log: Logger;
}

/** The coordinator's operations. */
export class Coordinator {
  constructor(readonly parts: CoordinatorParts) {}

  private get deps(): FlowDeps {
    const p = this.parts;
    return {
      store: p.store,
      registry: p.registry,
      port: p.port,
      policy: p.policy,
      secrets: p.secrets,
      log: p.log,
      ...(p.openstack ? { openstack: p.openstack } : {}),
      ...(p.cloudCheckTimeoutMs !== undefined ? { cloudCheckTimeoutMs: p.cloudCheckTimeoutMs } : {}),
    };
  }

  info(): { coordinatorId: string; version: string; natsUrls: string[]; eventsSubjectPrefix: string } {
    return {
      coordinatorId: this.parts.coordinatorId,
      version: COORDINATOR_VERSION,
      natsUrls: this.parts.natsUrls,
      eventsSubjectPrefix: this.parts.eventsSubjectPrefix,
    };
  }

  /**
   * The actions an apply of this spec would take now (asks the agents and the cloud; changes
   * nothing). Fails as the apply would before touching anything: a cloud that cannot be used is an
   * error here, not a warning. An apply that would be refused without `prune` is not an error
   * here: the plan says so in `pruneRequired`.
   */
  async plan(specYaml: string, source: string, signal?: AbortSignal, o: { prune?: boolean } = {}): Promise<Plan> {
    const { spec, warnings } = compileSpec(specYaml, source);
    const os = await cloudOf(this.deps, spec, signal);
    const planned = await planCluster(this.deps, spec, warnings, signal);
    const refusal = o.prune === true ? null : pruneRefusalOf(this.deps, planned);
    const enrolment = os ? await previewEnrolment(planned, os, signal) : [];
    return {
      ...planned.plan,
      actions: [...planned.plan.actions, ...enrolment],
      nameSource: describeNameSource(spec),
      ...(refusal ? { pruneRequired: prunePlanWarning(refusal) } : {}),
    };
  }

  /**
   * Starts an apply; the spec is validated first (INVALID_SPEC with every error, nothing started).
   * Without `prune`, an apply that would delete most of the nodes the cluster has (by its
   * placements) is refused with CONFLICT, nothing started (planner/prune.ts; the apply checks
   * again against what the agents report before it changes anything). The operation and the
   * cluster keep the spec with its secrets sealed.
   */
  async apply(specYaml: string, source: string, o: { prune?: boolean } = {}): Promise<OperationRecord> {
    const { spec } = compileSpec(specYaml, source);
    const prune = o.prune === true;
    if (!prune) {
      const placed = this.parts.store.placementsOf(spec.name).keys();
      const desired = new Set(expandNodes(spec).map((n) => n.name));
      const have = [...placed];
      const refusal = pruneRefusal(
        spec.name,
        have,
        have.filter((n) => !desired.has(n)),
        desired,
      );
      if (refusal) throw pruneError(refusal);
    }
    const sealed = sealSpec(this.parts.secrets, specYaml, source);
    return this.parts.runner.start('apply', spec.name, { specYaml: sealed, source, force: false, prune });
  }

  async deleteCluster(name: string, force: boolean): Promise<OperationRecord> {
    if (!CLUSTER_NAME_PATTERN.test(name))
      throw new TenksError('INVALID_SPEC', `'${name}' is not a cluster name`, { field: 'cluster' });
    const known = this.parts.store.cluster(name) !== undefined || this.parts.store.placementsOf(name).size > 0;
    if (!known) throw new TenksError('NOT_FOUND', `no cluster '${name}'`, { hint: 'see tenksctl get clusters' });
    return this.parts.runner.start('delete', name, { specYaml: '', source: '', force });
  }

  async teardown(force: boolean): Promise<OperationRecord> {
    return this.parts.runner.start('teardown', '', { specYaml: '', source: '', force });
  }

  /**
   * Every cluster with its spec: as submitted when `includeSecrets`, else with each secret replaced by
   * a marker. PERMISSION when a secret was sealed under another coordinator's key.
   */
  clusters(includeSecrets: boolean): ClusterView[] {
    const s = this.parts.store;
    const names = new Set([...s.clusters.values().map((c) => c.name), ...s.allPlacements().map((p) => p.cluster)]);
    return [...names].sort().map((name) => {
      const placements = [...s.placementsOf(name).values()];
      const record = s.cluster(name)?.value ?? emptyClusterRecord(name);
      const source = `cluster ${name}`;
      return {
        record,
        specYaml: includeSecrets
          ? unsealSpec(this.parts.secrets, record.specYaml, source)
          : redactSpecSecrets(record.specYaml, source),
        nodeCount: placements.length,
        agents: [...new Set(placements.map((p) => p.agent))].sort(),
      };
    });
  }

  /**
   * The nodes `q` asks for, sorted by cluster and name: as their agents report them (each live
   * agent is asked), and where an agent did not answer, as its placements say, with power, boot
   * mode and boot device unknown.
   */
  async nodes(q: NodeQuery, signal?: AbortSignal): Promise<NodeStatus[]> {
    const { registry, port, store, log } = this.parts;
    const nodes: NodeStatus[] = [];
    const answered = new Set<string>();
    await Promise.all(
      registry
        .list()
        .filter((a) => a.alive)
        .map(async (a) => {
          try {
            const reported = await port.nodeStatuses(a.id, q.cluster, q.includeSecrets, signal);
            answered.add(a.id);
            for (const n of reported)
              if (n.cluster !== '' && (q.name === '' || n.name === q.name)) nodes.push({ ...n, hypervisor: a.id });
          } catch (e) {
            log.warn('agent did not answer ListNodes', { agent: a.id, error: toTenksError(e).message });
          }
        }),
    );
    for (const p of store.allPlacements())
      if (
        !answered.has(p.agent) &&
        (q.cluster === '' || p.cluster === q.cluster) &&
        (q.name === '' || p.node === q.name)
      )
        nodes.push(placedNode(p));
    if (q.name !== '' && nodes.length === 0)
      throw new TenksError('NOT_FOUND', `no node '${q.name}'${q.cluster !== '' ? ` in cluster '${q.cluster}'` : ''}`);
    return nodes.sort((a, b) => (a.cluster + a.name < b.cluster + b.name ? -1 : 1));
  }

  /** Powers a node on, off, ... through the agent its placement names. */
  setNodePower(
    cluster: string,
    name: string,
    action: PowerAction,
    signal?: AbortSignal,
  ): Promise<{ powerState: string; changed: boolean }> {
    const where = this.agentOf(cluster, name);
    return this.parts.port.setPower(where.agent, { cluster: where.cluster, name, uuid: where.uuid }, action, signal);
  }

  agents(): AgentView[] {
    return this.parts.registry.list();
  }

  operation(id: string): OperationRecord {
    const op = this.parts.runner.get(id);
    if (!op) throw new TenksError('NOT_FOUND', `no operation ${id}`);
    return op;
  }

  cancel(id: string): Promise<OperationRecord> {
    return this.parts.runner.cancel(id);
  }

  /** Agent of a node, from its placement. */
  agentOf(cluster: string, name: string): { agent: string; cluster: string; uuid: string } {
    const s = this.parts.store;
    const matches =
      cluster !== ''
        ? [s.placementsOf(cluster).get(name)].filter((p) => p !== undefined)
        : s.allPlacements().filter((p) => p.node === name);
    if (matches.length === 0)
      throw new TenksError('NOT_FOUND', `no node '${name}'${cluster !== '' ? ` in cluster '${cluster}'` : ''}`);
    if (matches.length > 1)
      throw new TenksError(
        'INVALID_SPEC',
        `node '${name}' exists in clusters ${matches.map((m) => m.cluster).join(', ')}: say which with --cluster`,
        { field: 'cluster' },
      );
    const m = matches[0] as (typeof matches)[number];
    return { agent: m.agent, cluster: m.cluster, uuid: m.uuid };
  }
}

/** A node as its placement says, for an agent that did not answer. */
function placedNode(p: PlacementRecord): NodeStatus {
  return {
    cluster: p.cluster,
    name: p.node,
    uuid: p.uuid,
    nodeType: p.nodeType,
    hypervisor: p.agent,
    powerState: 'unknown',
    memoryMb: p.memoryMb,
    vcpus: p.vcpus,
    bootMode: 'unknown',
    machine: '',
    volumes: [],
    nics: p.macs.map((mac) => ({ physnet: '', mac, bridge: '', bridgeMac: '', switchPort: '' })),
    bmc: null,
    specHash: '',
    consoleLogPath: '',
    engine: '',
    // Unknown: placements do not keep it.
    arch: '',
    bootDevice: 'unknown',
    labels: {},
  };
}
