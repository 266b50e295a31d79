/**
 * The OperationRunner against a real nats-server and a real agent (libvirt's test:///default): an
 * operation's record, cluster lock, progress events, cancellation (here and through another
 * coordinator), shutdown and resumption by another coordinator, and delete. A gate in front of the
 * agent holds node creation back, as a slow host would, and lets go when the call is cancelled.
 * Lease expiry, takeover and fencing between live coordinators: operation-leases.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { decodeJson, isTenksError, untilAborted, type OpEvent, type TenksError } from '../../common/index.js';
import type { AgentPort, NodeKey, PowerVerb } from '../../coordinator/agents/index.js';
import type { NodeRequest } from '../../coordinator/planner/index.js';
import { SecretBox, sealSpec, unsealSpec } from '../../coordinator/secrets/index.js';
import type { OperationRecord } from '../../coordinator/state/index.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { startNats, type TestNats } from './helpers-nats.js';
import { operationEnded, smallClusterSpec, startRunnerCoordinator, type RunnerCoordinator } from './helpers-runner.js';

const LEASE_MS = 2_000;

/** Holds node creation back while closed; a held call that is cancelled fails at once. */
class Gate {
  private opened: Promise<void> = Promise.resolve();
  private release: () => void = () => undefined;
  /** Calls held now. */
  held = 0;

  close(): void {
    this.opened = new Promise<void>((r) => (this.release = r));
  }

  open(): void {
    this.release();
    this.opened = Promise.resolve();
  }

  async pass(signal: AbortSignal | undefined): Promise<void> {
    this.held++;
    try {
      await untilAborted(this.opened, signal);
    } finally {
      this.held--;
    }
  }
}

/** An agent port whose node creations go through a gate. */
class GatedPort implements AgentPort {
  constructor(
    private readonly inner: AgentPort,
    private readonly gate: Gate,
  ) {}

  withFence(fence: string): AgentPort {
    return new GatedPort(this.inner.withFence(fence), this.gate);
  }
  whenBack(agent: string, signal: AbortSignal) {
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
  async ensureNode(agent: string, request: NodeRequest, signal?: AbortSignal) {
    await this.gate.pass(signal);
    return this.inner.ensureNode(agent, request, signal);
  }
  deleteNode(agent: string, node: NodeKey, signal?: AbortSignal) {
    return this.inner.deleteNode(agent, node, signal);
  }
  setupHost(
    agent: string,
    cluster: string,
    bridgeType: Parameters<AgentPort['setupHost']>[2],
    physnets: Parameters<AgentPort['setupHost']>[3],
    signal?: AbortSignal,
  ) {
    return this.inner.setupHost(agent, cluster, bridgeType, physnets, signal);
  }
  teardownHost(agent: string, cluster: string, signal?: AbortSignal) {
    return this.inner.teardownHost(agent, cluster, signal);
  }
  setPower(agent: string, node: NodeKey, action: PowerVerb, signal?: AbortSignal) {
    return this.inner.setPower(agent, node, action, signal);
  }
}

/** A coordinator's operation runner, with the gate in front of its agent. */
type Coord = RunnerCoordinator & { gate: Gate };

describe('operation runner over real NATS', function () {
  this.timeout(60_000);
  const tag = randomBytes(3).toString('hex');
  const agentId = `runner-${tag}`;
  const prefix = `tenks-test-${tag}`;
  let nats: TestNats;
  let agent: TestAgent;
  let watcher: NatsConnection;
  let watching: Subscription;
  /** Every progress event published, in order. */
  const events: OpEvent[] = [];
  const coords: Coord[] = [];
  let n = 0;
  // Coordinators sharing NATS share one secrets key, as deployed.
  const secrets = new SecretBox(randomBytes(32), 'test secrets key');

  async function coordinator(id: string, o: { recovery: boolean; leaseMs?: number }): Promise<Coord> {
    const gate = new Gate();
    const parts = await startRunnerCoordinator({
      id,
      natsUrl: nats.url,
      agentId,
      leaseMs: o.leaseMs ?? LEASE_MS,
      recovery: o.recovery,
      secrets,
      eventsPrefix: prefix,
      port: (grpc) => new GatedPort(grpc, gate),
    });
    const c: Coord = {
      ...parts,
      gate,
      close: async () => {
        gate.open();
        await parts.close();
      },
    };
    coords.push(c);
    return c;
  }

  const spec = smallClusterSpec;
  const newCluster = (): string => `r${tag}${String(n++)}`;
  const apply = (c: Coord, cluster: string, count: number): Promise<OperationRecord> =>
    c.runner.start('apply', cluster, {
      specYaml: sealSpec(secrets, spec(cluster, count)),
      source: 'spec.yaml',
      force: false,
    });
  const nodesOf = async (cluster: string): Promise<string[]> =>
    (await agent.daemon.agent.nodes.list(cluster)).map((x) => x.name).sort();
  const stored = async (c: Coord, id: string): Promise<OperationRecord> => {
    const v = await c.store.operations.fetch(id);
    assert.ok(v, `operation ${id} is stored`);
    return v.value;
  };
  const eventsOf = (id: string): OpEvent[] => events.filter((e) => e.op === id);

  const ended = (c: Coord, id: string, timeoutMs?: number): Promise<OperationRecord> =>
    operationEnded(c.store, id, timeoutMs);

  async function held(c: Coord): Promise<void> {
    const end = Date.now() + 20_000;
    while (c.gate.held === 0) {
      if (Date.now() > end) assert.fail('no node creation reached the gate');
      await sleep(20);
    }
  }

  before(async function () {
    nats = await startNats();
    agent = await startTestAgent({
      agent_id: agentId,
      libvirt_uri: 'test:///default',
      storage: { pool_name: `tenks-runner-${tag}` },
      nats: { servers: nats.url },
      heartbeat_interval_s: 0.5,
    });
    watcher = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    watching = watcher.subscribe(`${prefix}.>`);
    void (async () => {
      for await (const m of watching) events.push(decodeJson(m.data) as OpEvent);
    })();
  });

  afterEach(async function () {
    for (const c of coords.splice(0)) await c.close();
  });

  after(async function () {
    watching.unsubscribe();
    await watcher.close();
    for (const name of (await agent.daemon.agent.nodes.list('')).map((x) => x.name))
      if (name.startsWith(`r${tag}`)) await agent.daemon.agent.nodes.delete({ cluster: '', name, uuid: '' });
    await agent.stop();
    await nats.stop();
  });

  it('runs an apply: its record, the cluster it held, the placements and the events tell the same story', async function () {
    const a = await coordinator(`a-${tag}`, { recovery: false });
    const cluster = newCluster();
    const op = await apply(a, cluster, 2);
    await a.runner.wait(op.id);
    const done = await stored(a, op.id);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.results));
    assert.equal(done.owner, a.id);
    assert.equal(done.leaseMs, LEASE_MS);
    assert.equal(done.failed, 0);
    assert.ok(done.actionsTotal >= 2, `${String(done.actionsTotal)} actions`);
    assert.equal(done.actionsDone, done.actionsTotal);
    assert.equal(done.succeeded, done.actionsTotal);
    assert.deepEqual(
      done.results
        .filter((r) => r.action === 'create')
        .map((r) => r.node)
        .sort(),
      [`${cluster}-0`, `${cluster}-1`],
    );
    assert.ok(done.finishedMs >= done.startedMs);
    assert.deepEqual(a.runner.get(op.id), done, 'once finished, as stored');

    const c = (await a.store.clusters.fetch(cluster))?.value;
    assert.equal(c?.operationId, null, 'the cluster is free again');
    assert.equal(c.lastOperationId, op.id);
    assert.equal(c.lastOperationState, 'succeeded');
    assert.ok(c.specYaml.includes('sealed:v1:'), 'the spec is kept with its secrets sealed');
    assert.equal(unsealSpec(secrets, c.specYaml, cluster), spec(cluster, 2));
    assert.equal(c.source, 'spec.yaml');
    assert.deepEqual([...a.store.placementsOf(cluster).keys()].sort(), [`${cluster}-0`, `${cluster}-1`]);
    assert.deepEqual(await nodesOf(cluster), [`${cluster}-0`, `${cluster}-1`]);

    await until(() => eventsOf(op.id).at(-1)?.type === 'operation_done');
    const seen = eventsOf(op.id);
    assert.equal(seen[0]?.type, 'operation_started');
    const last = seen.at(-1);
    assert.ok(last?.type === 'operation_done' && last.state === 'succeeded', JSON.stringify(last));
    const finished = seen.filter((e) => e.type === 'step_finished').map((e) => ('node' in e ? e.node : ''));
    assert.ok(finished.includes(`${cluster}-0`) && finished.includes(`${cluster}-1`), JSON.stringify(finished));
  });

  it('refuses a second operation on a cluster it is changing, naming the first, and takes it once that ends', async function () {
    const a = await coordinator(`a-${tag}`, { recovery: false });
    const cluster = newCluster();
    a.gate.close();
    const first = await apply(a, cluster, 1);
    await held(a);
    const refused = await apply(a, cluster, 2).then(
      () => assert.fail('a second apply started'),
      (e: unknown) => e as TenksError,
    );
    assert.ok(isTenksError(refused) && refused.code === 'CONFLICT', String(refused));
    assert.match(refused.message, new RegExp(`being changed by operation ${first.id} \\(apply`));
    a.gate.open();
    await a.runner.wait(first.id);
    assert.equal((await stored(a, first.id)).state, 'succeeded');
    const second = await apply(a, cluster, 2);
    await a.runner.wait(second.id);
    assert.equal((await stored(a, second.id)).state, 'succeeded');
    assert.deepEqual(await nodesOf(cluster), [`${cluster}-0`, `${cluster}-1`]);
  });

  it('cancels an operation it runs at once: cancelled, the cluster given back, no node made', async function () {
    const a = await coordinator(`a-${tag}`, { recovery: false });
    const cluster = newCluster();
    a.gate.close();
    const op = await apply(a, cluster, 1);
    await held(a);
    const asked = await a.runner.cancel(op.id);
    assert.equal(asked.cancelRequested, true);
    await a.runner.wait(op.id);
    const done = await stored(a, op.id);
    assert.equal(done.state, 'cancelled');
    assert.equal(done.errorCode, 'CANCELLED');
    assert.equal(done.cancelRequested, true);
    const c = (await a.store.clusters.fetch(cluster))?.value;
    assert.equal(c?.operationId, null);
    assert.equal(c.lastOperationState, 'cancelled');
    assert.deepEqual(await nodesOf(cluster), []);
    await until(() => eventsOf(op.id).some((e) => e.type === 'operation_done'));
    const last = eventsOf(op.id).at(-1);
    assert.ok(last?.type === 'operation_done' && last.state === 'cancelled', JSON.stringify(last));
  });

  it("cancels another coordinator's operation through its record; the owner stops at its next renewal", async function () {
    const a = await coordinator(`a-${tag}`, { recovery: true });
    const b = await coordinator(`b-${tag}`, { recovery: false });
    const cluster = newCluster();
    a.gate.close();
    const op = await apply(a, cluster, 1);
    await held(a);
    const asked = await b.runner.cancel(op.id);
    assert.equal(asked.cancelRequested, true);
    assert.equal(asked.owner, a.id);
    const done = await ended(b, op.id, 10_000);
    assert.equal(done.state, 'cancelled');
    assert.equal(done.owner, a.id, 'ended by its owner');
    // The owner saves the operation's end, then gives the cluster back: a second write.
    await until(async () => (await b.store.clusters.fetch(cluster))?.value.operationId === null, 10_000);
    await assert.rejects(b.runner.cancel(`op-none-${tag}`), (e: unknown) => isTenksError(e) && e.code === 'NOT_FOUND');
  });

  it('leaves an operation for resumption when it shuts down; a coordinator started later resumes it to success', async function () {
    const a = await coordinator(`a-${tag}`, { recovery: true });
    const cluster = newCluster();
    a.gate.close();
    const op = await apply(a, cluster, 2);
    await held(a);
    await a.runner.close(0);
    const left = await stored(a, op.id);
    assert.equal(left.state, 'running', 'not ended: its lease runs out and it is resumed');
    assert.equal((await a.store.clusters.fetch(cluster))?.value.operationId, op.id, 'the cluster stays held');
    await assert.rejects(
      apply(a, newCluster(), 1),
      (e: unknown) => isTenksError(e) && e.code === 'UNAVAILABLE' && e.message.includes('shutting down'),
    );

    const b = await coordinator(`b-${tag}`, { recovery: true });
    const done = await ended(b, op.id);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.results));
    assert.equal(done.owner, b.id);
    assert.ok(
      done.warnings.some((w) => w.startsWith(`resumed by ${b.id} (was ${a.id})`)),
      JSON.stringify(done.warnings),
    );
    assert.deepEqual(await nodesOf(cluster), [`${cluster}-0`, `${cluster}-1`]);
    assert.equal((await b.store.clusters.fetch(cluster))?.value.lastOperationId, op.id);
  });

  it('carries an operation across a nats-server restart shorter than its lease', async function () {
    const a = await coordinator(`a-${tag}`, { recovery: true, leaseMs: 20_000 });
    const cluster = newCluster();
    a.gate.close();
    const op = await apply(a, cluster, 1);
    await held(a);
    await nats.halt();
    await sleep(300);
    await nats.restart();
    a.gate.open();
    const done = await ended(a, op.id, 45_000);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.results));
    assert.equal(done.owner, a.id, 'still its own: nobody took it over');
    assert.ok(!done.warnings.some((w) => w.startsWith('resumed by')), JSON.stringify(done.warnings));
    assert.deepEqual(await nodesOf(cluster), [`${cluster}-0`]);
    assert.equal((await a.store.clusters.fetch(cluster))?.value.operationId, null);
  });

  it('deletes a cluster: its nodes, placements and record go', async function () {
    const a = await coordinator(`a-${tag}`, { recovery: false });
    const cluster = newCluster();
    const made = await apply(a, cluster, 1);
    await a.runner.wait(made.id);
    assert.deepEqual(await nodesOf(cluster), [`${cluster}-0`]);
    const op = await a.runner.start('delete', cluster, { specYaml: '', source: '', force: false });
    await a.runner.wait(op.id);
    assert.equal((await stored(a, op.id)).state, 'succeeded');
    assert.deepEqual(await nodesOf(cluster), []);
    assert.equal(a.store.placementsOf(cluster).size, 0);
    assert.equal(await a.store.clusters.fetch(cluster), null, 'a deleted cluster has no record');
  });
});

/** Waits (briefly) until `ok()` holds. */
async function until(ok: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`not within ${String(ms)} ms`);
    await sleep(20);
  }
}
