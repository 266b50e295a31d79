/**
 * The Ironic adapter against a real standalone Ironic (Debian's `ironic` package: API and
 * conductor in one process, noauth, sqlite, no RPC), started by test/helpers/openstack.ts and
 * stopped afterwards: version negotiation, lists, a fake-hardware node through enrol → manage →
 * provide, ports, traits, maintenance, and Ironic's real error bodies. Skipped, saying why, when
 * Ironic is not installed.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nullLogger, TenksError } from '../../common/index.js';
import { connectOpenStack, type OpenStackConnection } from '../../coordinator/openstack/index.js';
import { openstackPrerequisites, startIronic, type TestIronic } from '../helpers/openstack.js';

async function rejection(p: Promise<unknown>): Promise<TenksError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('OpenStack adapters against a real Ironic', function () {
  this.timeout(60_000);
  let lab = '';
  let url = '';
  let ironic: TestIronic | null = null;
  let conn: OpenStackConnection | null = null;

  before(async function () {
    const missing = (await openstackPrerequisites()).ironic;
    if (missing !== null) {
      console.log(`      (skipped: ${missing})`);
      this.skip();
    }
    this.timeout(120_000);
    ironic = await startIronic({ syncPowerStateIntervalS: 60 });
    lab = ironic.dir;
    url = ironic.url;
    await writeFile(
      join(lab, 'clouds.yaml'),
      `clouds:\n  standalone:\n    auth_type: none\n    auth:\n      endpoint: ${url}\n  capped:\n    auth_type: none\n    baremetal_endpoint_override: ${url}/v1\n    baremetal_api_version: "1.60"\n`,
    );
    conn = await connectOpenStack(
      { cloud: 'standalone' },
      { env: {}, cwd: lab, searchDirs: [lab], log: nullLogger, ironicPollIntervalMs: 200 },
    );
  });

  after(async () => {
    conn?.close();
    await ironic?.stop();
  });

  it('negotiates 1.82 (or the configured cap), probes and lists', async () => {
    const api = conn?.ironic;
    assert.ok(api);
    assert.equal(api.microversion, '1.82');
    assert.equal(conn?.nova, null);
    await api.probe();
    assert.deepEqual(await api.listNodes(), []);
    assert.equal(await api.getNode('no-such-node'), null);
    const capped = await connectOpenStack(
      { cloud: 'capped' },
      { env: {}, cwd: lab, searchDirs: [lab], log: nullLogger },
    );
    try {
      assert.equal(capped.ironic?.microversion, '1.60');
      assert.equal(capped.ironic.supports('1.82'), false);
      await capped.ironic.probe();
      assert.deepEqual(await capped.ironic.listNodes(), []);
    } finally {
      capped.close();
    }
  });

  it('takes a fake-hardware node through enrol, manage and provide, with ports, traits and maintenance', async () => {
    const api = conn?.ironic;
    assert.ok(api);
    const node = await api.createNode({
      name: 'tk-real0',
      driver: 'fake-hardware',
      resource_class: 'baremetal',
      properties: { cpus: 1, memory_mb: 1024, local_gb: 10 },
    });
    try {
      assert.equal(node.provision_state, 'enroll');
      assert.equal(node.shard, null);
      assert.equal(node.conductor_group, '');
      assert.equal(node.deploy_interface, 'fake');
      await api.setTraits(node.uuid, ['CUSTOM_TENKS']);
      const patched = await api.patchNode('tk-real0', [{ op: 'add', path: '/extra/tenks', value: 'yes' }]);
      assert.deepEqual(patched.extra, { tenks: 'yes' });
      assert.deepEqual(patched.traits, ['CUSTOM_TENKS']);
      const port = await api.createPort({ node_uuid: node.uuid, address: '52:54:00:12:34:56', physical_network: 'p1' });
      assert.equal(port.physical_network, 'p1');
      assert.deepEqual(
        (await api.listPorts(node.uuid)).map((p) => p.address),
        ['52:54:00:12:34:56'],
      );
      await api.setProvisionState(node.uuid, 'manage');
      assert.equal((await api.waitForProvisionState(node.uuid, ['manageable'], 30_000)).provision_state, 'manageable');
      await api.setProvisionState(node.uuid, 'provide');
      assert.equal((await api.waitForProvisionState(node.uuid, ['available'], 30_000)).provision_state, 'available');
      await api.setMaintenance(node.uuid, true, 'tenks test');
      assert.equal((await api.getNode(node.uuid))?.maintenance, true);
      await api.setMaintenance(node.uuid, false);
      assert.equal((await api.getNode(node.uuid))?.maintenance, false);
      assert.deepEqual(
        (await api.listNodes()).map((n) => n.name),
        ['tk-real0'],
      );
      await api.deletePort(port.uuid);
    } finally {
      await api.deleteNode(node.uuid).catch(() => undefined);
    }
    assert.equal(await api.getNode('tk-real0'), null);
  });

  it("turns Ironic's error bodies into TenksErrors with its message", async () => {
    const api = conn?.ironic;
    assert.ok(api);
    const gone = await rejection(api.deleteNode('no-such-node'));
    assert.equal(gone.code, 'NOT_FOUND');
    assert.equal(
      gone.message,
      `ironic at ${url}: Node no-such-node could not be found. (DELETE /v1/nodes/no-such-node: 404)`,
    );
    const bad = await rejection(api.createNode({ name: 'tk-bad', driver: 'no-such-driver' }));
    assert.equal(bad.code, 'INVALID_SPEC', bad.message);
    assert.match(bad.message, /no-such-driver/);
    assert.doesNotMatch(bad.message, /faultstring|error_message/);
    const state = await rejection(api.setProvisionState('no-such-node', 'manage'));
    assert.equal(state.code, 'NOT_FOUND');
  });
});
