/** Bad node specs over gRPC: each is refused with the offending field named, and nothing is created. */
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from '../../agent/native/index.js';
import type { ErrorCode, TenksError } from '../../common/errors.js';
import type { BootMode, NodeSpec } from '../../proto/gen/tenks/v1/types.pb.js';
import { AgentClient, nodeSpec, startTestAgent, volume, type TestAgent } from '../helpers/agent.js';
import {
  cleanupLibvirt,
  domainNames,
  namesField,
  openLibvirt,
  poolVolumeNames,
  rejectsWith,
  suffix,
  TEST_URI,
} from './helpers.js';

/** A boot mode the proto does not define (sent as is on the wire). */
const UNKNOWN_BOOT_MODE = 7 as unknown as BootMode;

describe('agent refuses bad node specs (test driver)', function () {
  const run = suffix();
  const pool = `tenks-it-bad-${run}`;
  const cluster = `bad-${run}`;
  const name = `n-bad-${run}`;
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

  /** Ensures `spec`, expects `code` naming `field`, then checks the cluster and pool are still empty. */
  async function refused(spec: NodeSpec, code: ErrorCode, field: string): Promise<TenksError> {
    assert.ok(client && conn);
    const err = await rejectsWith(client.ensure(spec, 20_000), code);
    assert.ok(
      namesField(err, field),
      `error should name ${field}: field=${String(err.field)} details=${JSON.stringify(err.details)} message=${err.message}`,
    );
    assert.deepEqual(
      (await client.list(spec.cluster)).nodes.map((n) => n.name),
      [],
    );
    assert.deepEqual(await domainNames(conn, spec.name), []);
    assert.deepEqual(await poolVolumeNames(conn, pool), []);
    return err;
  }

  it('a capacity with an unknown unit', async function () {
    await refused(
      nodeSpec({ cluster, name, volumes: [volume({ capacity: '10XB' })] }),
      'INVALID_SPEC',
      'node.volumes[0].capacity',
    );
  });

  it('an unknown boot mode (enum value 7)', async function () {
    await refused(
      nodeSpec({ cluster, name, bootMode: UNKNOWN_BOOT_MODE, volumes: [volume({ capacity: '1GiB' })] }),
      'INVALID_SPEC',
      'node.boot_mode',
    );
  });

  it('a node name with a slash', async function () {
    await refused(
      nodeSpec({ cluster, name: 'a/b', volumes: [volume({ capacity: '1GiB' })] }),
      'INVALID_SPEC',
      'node.name',
    );
  });

  it('two volumes with the same name', async function () {
    await refused(
      nodeSpec({
        cluster,
        name,
        volumes: [volume({ name: 'data', capacity: '1GiB' }), volume({ name: 'data', capacity: '2GiB' })],
      }),
      'INVALID_SPEC',
      'node.volumes[1].name',
    );
  });

  it('an image that does not exist', async function () {
    assert.ok(agent);
    await refused(
      nodeSpec({
        cluster,
        name,
        volumes: [
          volume({ capacity: '1GiB', image: join(agent.dir, 'images', 'x.qcow2') }),
          volume({ capacity: '1GiB' }),
        ],
      }),
      'INVALID_SPEC',
      'node.volumes[0].image',
    );
  });

  it('host files outside allowed_image_dirs, directly, through a symlink or through ..', async function () {
    assert.ok(agent);
    const images = join(agent.dir, 'images');
    await mkdir(images, { recursive: true });
    await symlink('/etc', join(images, 'etc'));
    for (const [vol, field] of [
      [volume({ capacity: '1GiB', image: '/etc/shadow' }), 'node.volumes[0].image'],
      [volume({ capacity: '1GiB', image: join(images, 'etc', 'shadow') }), 'node.volumes[0].image'],
      [volume({ capacity: '1GiB', backingImage: `${images}/../state/x.qcow2` }), 'node.volumes[0].backing_image'],
      [volume({ existing: '/dev/sda' }), 'node.volumes[0].existing'],
    ] as const) {
      const err = await refused(nodeSpec({ cluster, name, volumes: [vol] }), 'PERMISSION', field);
      assert.ok(err.message.includes(images), `names the allowed directory: ${err.message}`);
    }
  });

  it('a node name already used in another cluster', async function () {
    assert.ok(client && conn);
    const owner = `owner-${run}`;
    const taken = `taken-${run}`;
    try {
      const first = await client.ensure(
        nodeSpec({ cluster: owner, name: taken, volumes: [volume({ capacity: '1GiB' })] }),
      );
      assert.equal(first.changed, true);
      const err = await rejectsWith(
        client.ensure(
          nodeSpec({ cluster, name: taken, volumes: [volume({ name: 'other', capacity: '1GiB' })] }),
          20_000,
        ),
        'ALREADY_EXISTS',
      );
      assert.ok(namesField(err, 'node.name'), `field=${String(err.field)} message=${err.message}`);
      assert.match(err.message, new RegExp(owner));
      assert.deepEqual(
        (await client.list(cluster)).nodes.map((n) => n.name),
        [],
      );
      // The owner's node is untouched: same volumes, nothing added for the second spec.
      assert.deepEqual(await poolVolumeNames(conn, pool), [`${taken}-vol0`]);
      const mine = await client.list(owner);
      assert.deepEqual(
        mine.nodes.map((n) => [n.name, n.cluster]),
        [[taken, owner]],
      );
    } finally {
      await client.delete({ cluster: owner, name: taken });
    }
    assert.deepEqual(await poolVolumeNames(conn, pool), []);
  });

  it('reports several errors of one spec at once', async function () {
    assert.ok(client && conn);
    const spec = nodeSpec({
      cluster,
      name: 'a/b',
      memoryMb: 1,
      vcpus: 0,
      bootMode: UNKNOWN_BOOT_MODE,
      volumes: [volume({ capacity: '10XB' })],
    });
    const err = await rejectsWith(client.ensure(spec, 20_000), 'INVALID_SPEC');
    const fields = err.details.map((d) => d.field);
    assert.ok(err.details.length >= 3, `details: ${JSON.stringify(err.details)}`);
    for (const f of ['node.name', 'node.memory_mb', 'node.vcpus', 'node.boot_mode', 'node.volumes[0].capacity'])
      assert.ok(fields.includes(f), `details should include ${f}: ${fields.join(', ')}`);
    assert.equal(err.field, fields[0]);
    for (const f of fields) assert.ok(err.message.includes(f), `message should mention ${f}`);
    assert.equal((await client.list(cluster)).nodes.length, 0);
    assert.deepEqual(await poolVolumeNames(conn, pool), []);
  });

  it('a dry run of a good spec creates nothing either', async function () {
    assert.ok(client && conn);
    const r = await client.ensure(nodeSpec({ cluster, name, volumes: [volume({ capacity: '1GiB' })] }), 20_000, true);
    assert.equal(r.changed, true);
    assert.deepEqual(r.changes, ['node created']);
    assert.equal((await client.list(cluster)).nodes.length, 0);
    assert.deepEqual(await domainNames(conn, name), []);
    assert.deepEqual(await poolVolumeNames(conn, pool), []);
  });
});
