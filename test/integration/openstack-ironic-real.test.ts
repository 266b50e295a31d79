/**
 * The Ironic adapter against a real standalone Ironic (Debian's `ironic` package: API and
 * conductor in one process, noauth, sqlite, no RPC), started in a temp dir on a free port and
 * stopped afterwards: version negotiation, lists, a fake-hardware node through enrol → manage →
 * provide, ports, traits, maintenance, and Ironic's real error bodies. Skipped, saying why, when
 * Ironic is not installed.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nullLogger, TenksError } from '../../common/index.js';
import { connectOpenStack, type OpenStackConnection } from '../../coordinator/openstack/index.js';

const execFileAsync = promisify(execFile);
const IRONIC = '/usr/bin/ironic';
const DBSYNC = '/usr/bin/ironic-dbsync';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => {
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
  });
}

function ironicConf(lab: string, port: number): string {
  return `[DEFAULT]
auth_strategy = noauth
rpc_transport = none
host = 127.0.0.1
my_ip = 127.0.0.1
state_path = ${lab}/state
tempdir = ${lab}/tmp
pybasedir = /usr/lib/python3/dist-packages/ironic
enabled_hardware_types = ipmi,fake-hardware
enabled_bios_interfaces = fake,no-bios
enabled_boot_interfaces = fake,pxe
enabled_console_interfaces = fake,no-console
enabled_deploy_interfaces = fake,ramdisk,direct
enabled_inspect_interfaces = fake,no-inspect
enabled_management_interfaces = fake,ipmitool,noop
enabled_network_interfaces = noop
enabled_power_interfaces = fake,ipmitool
enabled_raid_interfaces = fake,no-raid
enabled_rescue_interfaces = fake,no-rescue
enabled_storage_interfaces = fake,noop
enabled_vendor_interfaces = fake,no-vendor
default_network_interface = noop
[api]
host_ip = 127.0.0.1
port = ${port}
api_workers = 1
[conductor]
automated_clean = false
sync_power_state_interval = 60
force_power_state_during_sync = false
[database]
connection = sqlite:///${lab}/ironic.db
[dhcp]
dhcp_provider = none
[pxe]
tftp_root = ${lab}/tftp
tftp_master_path = ${lab}/tftp_master
[deploy]
http_root = ${lab}/http
http_url = http://127.0.0.1:8088
fast_track = false
[oslo_concurrency]
lock_path = ${lab}/locks
[oslo_messaging_notifications]
driver = noop
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
`;
}

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
  let ironic: ChildProcess | null = null;
  let conn: OpenStackConnection | null = null;

  before(async function () {
    if (!existsSync(IRONIC) || !existsSync(DBSYNC)) {
      console.log(`      (skipped: ${IRONIC} is not installed; apt-get install ironic-api ironic-conductor)`);
      this.skip();
    }
    lab = await mkdtemp(join(tmpdir(), 'tenks-ironic-'));
    for (const d of ['state', 'tmp', 'tftp', 'tftp_master', 'http', 'locks']) await mkdir(join(lab, d));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const conf = join(lab, 'ironic.conf');
    await writeFile(conf, ironicConf(lab, port));
    await execFileAsync(DBSYNC, ['--config-file', conf, 'create_schema'], { cwd: lab });
    const log = await open(join(lab, 'ironic.log'), 'w');
    // Its own process group, so stopping it stops every child it forks.
    ironic = spawn(IRONIC, ['--config-file', conf], { cwd: lab, detached: true, stdio: ['ignore', log.fd, log.fd] });
    await log.close();
    const deadline = Date.now() + 40_000;
    for (;;) {
      try {
        const r = await fetch(`${url}/v1/conductors`, { headers: { 'X-OpenStack-Ironic-API-Version': 'latest' } });
        const body = (await r.json()) as { conductors?: { alive?: boolean }[] };
        if (body.conductors?.some((c) => c.alive === true)) break;
      } catch {
        // not listening yet
      }
      if (ironic.exitCode !== null || Date.now() > deadline) {
        const tail = (await readFile(join(lab, 'ironic.log'), 'utf8')).split('\n').slice(-15).join('\n');
        assert.fail(`ironic did not come up:\n${tail}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
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
    const p = ironic;
    if (p?.pid !== undefined && p.exitCode === null) {
      const exited = new Promise((resolve) => p.once('exit', resolve));
      process.kill(-p.pid, 'SIGTERM');
      const t = setTimeout(() => {
        if (p.pid !== undefined && p.exitCode === null) process.kill(-p.pid, 'SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(t);
    }
    if (lab !== '') await rm(lab, { recursive: true, force: true });
  });

  it('negotiates 1.82 (or the configured cap) and lists', async () => {
    const api = conn?.ironic;
    assert.ok(api);
    assert.equal(api.microversion, '1.82');
    assert.equal(conn?.nova, null);
    assert.deepEqual(await api.listNodes(), []);
    assert.equal(await api.getNode('no-such-node'), null);
    const capped = await connectOpenStack(
      { cloud: 'capped' },
      { env: {}, cwd: lab, searchDirs: [lab], log: nullLogger },
    );
    try {
      assert.equal(capped.ironic?.microversion, '1.60');
      assert.equal(capped.ironic.supports('1.82'), false);
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
