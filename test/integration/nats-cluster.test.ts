/**
 * tenks on a 3-node NATS JetStream cluster (three nats-server processes on loopback, buckets with 3
 * replicas) with two coordinators and two agents (libvirt's test:///default), every daemon a child
 * process over mTLS. Mid-apply, one NATS node and the coordinator running the apply are killed
 * (-9): the other coordinator resumes the same operation, which succeeds, and no node is created
 * twice.
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { OperationState, type Operation } from '../../proto/gen/tenks/v1/coordinator.pb.js';
import {
  makePki,
  sleep,
  Stack,
  startAgent,
  startCoordinator,
  startNatsCluster,
  waitForAgents,
  type Coordinator,
  type Daemon,
  type NatsCluster,
  type Pki,
} from '../../bench/lib-stack.js';

describe('two coordinators on a 3-node NATS JetStream cluster', function () {
  this.timeout(300_000);
  const tag = Math.random().toString(36).slice(2, 7);
  const cluster = `nc-${tag}`;
  const COUNT = 24;
  let stack: Stack;
  let nats: NatsCluster;
  let pki: Pki;
  const coords: Coordinator[] = [];
  const agents: Daemon[] = [];
  /** `node created` log lines of the agents, by node. */
  const created = new Map<string, number>();

  const spec = (count: number): string =>
    stringify({
      name: cluster,
      node_types: { small: { memory_mb: 64, vcpus: 1, volumes: [{ capacity: '16MiB' }], physical_networks: [] } },
      specs: [{ type: 'small', count, node_name_prefix: `nc${tag}-` }],
      default_boot_mode: 'bios',
      ipmi_username: 'admin',
      ipmi_password: 'secret-pw',
    });

  async function finish(c: Coordinator, op: Operation, timeoutMs = 120_000): Promise<Operation> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const o = await c.api.getOperation(op.id).catch(() => null);
      if (o && o.state >= OperationState.OPERATION_STATE_SUCCEEDED) return o;
      if (Date.now() > end) assert.fail(`operation ${op.id} did not end within ${timeoutMs} ms: ${JSON.stringify(o)}`);
      await sleep(200);
    }
  }

  before(async function () {
    stack = await Stack.create('tenks-natsc-');
    nats = await startNatsCluster(stack, 3);
    pki = await makePki(stack);
    const natsConfig = { servers: nats.urls, replicas: 3 };
    for (const id of ['c1', 'c2'])
      coords.push(
        await startCoordinator(stack, { daemon: nats.servers[0]?.daemon as Daemon, url: nats.urls[0] ?? '' }, pki, {
          name: id,
          extra: {
            coordinator_id: `${id}-${tag}`,
            nats: natsConfig,
            operation_lease_s: 3,
            agent_timeout_s: 5,
            retry_backoff_s: 0.2,
            log_level: 'info',
          },
        }),
      );
    for (const id of ['a1', 'a2']) {
      const d = await startAgent(stack, { daemon: nats.servers[0]?.daemon as Daemon, url: nats.urls[0] ?? '' }, pki, {
        id: `${id}-${tag}`,
        libvirtUri: 'test:///default',
        poolName: `tenks-nc-${id}-${tag}`,
        ipmi: { start: 0, end: 0 },
        extra: { nats: natsConfig, heartbeat_interval_s: 0.5, log_level: 'info' },
      });
      d.onLine((l) => {
        if (!l.startsWith('{')) return;
        const j = JSON.parse(l) as { message?: string; cluster?: string; node?: string };
        if (j.message === 'node created' && j.cluster === cluster && j.node !== undefined)
          created.set(j.node, (created.get(j.node) ?? 0) + 1);
      });
      agents.push(d);
    }
    await waitForAgents(
      coords[0] as Coordinator,
      agents,
      ['a1', 'a2'].map((id) => `${id}-${tag}`),
    );
    await waitForAgents(
      coords[1] as Coordinator,
      agents,
      ['a1', 'a2'].map((id) => `${id}-${tag}`),
    );
  });

  after(async function () {
    await stack.close();
  });

  it('resumes an apply on the other coordinator when a NATS node and the applying coordinator die', async function () {
    const [c1, c2] = coords as [Coordinator, Coordinator];
    const op = await c1.api.apply(spec(COUNT), 'spec.yaml');
    // Mid-apply: some nodes exist.
    const t0 = Date.now();
    while (created.size === 0) {
      assert.ok(Date.now() - t0 < 60_000, 'no node created within 60 s');
      await sleep(20);
    }
    process.kill(-(nats.servers[0]?.daemon.pid ?? 0), 'SIGKILL');
    process.kill(-c1.daemon.pid, 'SIGKILL');
    await c1.daemon.exited;
    const done = await finish(c2, op);
    assert.equal(
      done.state,
      OperationState.OPERATION_STATE_SUCCEEDED,
      `${done.errorMessage} ${JSON.stringify(done.results.filter((r) => !r.ok))}\n${c2.daemon.tail(8000)}`,
    );
    assert.ok(
      done.warnings.some((w) => w.startsWith(`resumed by c2-${tag}`)),
      `resumed by the other coordinator: ${done.warnings.join('; ')}`,
    );
    const names = (await c2.api.getNodes(cluster)).map((n) => n.name).sort();
    assert.deepEqual(names, Array.from({ length: COUNT }, (_, i) => `nc${tag}-${String(i)}`).sort());
    assert.equal(created.size, COUNT);
    for (const [node, times] of created) assert.equal(times, 1, `${node} created ${String(times)} times`);
    assert.equal((await c2.api.plan(spec(COUNT), 'spec.yaml')).actions.length, 0);

    // The NATS node comes back; the cluster is deleted through it all.
    await nats.restart(0);
    const del = await finish(c2, await c2.api.deleteCluster(cluster));
    assert.equal(del.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(del.results.filter((r) => !r.ok)));
    assert.deepEqual(await c2.api.getNodes(cluster), []);
  });
});
