/**
 * One change of a node at a time, over the agent's real gRPC API (test driver): concurrent
 * EnsureNode calls of one node (a coordinator retrying a call that timed out while the first still
 * runs) bind its IPMI BMC once, and EnsureNode racing DeleteNode leaves either the node with one
 * BMC socket or neither, never a BMC socket without its node.
 */
import assert from 'node:assert/strict';
import { BootMode, type NodeSpec } from '../../proto/gen/tenks/v1/types.pb.js';
import { AgentClient, nodeSpec, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { udpSocketsOf, type UdpSocket } from '../helpers/net.js';
import { cleanupLibvirt, openLibvirt, suffix, TEST_URI } from './helpers.js';

const CONCURRENT = 8;

describe('agent: one change of a node at a time (test driver)', function () {
  const run = suffix();
  const pool = `tenks-it-ser-${run}`;
  const cluster = `ser-${run}`;
  let agent: TestAgent | undefined;
  let client: AgentClient | undefined;
  /** UDP sockets of this process before the agent made any BMC. */
  let before_: Set<string>;

  const c = (): AgentClient => {
    assert.ok(client, 'client not started');
    return client;
  };
  const spec = (name: string): NodeSpec => ({
    ...nodeSpec({ cluster, name, memoryMb: 128, bootMode: BootMode.BOOT_MODE_BIOS }),
    bmc: { ipmiEnabled: true, redfishEnabled: false, username: 'admin', password: 'secret-pw', ipmiPort: 0 },
  });
  /** UDP sockets this process opened since the agent started: the agent's IPMI BMCs. */
  const bmcSockets = async (): Promise<UdpSocket[]> =>
    (await udpSocketsOf('self')).filter((s) => !before_.has(s.inode));

  before(async function () {
    agent = await startTestAgent({ libvirt_uri: TEST_URI, storage: { pool_name: pool } });
    client = new AgentClient(agent.address);
    before_ = new Set((await udpSocketsOf('self')).map((s) => s.inode));
  });

  after(async function () {
    client?.close();
    const conn = await openLibvirt();
    await cleanupLibvirt(conn, { domainPart: run, pool });
    await conn.close();
    await agent?.stop();
  });

  it(`binds one IPMI socket for ${CONCURRENT} concurrent EnsureNode calls of one node`, async function () {
    for (let round = 0; round < 10; round++) {
      const name = `ser-a${round}-${run}`;
      const results = await Promise.all(Array.from({ length: CONCURRENT }, () => c().ensure(spec(name), 30_000)));
      const ports = new Set(results.map((r) => r.node?.bmc?.ipmi?.port));
      assert.equal(ports.size, 1, `round ${round}: every call reports the same BMC port: ${[...ports].join(', ')}`);
      const sockets = await bmcSockets();
      assert.deepEqual(
        sockets.map((s) => s.port),
        [...ports],
        `round ${round}: exactly one UDP socket, on the reported port`,
      );
      await c().delete({ cluster, name });
      assert.deepEqual(await bmcSockets(), [], `round ${round}: the BMC socket is closed with its node`);
    }
  });

  it('never leaves a BMC socket without its node when EnsureNode races DeleteNode', async function () {
    for (let round = 0; round < 5; round++) {
      const name = `ser-b${round}-${run}`;
      await Promise.allSettled(
        Array.from({ length: CONCURRENT }, (_, i) =>
          i % 2 === 0 ? c().ensure(spec(name), 30_000) : c().delete({ cluster, name }, 30_000),
        ),
      );
      const listed = (await c().list(cluster)).nodes.filter((n) => n.name === name);
      const sockets = await bmcSockets();
      if (listed.length === 0) assert.deepEqual(sockets, [], `round ${round}: a BMC socket outlived its node`);
      else
        assert.deepEqual(
          sockets.map((s) => s.port),
          [listed[0]?.bmc?.ipmi?.port],
          `round ${round}: the node has exactly its one BMC socket`,
        );
      await c().delete({ cluster, name });
      assert.deepEqual(await bmcSockets(), [], `round ${round}: the BMC socket is closed with its node`);
    }
  });
});
