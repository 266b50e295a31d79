/**
 * Guest architectures across the stack, on libvirt's test driver, which runs x86_64 only: a real
 * nats-server, the coordinator in-process (its real daemon wiring) and a real agent on
 * test:///default. The agent reports what it runs in GetHostInfo and its heartbeats; the
 * coordinator refuses to place an aarch64 node there, naming the node, the architecture and what
 * the host runs, before any agent is asked to change anything; a placed node whose type becomes
 * aarch64 is refused, not turned into an x86 VM; and the agent itself refuses an aarch64 node.
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import type { Connection } from '../../agent/native/index.js';
import { nullLogger } from '../../common/index.js';
import { compileCoordinatorConfig } from '../../coordinator/config.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { CoordinatorDaemon } from '../../coordinator/daemon.js';
import type { OperationRecord } from '../../coordinator/state/records.js';
import { AgentClient, nodeSpec, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { BootMode } from '../../proto/gen/tenks/v1/types.pb.js';
import { cleanupLibvirt, domainNames, openLibvirt, rejectsWith, suffix, TEST_URI } from './helpers.js';
import { startNats, type TestNats } from './helpers-nats.js';

describe('guest architectures (real coordinator, NATS, agent on test:///default)', function () {
  this.timeout(120_000);
  const run = suffix();
  const pool = `tenks-it-arch-${run}`;
  const agentId = `arch-agent-${run}`;
  let nats: TestNats | undefined;
  let agent: TestAgent | undefined;
  let client: AgentClient | undefined;
  let daemon: CoordinatorDaemon | undefined;
  let conn: Connection | undefined;
  const clusters: string[] = [];

  before(async function () {
    conn = await openLibvirt();
    nats = await startNats();
    agent = await startTestAgent({
      agent_id: agentId,
      libvirt_uri: TEST_URI,
      storage: { pool_name: pool },
      nats: { servers: nats.url },
      heartbeat_interval_s: 0.5,
    });
    client = new AgentClient(agent.address);
    const config = compileCoordinatorConfig({
      coordinator_id: `arch-${run}`,
      listen: '127.0.0.1:0',
      insecure_loopback: true,
      nats: { servers: nats.url },
      retry_backoff_s: 0.1,
      shutdown_grace_s: 2,
      log_level: 'warn',
    });
    daemon = await CoordinatorDaemon.start(config, nullLogger);
    const c = daemon.coordinator;
    const deadline = Date.now() + 20_000;
    while (!c.agents().some((a) => a.id === agentId && a.alive)) {
      if (Date.now() > deadline) assert.fail('the agent never became alive at the coordinator');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async function () {
    if (daemon)
      for (const cluster of clusters)
        await daemon.coordinator
          .deleteCluster(cluster, true)
          .then((op) => daemon?.coordinator.parts.runner.wait(op.id))
          .catch(() => undefined);
    await daemon?.stop(2_000);
    client?.close();
    if (conn) await cleanupLibvirt(conn, { domainPart: run });
    await agent?.stop();
    await conn?.close();
    await nats?.stop();
  });

  function coordinator(): Coordinator {
    assert.ok(daemon);
    return daemon.coordinator;
  }

  async function finished(op: OperationRecord): Promise<OperationRecord> {
    await coordinator().parts.runner.wait(op.id);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const cur = coordinator().operation(op.id);
      if (cur.state !== 'pending' && cur.state !== 'running') return cur;
      if (Date.now() > deadline) assert.fail(`operation ${op.id} is still ${cur.state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const specOf = (cluster: string, o: { arch?: string; top?: Record<string, unknown> } = {}): string =>
    stringify({
      name: cluster,
      node_types: {
        tiny: {
          memory_mb: 64,
          vcpus: 1,
          volumes: [{ capacity: '16MiB' }],
          ...(o.arch === undefined ? {} : { arch: o.arch }),
        },
      },
      specs: [{ type: 'tiny', count: 1, node_name_prefix: `${cluster}-n` }],
      ...o.top,
    });

  it('reports the architectures the test driver runs: x86_64, with UEFI', async function () {
    assert.ok(client);
    const host = (await client.hostInfo()).host;
    assert.ok(host);
    assert.deepEqual(host.arches, ['x86_64']);
    assert.deepEqual(host.uefiArches, ['x86_64']);
    const seen = coordinator()
      .agents()
      .find((a) => a.id === agentId);
    assert.deepEqual(seen?.heartbeat.arches, ['x86_64'], 'in its heartbeat too');
  });

  it('fails an apply of an aarch64 node, naming the node, the architecture and the hosts, before changing anything', async function () {
    const cluster = `arm${run}`;
    clusters.push(cluster);
    for (const text of [
      specOf(cluster, { arch: 'aarch64' }),
      specOf(cluster, { top: { libvirt_vm_arch: 'aarch64' } }),
    ]) {
      const plan = await rejectsWith(coordinator().plan(text, 'spec.yaml'), 'CAPACITY');
      assert.match(
        plan.message,
        new RegExp(`node ${cluster}-n0 \\(type tiny\\): needs aarch64 but no hypervisor runs it`),
      );
      const op = await finished(await coordinator().apply(text, 'spec.yaml'));
      assert.equal(op.state, 'failed');
      assert.equal(op.errorCode, 'CAPACITY', op.errorMessage);
      assert.match(op.errorMessage, new RegExp(`node ${cluster}-n0 \\(type tiny\\): needs aarch64`));
      // The host list names every agent the coordinator knows with what it runs (other tests' agents
      // may be known to it only through this run's own NATS: there are none).
      assert.match(op.errorMessage, new RegExp(`no hypervisor runs it: ${agentId} runs x86_64$`, 'm'));
      assert.deepEqual(op.results, [], 'no step ran');
    }
    assert.ok(conn);
    assert.deepEqual(await domainNames(conn, `${cluster}-n`), []);
  });

  it('refuses to turn a placed x86_64 node into aarch64 on a host that cannot run it', async function () {
    const cluster = `x86${run}`;
    clusters.push(cluster);
    const first = await finished(await coordinator().apply(specOf(cluster), 'spec.yaml'));
    assert.equal(first.state, 'succeeded', `${first.errorCode}: ${first.errorMessage}`);
    assert.ok(conn);
    assert.deepEqual(await domainNames(conn, `${cluster}-n`), [`${cluster}-n0`]);
    const op = await finished(await coordinator().apply(specOf(cluster, { arch: 'aarch64' }), 'spec.yaml'));
    assert.equal(op.state, 'failed');
    assert.equal(op.errorCode, 'UNSUPPORTED', op.errorMessage);
    assert.match(
      op.errorMessage,
      new RegExp(`node ${cluster}-n0 \\(type tiny\\) needs aarch64 but stays on ${agentId}, which runs x86_64`),
    );
    assert.deepEqual(await domainNames(conn, `${cluster}-n`), [`${cluster}-n0`], 'the node is left as it was');
  });

  it('has the agent refuse an aarch64 node on a host that does not run it, naming the host', async function () {
    assert.ok(client);
    const err = await rejectsWith(
      client.ensure(
        nodeSpec({
          cluster: `agent${run}`,
          name: `agent${run}-n0`,
          arch: 'aarch64',
          bootMode: BootMode.BOOT_MODE_UEFI,
        }),
      ),
      'INVALID_SPEC',
    );
    assert.ok(
      err.details.some(
        (d) => d.field === 'node.arch' && d.message.includes('does not run aarch64 guests (it runs x86_64)'),
      ),
    );
    const bios = await rejectsWith(
      client.ensure(nodeSpec({ cluster: `agent${run}`, name: `agent${run}-n1`, arch: 'aarch64' })),
      'INVALID_SPEC',
    );
    assert.ok(bios.details.some((d) => d.field === 'node.boot_mode' && d.message.includes('no BIOS')));
    assert.ok(conn);
    assert.deepEqual(await domainNames(conn, `agent${run}`), []);
  });
});
