/** The AgentService over a real gRPC socket, backed by libvirt's in-memory test driver. */
import assert from 'node:assert/strict';
import type { Connection } from '../../agent/native/index.js';
import { unaryCall } from '../../common/grpc/client.js';
import type { GetNodeResponse } from '../../proto/gen/tenks/v1/agent.pb.js';
import { BootMode, PowerAction, PowerState } from '../../proto/gen/tenks/v1/types.pb.js';
import { AgentClient, nodeSpec, startTestAgent, volume, type TestAgent } from '../helpers/agent.js';
import { cleanupLibvirt, openLibvirt, poolVolumeNames, rejectsWith, suffix, TEST_URI } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('agent gRPC service (test driver)', function () {
  const run = suffix();
  const pool = `tenks-it-grpc-${run}`;
  const cluster = `c-${run}`;
  const other = `o-${run}`;
  const name = `n-grpc-${run}`;
  const otherName = `m-grpc-${run}`;
  let conn: Connection | undefined;
  let agent: TestAgent | undefined;
  let client: AgentClient | undefined;

  const spec = (memoryMb = 128) =>
    nodeSpec({
      cluster,
      name,
      memoryMb,
      bootMode: BootMode.BOOT_MODE_BIOS,
      volumes: [volume({ capacity: '1GiB' })],
    });
  const c = (): AgentClient => {
    assert.ok(client, 'client not started');
    return client;
  };
  const getNode = (n: string) =>
    unaryCall<GetNodeResponse>(
      'agent',
      (m, o, cb) => c().raw.getNode({ node: { cluster, name: n, uuid: '' }, includeSecrets: false }, m, o, cb),
      { timeoutMs: 10_000 },
    );

  before(async function () {
    conn = await openLibvirt();
    agent = await startTestAgent({ libvirt_uri: TEST_URI, storage: { pool_name: pool } });
    client = new AgentClient(agent.address);
  });

  after(async function () {
    client?.close();
    if (conn) await cleanupLibvirt(conn, { domainPart: run, pool });
    await agent?.stop();
    await conn?.close();
  });

  it('reports host info', async function () {
    const { host } = await c().hostInfo();
    assert.ok(host);
    assert.equal(host.engine, 'qemu');
    assert.ok(host.cpus > 0, `cpus ${host.cpus}`);
    assert.equal(host.pool?.name, pool);
    assert.equal(host.pool.type, 'dir');
    assert.equal(host.libvirtUri, TEST_URI);
  });

  let uuid = '';

  it('creates a node, then finds nothing to change', async function () {
    const first = await c().ensure(spec());
    assert.equal(first.changed, true);
    const node = first.node;
    assert.ok(node, 'no node in the response');
    assert.match(node.uuid, UUID);
    uuid = node.uuid;
    assert.equal(node.name, name);
    assert.equal(node.cluster, cluster);
    assert.equal(node.powerState, PowerState.POWER_STATE_OFF);
    assert.deepEqual(
      node.volumes.map((v) => [v.name, v.capacityBytes]),
      [[`${name}-vol0`, 1024 ** 3]],
    );
    assert.deepEqual(await poolVolumeNames(conn!, pool), [`${name}-vol0`]);

    const second = await c().ensure(spec());
    assert.equal(second.changed, false);
    assert.deepEqual(second.changes, []);
    assert.equal(second.node?.uuid, uuid);
  });

  it('updates memory in place, keeping the UUID', async function () {
    const r = await c().ensure(spec(256));
    assert.equal(r.changed, true);
    assert.ok(
      r.changes.some((x) => x.includes('memory_mb')),
      `changes: ${JSON.stringify(r.changes)}`,
    );
    assert.equal(r.node?.uuid, uuid);
    assert.equal(r.node.memoryMb, 256);
    const again = await c().ensure(spec(256));
    assert.equal(again.changed, false);
  });

  it('lists nodes by cluster', async function () {
    await c().ensure(
      nodeSpec({ cluster: other, name: otherName, volumes: [volume({ name: 'root', capacity: '64MiB' })] }),
    );
    const mine = await c().list(cluster);
    assert.deepEqual(
      mine.nodes.map((n) => n.name),
      [name],
    );
    const theirs = await c().list(other);
    assert.deepEqual(
      theirs.nodes.map((n) => n.name),
      [otherName],
    );
    assert.deepEqual(
      theirs.nodes[0]?.volumes.map((v) => v.name),
      [`${otherName}-root`],
    );
    const all = await c().list('');
    const names = all.nodes.map((n) => n.name);
    assert.ok(names.includes(name) && names.includes(otherName), `all nodes: ${names.join(', ')}`);
    assert.equal((await c().list(`nobody-${run}`)).nodes.length, 0);
    const del = await c().delete({ cluster: other, name: otherName });
    assert.equal(del.existed, true);
  });

  it('powers a node on and off; reset of an off node is a CONFLICT', async function () {
    const ref = { cluster, name };
    const on = await c().power(ref, PowerAction.POWER_ACTION_ON);
    assert.equal(on.powerState, PowerState.POWER_STATE_ON);
    assert.equal(on.changed, true);
    const onAgain = await c().power(ref, PowerAction.POWER_ACTION_ON);
    assert.equal(onAgain.changed, false);
    const d = await conn!.domainByName(name);
    assert.equal(await d.isActive(), true);

    const off = await c().power(ref, PowerAction.POWER_ACTION_OFF);
    assert.equal(off.powerState, PowerState.POWER_STATE_OFF);
    assert.equal(off.changed, true);
    assert.equal(await d.isActive(), false);

    await rejectsWith(c().power(ref, PowerAction.POWER_ACTION_RESET), 'CONFLICT');
    await rejectsWith(c().power(ref, PowerAction.POWER_ACTION_UNSPECIFIED), 'INVALID_SPEC');
    await rejectsWith(c().power({ cluster, name: `missing-${run}` }, PowerAction.POWER_ACTION_ON), 'NOT_FOUND');
  });

  it('gets a node by name; a missing node is NOT_FOUND', async function () {
    const got = await getNode(name);
    assert.equal(got.node?.uuid, uuid);
    const err = await rejectsWith(getNode(`missing-${run}`), 'NOT_FOUND');
    assert.match(err.message, /missing-/);
  });

  it('deletes a node, and a second delete finds nothing', async function () {
    const first = await c().delete({ cluster, name });
    assert.equal(first.existed, true);
    assert.ok(
      first.removed.some((r) => r.includes(`${name}-vol0`)),
      `removed: ${JSON.stringify(first.removed)}`,
    );
    const second = await c().delete({ cluster, name });
    assert.equal(second.existed, false);
    assert.deepEqual(second.removed, []);
    assert.equal(await conn!.findDomain(name), null);
    assert.deepEqual(await poolVolumeNames(conn!, pool), []);
    await rejectsWith(getNode(name), 'NOT_FOUND');
    assert.equal((await c().list(cluster)).nodes.length, 0);
  });
});

describe('agent shutdown with an open event stream', function () {
  const run = suffix();

  it('ends WatchEvents streams cleanly instead of waiting out the grace period', async function () {
    const agent = await startTestAgent({ libvirt_uri: TEST_URI, storage: { pool_name: `tenks-it-stop-${run}` } });
    const client = new AgentClient(agent.address);
    try {
      const stream = client.watchEvents(`c-${run}`);
      const events: string[] = [];
      const ended = new Promise<number>((resolve, reject) => {
        stream.on('data', (e: { name: string }) => events.push(e.name));
        stream.on('status', (s: { code: number }) => {
          resolve(s.code);
        });
        stream.on('error', (e: Error & { code?: number }) => {
          // grpc-js emits 'error' for a non-OK status; the status code is checked below.
          if (typeof e.code !== 'number') reject(e);
        });
      });
      // The stream is live once it has delivered the DEFINED event of a node ensured after opening it.
      const spec = nodeSpec({ cluster: `c-${run}`, name: `n-stop-${run}`, volumes: [volume({ capacity: '1GiB' })] });
      for (let i = 0; i < 50 && events.length === 0; i++) {
        await client.ensure({ ...spec, labels: { try: String(i) } });
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(events.length > 0, 'no event arrived on the stream');
      await client.delete({ cluster: `c-${run}`, name: `n-stop-${run}` });
      const started = Date.now();
      await agent.daemon.stop(10_000);
      const tookMs = Date.now() - started;
      assert.equal(await ended, 0, 'the stream should end with status OK');
      assert.ok(tookMs < 5_000, `stop took ${tookMs} ms with a 10 s grace period`);
    } finally {
      client.close();
      await agent.stop();
    }
  });
});
