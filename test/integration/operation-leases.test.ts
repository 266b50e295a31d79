/**
 * Operation leases against a real nats-server: several coordinators' operation runners in this
 * process, each with its own NATS connection, state copy and agent registry, driving a real agent
 * (libvirt's test:///default) over gRPC. A coordinator cut off from NATS stands for one that is
 * partitioned or paused; a call held back before it is sent stands for one still on the wire.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isTenksError, TenksError } from '../../common/index.js';
import type { AgentPort, NodeKey, PowerVerb } from '../../coordinator/agents/index.js';
import type { NodeRequest } from '../../coordinator/planner/index.js';
import { SecretBox, sealSpec } from '../../coordinator/secrets/index.js';
import { newOperationRecord, type OperationRecord } from '../../coordinator/state/index.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { startNats, type TestNats } from './helpers-nats.js';
import { operationEnded, smallClusterSpec, startRunnerCoordinator, type RunnerCoordinator } from './helpers-runner.js';

const LEASE_MS = 2_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One agent call as a coordinator made it. */
interface CallRecord {
  coordinator: string;
  fence: string;
  method: string;
  target: string;
  startMs: number;
  endMs: number;
  /** '' when the agent did it, else the error code. */
  code: string;
}

/**
 * Records every mutating call; with `stallMs`, holds each one back that long before sending it,
 * deaf to cancellation, as a request already on the wire is.
 */
class RecordingPort implements AgentPort {
  constructor(
    private readonly inner: AgentPort,
    private readonly coordinator: string,
    private readonly calls: CallRecord[],
    private readonly stallMs: number,
    /** A node the agent "loses" right after creating it, as if removed behind tenks' back. */
    private readonly loses: string | null,
    private readonly fence = '',
  ) {}

  withFence(fence: string): AgentPort {
    return new RecordingPort(
      this.inner.withFence(fence),
      this.coordinator,
      this.calls,
      this.stallMs,
      this.loses,
      fence,
    );
  }

  private async record<T>(
    method: string,
    target: string,
    signal: AbortSignal | undefined,
    f: (s?: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const rec: CallRecord = {
      coordinator: this.coordinator,
      fence: this.fence,
      method,
      target,
      startMs: Date.now(),
      endMs: 0,
      code: '',
    };
    this.calls.push(rec);
    try {
      if (this.stallMs > 0) {
        await sleep(this.stallMs);
        return await f();
      }
      return await f(signal);
    } catch (e) {
      rec.code = isTenksError(e) ? e.code : 'INTERNAL';
      throw e;
    } finally {
      rec.endMs = Date.now();
    }
  }

  whenBack(agent: string, signal: AbortSignal): Promise<void> {
    return this.inner.whenBack(agent, signal);
  }

  hostPhysnets(agent: string, signal?: AbortSignal) {
    return this.inner.hostPhysnets(agent, signal);
  }
  listNodes(agent: string, cluster: string, includeSecrets: boolean, signal?: AbortSignal) {
    return this.inner.listNodes(agent, cluster, includeSecrets, signal);
  }
  nodeStatuses(agent: string, cluster: string, includeSecrets: boolean, signal?: AbortSignal) {
    return this.inner.nodeStatuses(agent, cluster, includeSecrets, signal);
  }
  ensureNode(agent: string, request: NodeRequest, signal?: AbortSignal) {
    return this.record('ensureNode', request.node.name, signal, async (s) => {
      const r = await this.inner.ensureNode(agent, request, s);
      if (request.node.name === this.loses)
        await this.inner.deleteNode(agent, { cluster: request.node.cluster, name: request.node.name, uuid: '' }, s);
      return r;
    });
  }
  deleteNode(agent: string, node: NodeKey, signal?: AbortSignal) {
    return this.record('deleteNode', node.name, signal, (s) => this.inner.deleteNode(agent, node, s));
  }
  setupHost(
    agent: string,
    cluster: string,
    bridgeType: Parameters<AgentPort['setupHost']>[2],
    physnets: Parameters<AgentPort['setupHost']>[3],
    signal?: AbortSignal,
  ) {
    return this.record('setupHost', agent, signal, (s) =>
      this.inner.setupHost(agent, cluster, bridgeType, physnets, s),
    );
  }
  teardownHost(agent: string, cluster: string, signal?: AbortSignal) {
    return this.record('teardownHost', agent, signal, (s) => this.inner.teardownHost(agent, cluster, s));
  }
  setPower(agent: string, node: NodeKey, action: PowerVerb, signal?: AbortSignal) {
    return this.inner.setPower(agent, node, action, signal);
  }
}

describe('operation leases over real NATS', function () {
  this.timeout(60_000);
  const tag = Math.random().toString(36).slice(2, 7);
  const agentId = `lease-${tag}`;
  let nats: TestNats;
  let agent: TestAgent;
  const coords: RunnerCoordinator[] = [];
  const calls: CallRecord[] = [];
  let n = 0;
  // Coordinators sharing NATS share one secrets key, as deployed.
  const secrets = new SecretBox(randomBytes(32), 'test secrets key');

  async function coordinator(
    id: string,
    o: {
      recovery: boolean;
      stallMs?: number;
      wallClockMs?: () => number;
      agentTimeoutMs?: number;
      loses?: string;
    },
  ): Promise<RunnerCoordinator> {
    const c = await startRunnerCoordinator({
      id,
      natsUrl: nats.url,
      agentId,
      leaseMs: LEASE_MS,
      recovery: o.recovery,
      secrets,
      eventsPrefix: 'tenks.ops',
      // Cut off for good once its connection is closed.
      reconnect: false,
      port: (grpc) => new RecordingPort(grpc, id, calls, o.stallMs ?? 0, o.loses ?? null),
      ...(o.wallClockMs ? { wallClockMs: o.wallClockMs } : {}),
      ...(o.agentTimeoutMs === undefined ? {} : { agentTimeoutMs: o.agentTimeoutMs }),
    });
    coords.push(c);
    return c;
  }

  const spec = smallClusterSpec;
  const newCluster = (): string => `l${tag}${String(n++)}`;
  const start = (c: RunnerCoordinator, cluster: string, count: number) =>
    c.runner.start('apply', cluster, {
      specYaml: sealSpec(secrets, spec(cluster, count)),
      source: 'spec.yaml',
      force: false,
    });
  const nodesOf = async (cluster: string): Promise<string[]> =>
    (await agent.daemon.agent.nodes.list(cluster)).map((x) => x.name).sort();
  const ended = (c: RunnerCoordinator, id: string): Promise<OperationRecord> => operationEnded(c.store, id);

  before(async function () {
    nats = await startNats();
    agent = await startTestAgent({
      agent_id: agentId,
      libvirt_uri: 'test:///default',
      storage: { pool_name: `tenks-lease-${tag}` },
      nats: { servers: nats.url },
      heartbeat_interval_s: 0.5,
    });
  });

  afterEach(async function () {
    for (const c of coords.splice(0)) await c.close();
  });

  after(async function () {
    for (const name of (await agent.daemon.agent.nodes.list('')).map((x) => x.name))
      if (name.startsWith(`l${tag}`)) await agent.daemon.agent.nodes.delete({ cluster: '', name, uuid: '' });
    await agent.stop();
    await nats.stop();
  });

  it('gives a cluster to exactly one of two coordinators taking it at once', async function () {
    const [a, b] = [
      await coordinator(`a-${tag}`, { recovery: true }),
      await coordinator(`b-${tag}`, { recovery: true }),
    ];
    const cluster = newCluster();
    const results = await Promise.allSettled([start(a, cluster, 2), start(b, cluster, 2)]);
    const won = results.filter((r): r is PromiseFulfilledResult<OperationRecord> => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal((lost[0]?.reason as TenksError).code, 'CONFLICT');
    const op = won[0]?.value as OperationRecord;
    assert.equal((await ended(a, op.id)).state, 'succeeded');
    assert.deepEqual(await nodesOf(cluster), [`${cluster}-0`, `${cluster}-1`]);
  });

  it('lets an owner cut off from NATS stop by itself; another coordinator resumes the same operation to success', async function () {
    const a = await coordinator(`a-${tag}`, { recovery: true, stallMs: 1_500 });
    const cluster = newCluster();
    const op = await start(a, cluster, 3);
    while (!calls.some((x) => x.coordinator === a.id && x.target.startsWith(`${cluster}-`))) await sleep(20);
    const cutAt = Date.now();
    await a.nc.close();
    const b = await coordinator(`b-${tag}`, { recovery: true });
    // The owner stops within its lease (its runner no longer has the operation).
    while (
      a.runner.get(op.id)?.state === 'running' &&
      (a.runner as unknown as { running: Map<string, unknown> }).running.has(op.id)
    ) {
      assert.ok(Date.now() - cutAt < LEASE_MS + 1_000, 'the cut-off owner stopped within its lease');
      await sleep(50);
    }
    const done = await ended(b, op.id);
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    assert.equal(done.owner, b.id);
    assert.ok(
      done.warnings.some((w) => w.includes(`resumed by ${b.id}`)),
      done.warnings.join('\n'),
    );
    assert.deepEqual(
      await nodesOf(cluster),
      [0, 1, 2].map((i) => `${cluster}-${String(i)}`),
    );
  });

  it('marks a holder whose lease ran out failed before its cluster is taken; its late calls are refused', async function () {
    // A's calls are held back 6 s, deaf to cancellation: they reach the agent long after A lost.
    // Cut off from NATS, A would soon think the agent dead and send nothing: it keeps believing.
    const a = await coordinator(`a-${tag}`, { recovery: false, stallMs: 6_000, agentTimeoutMs: 60_000 });
    const cluster = newCluster();
    const first = await start(a, cluster, 3);
    while (!calls.some((x) => x.coordinator === a.id && x.target.startsWith(`${cluster}-`))) await sleep(20);
    await a.nc.close();
    const c = await coordinator(`c-${tag}`, { recovery: false });
    // While A's lease may still hold (on C's clock), C is refused, naming A's operation.
    await assert.rejects(
      c.runner.start('delete', cluster, { specYaml: '', source: '', force: false }),
      (e: TenksError) => e.code === 'CONFLICT' && e.message.includes(first.id),
    );
    let del: OperationRecord | null = null;
    while (del === null) {
      await sleep(200);
      del = await c.runner.start('delete', cluster, { specYaml: '', source: '', force: false }).catch((e: unknown) => {
        if (isTenksError(e) && e.code === 'CONFLICT') return null;
        throw e;
      });
    }
    const abandoned = (await c.store.operations.fetch(first.id))?.value;
    assert.equal(abandoned?.state, 'failed');
    assert.match(abandoned.errorMessage, /stopped renewing its lease/);
    assert.equal((await ended(c, del.id)).state, 'succeeded');
    // A's held-back creates arrive now: the agent has seen C's newer claim and refuses them all.
    const mine = (x: CallRecord): boolean => x.coordinator === a.id && x.target.startsWith(`${cluster}-`);
    while (calls.some((x) => mine(x) && x.endMs === 0)) await sleep(100);
    const late = calls.filter((x) => mine(x) && x.method === 'ensureNode');
    assert.ok(late.length > 0);
    for (const x of late) assert.equal(x.code, 'CONFLICT', JSON.stringify(x));
    assert.deepEqual(await nodesOf(cluster), [], 'nothing came back after the delete');
  });

  it('never compares clocks of different hosts: an owner whose clock is an hour behind keeps its operation', async function () {
    const a = await coordinator(`a-${tag}`, {
      recovery: true,
      stallMs: 4_000,
      wallClockMs: () => Date.now() - 3_600_000,
    });
    const b = await coordinator(`b-${tag}`, { recovery: true });
    const cluster = newCluster();
    const op = await start(a, cluster, 2);
    await sleep(LEASE_MS * 2);
    await assert.rejects(start(b, cluster, 2), (e: TenksError) => e.code === 'CONFLICT');
    const done = await ended(a, op.id);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.owner, a.id, 'nobody took it over');
    assert.ok(!done.warnings.some((w) => w.includes('resumed')), done.warnings.join('\n'));
  });

  it('does not call an apply succeeded when the agents do not report the declared cluster afterwards', async function () {
    const cluster = newCluster();
    const a = await coordinator(`a-${tag}`, { recovery: true, loses: `${cluster}-1` });
    const done = await ended(a, (await start(a, cluster, 2)).id);
    assert.equal(done.state, 'failed');
    const verify = done.results.find((r) => r.action === 'verify');
    assert.ok(verify, JSON.stringify(done.results));
    assert.match(verify.message, new RegExp(`create ${cluster}-1`));
  });

  it('ends, rather than resumes, an operation that never took its cluster', async function () {
    const b = await coordinator(`b-${tag}`, { recovery: true });
    const cluster = newCluster();
    // As a coordinator that died between writing its operation and taking the cluster leaves it.
    const ghost = newOperationRecord({
      id: `op-ghost-${tag}`,
      cluster,
      kind: 'apply',
      specYaml: spec(cluster, 1),
      source: 'spec.yaml',
      force: false,
      owner: 'ghost',
      leaseMs: 500,
      leaseUntilMs: 0,
      startedMs: Date.now(),
    });
    await b.store.operations.compareAndSet(ghost.id, ghost, null);
    const done = await ended(b, ghost.id);
    assert.equal(done.state, 'failed');
    assert.match(done.errorMessage, /never held its cluster/);
    assert.deepEqual(await nodesOf(cluster), []);
    assert.ok(!calls.some((x) => x.target.startsWith(cluster)));
  });
});
