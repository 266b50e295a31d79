/**
 * An agent that comes back after an outage is usable at once: a real coordinator and a real agent
 * (libvirt's test:///default) as child processes over mTLS, a real nats-server. The agent is killed
 * (-9) while the coordinator drives it, so the coordinator's channel to it fails and backs off; it
 * stays down for a minute; it is started again on the same address and an apply begins at once.
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
  startNats,
  waitForAgents,
  type Coordinator,
  type Daemon,
  type Nats,
  type Pki,
} from '../../bench/lib-stack.js';

const DOWN_MS = 60_000;

describe('an agent back from an outage', function () {
  this.timeout(300_000);
  const tag = Math.random().toString(36).slice(2, 8);
  const cluster = `ret-${tag}`;
  let stack: Stack;
  let nats: Nats;
  let pki: Pki;
  let coord: Coordinator;
  let agent: Daemon;
  let address = '';

  const spec = (count: number): string =>
    stringify({
      name: cluster,
      node_types: { small: { memory_mb: 64, vcpus: 1, volumes: [{ capacity: '16MiB' }], physical_networks: [] } },
      specs: [{ type: 'small', count, node_name_prefix: `ret${tag}-` }],
      default_boot_mode: 'bios',
      ipmi_username: 'admin',
      ipmi_password: 'secret-pw',
    });

  async function finish(op: Operation, timeoutMs = 120_000): Promise<Operation> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const o = await coord.api.getOperation(op.id);
      if (o.state >= OperationState.OPERATION_STATE_SUCCEEDED) return o;
      if (Date.now() > end) assert.fail(`operation ${op.id} did not end within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  const startTheAgent = (listen: string): Promise<Daemon> =>
    startAgent(stack, nats, pki, {
      id: `ag-${tag}`,
      libvirtUri: 'test:///default',
      poolName: `tenks-ret-${tag}`,
      ipmi: { start: 0, end: 0 },
      extra: { listen, heartbeat_interval_s: 0.5 },
    });

  before(async function () {
    stack = await Stack.create('tenks-ret-');
    nats = await startNats(stack);
    pki = await makePki(stack);
    // The coordinator's defaults for everything that decides how soon it reaches an agent again.
    coord = await startCoordinator(stack, nats, pki, { extra: { coordinator_id: `c-${tag}` } });
    agent = await startTheAgent('127.0.0.1:0');
    await waitForAgents(coord, [agent], [`ag-${tag}`]);
    address = (await coord.api.getAgents()).find((a) => a.id === `ag-${tag}`)?.address ?? '';
    assert.match(address, /^127\.0\.0\.1:\d+$/);
  });

  after(async function () {
    await stack.close();
  });

  it('takes an apply started right after its restart, although it was down 60 s', async function () {
    const first = await finish(await coord.api.apply(spec(2), 'spec.yaml'));
    assert.equal(first.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(first.results));

    // Killed while the coordinator believes it alive: an apply's calls fail and its channel backs off.
    process.kill(-agent.pid, 'SIGKILL');
    await agent.exited;
    const during = await finish(await coord.api.apply(spec(3), 'spec.yaml'));
    assert.notEqual(during.state, OperationState.OPERATION_STATE_SUCCEEDED);
    await sleep(DOWN_MS);

    agent = await startTheAgent(address);
    const op = await finish(await coord.api.apply(spec(3), 'spec.yaml'));
    assert.equal(
      op.state,
      OperationState.OPERATION_STATE_SUCCEEDED,
      `${op.errorMessage} ${JSON.stringify(op.results.filter((r) => !r.ok))}\n${coord.daemon.tail(2000)}`,
    );
    const nodes = await coord.api.getNodes(cluster);
    assert.deepEqual(
      nodes.map((n) => n.name).sort(),
      [0, 1, 2].map((i) => `ret${tag}-${i}`),
    );
  });
});
