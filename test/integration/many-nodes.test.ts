/** Hundreds of nodes through gRPC with bounded concurrency: idempotent, listed, deleted, and not quadratic. */
import assert from 'node:assert/strict';
import type { Connection } from '../../agent/native/index.js';
import { AgentClient, nodeSpec, startTestAgent, volume, type TestAgent } from '../helpers/agent.js';
import { cleanupLibvirt, openLibvirt, poolVolumeNames, suffix, TEST_URI } from './helpers.js';

const COUNT = 300;
const BATCH = 100;
const IN_FLIGHT = 16;

/** Runs `fn` on every item with at most `limit` calls in flight; rejects on the first failure. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

describe(`many nodes (${COUNT}, test driver)`, function () {
  const run = suffix();
  const pool = `tenks-it-many-${run}`;
  const cluster = `many-${run}`;
  const names = Array.from({ length: COUNT }, (_, i) => `n${String(i).padStart(3, '0')}-${run}`);
  const spec = (name: string) => nodeSpec({ cluster, name, volumes: [volume({ capacity: '64MiB' })] });
  let conn: Connection | undefined;
  let agent: TestAgent | undefined;
  let client: AgentClient | undefined;

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

  it('ensures, re-ensures, lists and deletes them all', async function () {
    assert.ok(client && conn);
    const c = client;
    const batches = [names.slice(0, BATCH), names.slice(BATCH, COUNT - BATCH), names.slice(COUNT - BATCH)];
    const times: number[] = [];
    for (const batch of batches) {
      const t0 = performance.now();
      const results = await mapLimit(batch, IN_FLIGHT, (n) => c.ensure(spec(n), 30_000));
      times.push(performance.now() - t0);
      assert.ok(
        results.every((r) => r.changed),
        'every first ensure changes something',
      );
    }
    const [first = 0, , last = 0] = times;
    console.log(
      `      ensure batches of ${BATCH}: first ${first.toFixed(0)} ms, last ${last.toFixed(0)} ms (${IN_FLIGHT} in flight)`,
    );
    assert.ok(
      last <= 4 * first + 2000,
      `last ${BATCH} ensures took ${last.toFixed(0)} ms, over 4x the first (${first.toFixed(0)} ms) + 2 s`,
    );

    const again = await mapLimit(names, IN_FLIGHT, (n) => c.ensure(spec(n), 30_000));
    const changed = again.filter((r) => r.changed).map((r) => r.node?.name);
    assert.deepEqual(changed, [], 'a second ensure of the same spec changes nothing');

    const listed = await c.list(cluster, 30_000);
    assert.equal(listed.nodes.length, COUNT);
    assert.deepEqual(
      listed.nodes.map((n) => n.name),
      [...names].sort(),
    );
    assert.ok(listed.nodes.every((n) => n.volumes.length === 1));
    assert.equal((await poolVolumeNames(conn, pool)).length, COUNT);

    const deleted = await mapLimit(names, IN_FLIGHT, (n) => c.delete({ cluster, name: n }, 30_000));
    assert.ok(deleted.every((d) => d.existed));
    assert.equal((await c.list(cluster, 30_000)).nodes.length, 0);
    assert.deepEqual(await poolVolumeNames(conn, pool), []);
  });
});
