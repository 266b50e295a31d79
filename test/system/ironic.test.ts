/**
 * Enrolment against a REAL standalone Ironic 21.4 and Nova API (test/helpers/openstack.ts), with a
 * real agent on qemu:///system behind tenks' BMCs, driven through a real coordinator and NATS. A
 * counting proxy in front of Ironic tells how many writes each apply made.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CoordinatorWire } from '../../common/index.js';
import { OperationState, type Operation } from '../../proto/gen/tenks/v1/coordinator.pb.js';
import { startNats, type TestNats } from '../integration/helpers-nats.js';
import {
  IRONIC_LATEST,
  cloudsConfig,
  openstackPrerequisites,
  startIronic,
  startNova,
  writeClouds,
  type TestIronic,
  type TestNova,
} from '../helpers/openstack.js';
import { AgentProcess, cleanupLibvirt, clientCredentials, domState, run, suffix, virsh, waitUntil } from './helpers.js';

const ip = (...args: string[]): Promise<string> => run('ip', args);

interface Logged {
  method: string;
  path: string;
  body: string;
  /** For node DELETEs: whether the node's domain still existed then. */
  domainExisted?: boolean;
}

/** A proxy to Ironic that records every request; with `refuseNodeDeletes`, answers node DELETEs 403 itself. */
async function countingProxy(
  target: string,
  onDelete: (path: string) => boolean,
): Promise<{ url: string; log: Logged[]; refuseNodeDeletes: boolean; close: () => Promise<void> }> {
  const t = new URL(target);
  const log: Logged[] = [];
  const state = { refuseNodeDeletes: false };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: Logged = { method: req.method ?? 'GET', path: req.url ?? '/', body: body.toString() };
      const nodeDelete = entry.method === 'DELETE' && /^\/v1\/nodes\/[^/]+$/.test(entry.path);
      if (nodeDelete) entry.domainExisted = onDelete(entry.path);
      log.push(entry);
      if (nodeDelete && state.refuseNodeDeletes) {
        // As Ironic answers a role that may read nodes but not delete them.
        const faultstring = 'Access was denied to the following resource: baremetal:node:delete';
        res.writeHead(403, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({ error_message: JSON.stringify({ faultstring, faultcode: 'Client', debuginfo: null }) }),
        );
        return;
      }
      const up = request(
        {
          host: t.hostname,
          port: t.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, host: t.host },
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return {
    url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`,
    log,
    get refuseNodeDeletes() {
      return state.refuseNodeDeletes;
    },
    set refuseNodeDeletes(on: boolean) {
      state.refuseNodeDeletes = on;
    },
    close: () =>
      new Promise<void>((r) =>
        server.close(() => {
          r();
        }),
      ),
  };
}

describe('enrolment in a real Ironic and Nova (ipmi and redfish nodes on real QEMU)', function () {
  const tag = suffix().slice(0, 6);
  const cluster = `ir-${tag}`;
  const prefix = `ir${tag}-`;
  const bridge = `tki${tag}`;
  // Unique per run: the tenks bridge tb-<physnet> is host-wide, and other suites use physnet1.
  const physnet = `pn${tag}`;
  const pool = `tenks-ir-${tag}`;
  let skip: string | null = null;
  let dir: string;
  let nats: TestNats;
  let ironic: TestIronic;
  let nova: TestNova;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let agent: AgentProcess;
  let coord: AgentProcess;
  let api: CoordinatorWire;
  let apiReady = false;
  const stops: (() => Promise<unknown>)[] = [];
  const writes = (): Logged[] => proxy.log.filter((l) => l.method !== 'GET');

  /** A second cluster, only ever applied against an unreachable cloud (its own physnet, so its own bridge). */
  const other = { cluster: `${cluster}x`, prefix: `${prefix}x`, physnet: `${physnet}x` };
  const spec = (
    o: {
      ipmiCount?: number;
      traits?: string[];
      properties?: Record<string, unknown>;
      flavorName?: string;
      as?: typeof other;
    } = {},
  ): string =>
    stringify({
      name: o.as?.cluster ?? cluster,
      bridge_type: 'linuxbridge',
      physnet_mappings: { [o.as?.physnet ?? physnet]: bridge },
      node_types: {
        small: {
          memory_mb: 128,
          vcpus: 1,
          volumes: [{ capacity: '1GiB' }],
          physical_networks: [o.as?.physnet ?? physnet],
          boot_mode: 'bios',
        },
      },
      specs: [
        {
          type: 'small',
          count: o.ipmiCount ?? 1,
          node_name_prefix: `${o.as?.prefix ?? prefix}i`,
          ironic_driver: 'ipmi',
          ironic_config: {
            resource_class: 'baremetal',
            traits: o.traits ?? ['CUSTOM_TENKS'],
            properties: o.properties ?? { vendor: 'tenks' },
            boot_interface: 'pxe',
            deploy_interface: 'ramdisk',
            network_interface: 'noop',
          },
        },
        {
          type: 'small',
          count: 1,
          node_name_prefix: `${o.as?.prefix ?? prefix}r`,
          ironic_driver: 'redfish',
          ironic_config: { resource_class: 'baremetal', boot_interface: 'pxe', network_interface: 'noop' },
        },
      ],
      nova_flavors: [
        {
          resource_class: 'baremetal',
          node_type: 'small',
          name: o.flavorName ?? `bm-${tag}`,
          required_traits: ['CUSTOM_TENKS'],
        },
      ],
      ipmi_username: 'admin',
      ipmi_password: 'ipmi-pw-1',
      wait_for_placement: true,
      cloud: 'tenks-test',
    });

  const ironicGet = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${ironic.url}${path}`, { headers: IRONIC_LATEST });
    assert.equal(r.status, 200, `GET ${path}: ${await r.clone().text()}`);
    return (await r.json()) as T;
  };
  const ironicPut = async (path: string, body: unknown): Promise<void> => {
    const r = await fetch(`${ironic.url}${path}`, {
      method: 'PUT',
      headers: { ...IRONIC_LATEST, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.ok(r.status < 300, `PUT ${path}: ${r.status} ${await r.text()}`);
  };
  const ironicPatch = async (path: string, ops: unknown): Promise<void> => {
    const r = await fetch(`${ironic.url}${path}`, {
      method: 'PATCH',
      headers: { ...IRONIC_LATEST, 'Content-Type': 'application/json' },
      body: JSON.stringify(ops),
    });
    assert.ok(r.status < 300, `PATCH ${path}: ${r.status} ${await r.text()}`);
  };
  interface INode {
    uuid: string;
    name: string;
    driver: string;
    provision_state: string;
    target_provision_state: string | null;
    power_state: string | null;
    target_power_state: string | null;
    traits: string[];
    properties: Record<string, unknown>;
    last_error: string | null;
  }
  const ourNodes = async (): Promise<INode[]> =>
    (await ironicGet<{ nodes: INode[] }>('/v1/nodes/detail')).nodes
      .filter((n) => n.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  const waitNode = async (
    name: string,
    ok: (n: INode) => boolean,
    what: string,
    timeoutMs = 120_000,
  ): Promise<INode> => {
    let last: INode | null = null;
    await waitUntil(
      `${name}: ${what}`,
      async () => {
        last = await ironicGet<INode>(`/v1/nodes/${name}`);
        return ok(last);
      },
      timeoutMs,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}: last ${JSON.stringify(last)}`);
    });
    return last as unknown as INode;
  };
  async function finish(op: Operation, timeoutMs = 300_000): Promise<Operation> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const o = await api.getOperation(op.id);
      if (o.state >= OperationState.OPERATION_STATE_SUCCEEDED) return o;
      if (Date.now() > end) assert.fail(`operation ${op.id} did not end`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const applied = async (text: string): Promise<Operation> => {
    const op = await finish(await api.apply(text, 'spec.yaml'));
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(op.results.filter((r) => !r.ok)));
    return op;
  };

  before(async function () {
    const pre = await openstackPrerequisites();
    skip = [pre.ironic, pre.nova, pre.clients].filter((x) => x !== null).join('; ') || null;
    if (skip !== null) {
      console.log(`      skipping Ironic system test: ${skip}`);
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'tenks-ir-'));
    await run('chmod', ['711', dir]);
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('link', 'set', bridge, 'up');
    const [n, i, v] = await Promise.allSettled([startNats(), startIronic({ syncPowerStateIntervalS: 5 }), startNova()]);
    for (const r of [n, i, v]) if (r.status === 'fulfilled') stops.push(() => r.value.stop());
    for (const r of [n, i, v]) if (r.status === 'rejected') throw r.reason;
    if (n.status !== 'fulfilled' || i.status !== 'fulfilled' || v.status !== 'fulfilled') return;
    [nats, ironic, nova] = [n.value, i.value, v.value];
    proxy = await countingProxy(ironic.url, (path) => {
      // When Ironic is asked to delete a node, the VM must still be there.
      const uuid = path.split('/').pop() ?? '';
      try {
        execFileSync('virsh', ['-c', 'qemu:///system', 'domuuid', uuid], { stdio: 'ignore' });
        return true;
      } catch {
        return execFileSync('virsh', ['-c', 'qemu:///system', 'list', '--all', '--uuid'], {
          encoding: 'utf8',
        }).includes(uuid);
      }
    });
    stops.push(() => proxy.close());

    const clouds = await writeClouds(dir, { ironicUrl: proxy.url, novaUrl: nova.url });
    await run('bash', [
      join(process.cwd(), 'deploy/make-certs.sh'),
      join(dir, 'pki'),
      'agent',
      'coordinator',
      'client',
    ]);
    const tls = (name: string) => ({
      ca_file: join(dir, 'pki/ca.pem'),
      cert_file: join(dir, `pki/${name}.pem`),
      key_file: join(dir, `pki/${name}-key.pem`),
    });
    agent = await AgentProcess.spawn(join(dir, 'agent.yaml'), {
      agent_id: `ag-${tag}`,
      listen: '127.0.0.1:0',
      tls: tls('agent'),
      libvirt_uri: 'qemu:///system',
      storage: { pool_name: pool, pool_path: join(dir, 'pool') },
      log_directory: join(dir, 'log'),
      state_dir: join(dir, 'state'),
      bmc: { listen_address: '127.0.0.1', ipmi_port_range_start: 0, ipmi_port_range_end: 0, redfish_port: 0 },
      nats: { servers: nats.url },
      heartbeat_interval_s: 0.5,
      log_level: 'warn',
    });
    stops.push(() => agent.kill());

    coord = await AgentProcess.spawn(
      join(dir, 'coordinator.yaml'),
      {
        coordinator_id: `c-${tag}`,
        listen: '127.0.0.1:0',
        tls: tls('coordinator'),
        nats: { servers: nats.url },
        secrets_key_file: join(dir, 'coordinator-secrets.key'),
        openstack: { clouds_file: clouds },
        log_level: 'info',
      },
      { bin: 'bin/tenks-coordinator.js' },
    );
    stops.push(() => coord.kill());

    const port = await coord.listeningPort();
    api = new CoordinatorWire(`127.0.0.1:${port}`, await clientCredentials(join(dir, 'pki')), {}, 60_000);
    apiReady = true;
    await waitUntil(
      'the agent alive at the coordinator',
      async () => (await api.getAgents().catch(() => [])).some((a) => a.id === `ag-${tag}` && a.alive),
      90_000,
    );
  });

  after(async function () {
    if (skip !== null) return;
    if (apiReady) {
      for (const c of [cluster, other.cluster])
        await api
          .deleteCluster(c, true)
          .then((op) => finish(op).catch(() => undefined))
          .catch(() => undefined);
      api.close();
    }
    // What before() started, last first.
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await cleanupLibvirt({ domainPart: prefix, pool });
    for (const l of [`tb-${physnet}`, `ts-${physnet}`, `tb-${other.physnet}`, `ts-${other.physnet}`, bridge])
      await ip('link', 'del', l).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('enrols an ipmi and a redfish node to available, with ports and a flavor', async function () {
    const op = await applied(spec());
    assert.ok(op.results.some((r) => r.action === 'enrol' && r.ok));
    const nodes = await ourNodes();
    assert.deepEqual(
      nodes.map((n) => [n.name, n.driver, n.provision_state]),
      [
        [`${prefix}i0`, 'ipmi', 'available'],
        [`${prefix}r0`, 'redfish', 'available'],
      ],
    );
    const ipmiNode = nodes[0]!;
    assert.deepEqual(ipmiNode.traits, ['CUSTOM_TENKS']);
    assert.equal(ipmiNode.properties.vendor, 'tenks');
    assert.equal(ipmiNode.properties.memory_mb, 128);
    const tenksNodes = await api.getNodes(cluster);
    for (const n of nodes) {
      const ports = (
        await ironicGet<{
          ports: { address: string; physical_network: string; local_link_connection: Record<string, string> }[];
        }>(`/v1/ports/detail?node=${n.uuid}`)
      ).ports;
      const t = tenksNodes.find((x) => x.name === n.name)!;
      assert.equal(n.uuid, t.uuid, 'the Ironic node has the VM UUID');
      assert.deepEqual(
        ports.map((p) => p.address),
        [t.nics[0]!.mac],
      );
      assert.equal(ports[0]!.physical_network, physnet);
      assert.deepEqual(ports[0]!.local_link_connection, {
        switch_id: t.nics[0]!.bridgeMac,
        switch_info: t.nics[0]!.bridge,
        port_id: t.nics[0]!.switchPort,
      });
    }
    const flavors = (await (await fetch(`${nova.computeUrl}/flavors/detail`, { headers: nova.headers })).json()) as {
      flavors: { id: string; name: string; ram: number; disk: number }[];
    };
    const f = flavors.flavors.find((x) => x.name === `bm-${tag}`);
    assert.ok(f, 'flavor created');
    assert.deepEqual([f.ram, f.disk], [128, 2]);
    const specs = (await (
      await fetch(`${nova.computeUrl}/flavors/${f.id}/os-extra_specs`, { headers: nova.headers })
    ).json()) as { extra_specs: Record<string, string> };
    assert.deepEqual(specs.extra_specs, {
      'resources:CUSTOM_BAREMETAL': '1',
      'resources:VCPU': '0',
      'resources:MEMORY_MB': '0',
      'resources:DISK_GB': '0',
      'trait:CUSTOM_TENKS': 'required',
      'tenks:cluster': cluster,
    });
  });

  it('lets Ironic power each node on and off through tenks BMCs; libvirt agrees', async function () {
    for (const n of await ourNodes()) {
      await ironicPut(`/v1/nodes/${n.uuid}/states/power`, { target: 'power on' });
      await waitNode(n.name, (x) => x.power_state === 'power on' && x.target_power_state === null, 'powered on');
      assert.equal(await domState(n.name), 'running');
      await ironicPut(`/v1/nodes/${n.uuid}/states/power`, { target: 'power off' });
      await waitNode(n.name, (x) => x.power_state === 'power off' && x.target_power_state === null, 'powered off');
      await waitUntil(`${n.name} off in libvirt`, async () => (await domState(n.name)) === 'shut off');
    }
  });

  it("puts Ironic's boot device into the domain definition", async function () {
    for (const n of await ourNodes()) {
      await ironicPut(`/v1/nodes/${n.uuid}/management/boot_device`, { boot_device: 'disk', persistent: true });
      const xml = await virsh('dumpxml', '--inactive', n.name);
      assert.equal(/<boot dev='(\w+)'\/>/.exec(xml)?.[1], 'hd', `${n.name} boots from disk first`);
      const bd = await ironicGet<{ boot_device: string }>(`/v1/nodes/${n.uuid}/management/boot_device`);
      assert.equal(bd.boot_device, 'disk');
      await ironicPut(`/v1/nodes/${n.uuid}/management/boot_device`, { boot_device: 'pxe', persistent: true });
    }
  });

  it('deploys the ipmi node to active with the ramdisk interface and back to available', async function () {
    await writeFile(join(ironic.imagesDir, 'vmlinuz'), 'kernel');
    await writeFile(join(ironic.imagesDir, 'initrd'), 'initrd');
    const n = `${prefix}i0`;
    await ironicPatch(`/v1/nodes/${n}`, [
      {
        op: 'add',
        path: '/instance_info',
        value: { kernel: `file://${ironic.imagesDir}/vmlinuz`, ramdisk: `file://${ironic.imagesDir}/initrd` },
      },
    ]);
    await ironicPut(`/v1/nodes/${n}/states/provision`, { target: 'active' });
    await waitNode(n, (x) => x.provision_state === 'active' && x.target_provision_state === null, 'active', 180_000);
    assert.equal(await domState(n), 'running', 'Ironic booted the node');
    await ironicPut(`/v1/nodes/${n}/states/provision`, { target: 'deleted' });
    await waitNode(
      n,
      (x) => x.provision_state === 'available' && x.target_provision_state === null,
      'available again',
      180_000,
    );
    await waitUntil(`${n} off after undeploy`, async () => (await domState(n)) === 'shut off', 60_000);
    // Undeploy leaves instance_info behind; clear it so the spec's nodes are as tenks made them.
    await ironicPatch(`/v1/nodes/${n}`, [{ op: 'remove', path: '/instance_info' }]);
  });

  it('makes no Ironic write on a re-apply', async function () {
    const before = writes().length;
    const op = await applied(spec());
    assert.deepEqual(writes().slice(before), [], 'no POST/PATCH/PUT/DELETE');
    assert.ok(!op.results.some((r) => r.action === 'enrol'), JSON.stringify(op.results));
  });

  it('patches only what changed when traits and properties change', async function () {
    const before = writes().length;
    await applied(spec({ traits: ['CUSTOM_TENKS', 'CUSTOM_GOLD'], properties: { vendor: 'acme' } }));
    const w = writes().slice(before);
    const i0 = (await ourNodes())[0]!;
    assert.deepEqual(w.map((x) => `${x.method} ${x.path}`).sort(), [
      `PATCH /v1/nodes/${i0.uuid}`,
      `PUT /v1/nodes/${i0.uuid}/traits`,
    ]);
    const ops = JSON.parse(w.find((x) => x.method === 'PATCH')!.body) as { path: string }[];
    assert.deepEqual(
      ops.map((o) => o.path),
      ['/properties/vendor'],
    );
    assert.deepEqual((await ourNodes())[0]!.traits.sort(), ['CUSTOM_GOLD', 'CUSTOM_TENKS']);
  });

  it('takes a node out of Ironic before deleting its VM when the spec shrinks', async function () {
    await applied(spec({ ipmiCount: 2, traits: ['CUSTOM_TENKS', 'CUSTOM_GOLD'], properties: { vendor: 'acme' } }));
    assert.equal((await ourNodes()).length, 3);
    await applied(spec({ ipmiCount: 1, traits: ['CUSTOM_TENKS', 'CUSTOM_GOLD'], properties: { vendor: 'acme' } }));
    const del = proxy.log.filter((l) => l.method === 'DELETE' && l.path.startsWith('/v1/nodes/'));
    assert.equal(del.length, 1);
    assert.equal(del[0]!.domainExisted, true, 'the VM was still there when Ironic deleted the node');
    assert.deepEqual(
      (await ourNodes()).map((n) => n.name),
      [`${prefix}i0`, `${prefix}r0`],
    );
    assert.ok(!(await virsh('list', '--all', '--name')).includes(`${prefix}i1`));
  });

  /** Runs `f` against a second coordinator (same NATS state) that reads `clouds` instead. */
  async function withClouds<T>(
    name: string,
    clouds: Record<string, unknown>,
    f: (api2: CoordinatorWire, finish2: (op: Operation) => Promise<Operation>) => Promise<T>,
  ): Promise<T> {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'clouds.yaml'), stringify({ clouds: { 'tenks-test': clouds } }));
    const c2 = await AgentProcess.spawn(
      join(d, 'coordinator.yaml'),
      {
        coordinator_id: `${name}-${tag}`,
        listen: '127.0.0.1:0',
        tls: {
          ca_file: join(dir, 'pki/ca.pem'),
          cert_file: join(dir, 'pki/coordinator.pem'),
          key_file: join(dir, 'pki/coordinator-key.pem'),
        },
        nats: { servers: nats.url },
        // Coordinators sharing NATS share the key: each opens what the other sealed.
        secrets_key_file: join(dir, 'coordinator-secrets.key'),
        openstack: { clouds_file: join(d, 'clouds.yaml') },
        log_level: 'info',
      },
      { bin: 'bin/tenks-coordinator.js' },
    );
    const api2 = new CoordinatorWire(
      `127.0.0.1:${await c2.listeningPort()}`,
      await clientCredentials(join(dir, 'pki')),
      {},
      60_000,
    );
    try {
      await waitUntil(
        `the ${name} coordinator sees the agent`,
        async () => (await api2.getAgents().catch(() => [])).some((a) => a.alive),
        60_000,
      );
      return await f(api2, async (op) => {
        for (;;) {
          const o = await api2.getOperation(op.id);
          if (o.state >= OperationState.OPERATION_STATE_SUCCEEDED) return o;
          await new Promise((r) => setTimeout(r, 200));
        }
      });
    } finally {
      api2.close();
      await c2.kill();
    }
  }

  /** Applies `text` through a second coordinator that reads `clouds`. */
  const applyWithClouds = (name: string, clouds: Record<string, unknown>, text: string): Promise<Operation> =>
    withClouds(name, clouds, async (api2, finish2) => finish2(await api2.apply(text, 'spec.yaml')));

  const goodCloud = (): Record<string, unknown> =>
    cloudsConfig({ ironicUrl: proxy.url, novaUrl: nova.url }).clouds['tenks-test'] ?? {};

  const failures = (op: Operation, action: string): { node: string; code: string; message: string }[] =>
    op.results
      .filter((r) => r.action === action && !r.ok)
      .map((r) => ({ node: r.node, code: r.errorCode, message: r.errorMessage }));

  it('fails an apply against an unreachable Ironic before anything is created, naming the endpoint', async function () {
    const unreachable = { ...goodCloud(), baremetal_endpoint_override: 'http://127.0.0.1:9' };
    // A new cluster on a new physnet would need a host setup and two VMs; an existing one a third VM.
    for (const text of [spec({ as: other }), spec({ ipmiCount: 2 })]) {
      const op = await applyWithClouds('unreachable', unreachable, text);
      assert.equal(op.state, OperationState.OPERATION_STATE_FAILED);
      assert.equal(op.errorCode, 'UNAVAILABLE', op.errorMessage);
      assert.match(op.errorMessage, /^ironic at http:\/\/127\.0\.0\.1:9: /);
      assert.deepEqual(op.results, [], 'no step ran');
      assert.equal(op.actionsTotal, 0);
    }
    const domains = await virsh('list', '--all', '--name');
    assert.ok(!domains.includes(other.prefix), domains);
    assert.ok(!domains.includes(`${prefix}i1`), domains);
    await assert.rejects(ip('link', 'show', `tb-${other.physnet}`), 'no bridge was made for the new physnet');
  });

  it('reports bad Nova credentials on the flavor, naming it', async function () {
    // A non-admin noauth2 token: Nova refuses flavor writes (403). A new flavor name needs one.
    const op = await applyWithClouds(
      'nonadmin',
      { ...goodCloud(), auth: { token: 'demo:demo', endpoint: nova.url } },
      spec({ flavorName: `bm2-${tag}` }),
    );
    assert.equal(op.state, OperationState.OPERATION_STATE_FAILED);
    const fl = failures(op, 'flavor');
    assert.ok(fl.length > 0, JSON.stringify(op.results));
    assert.ok(
      fl.some((f) => f.code === 'PERMISSION' && f.node === `bm2-${tag}` && f.message.includes('flavor-manage:create')),
      JSON.stringify(fl),
    );
    assert.deepEqual(failures(op, 'enrol'), [], 'Ironic was reachable: the nodes stay enrolled');
  });

  it('refuses an Ironic capped below the microversion tenks needs, naming the setting', async function () {
    const op = await applyWithClouds('capped', { ...goodCloud(), baremetal_api_version: '1.40' }, spec());
    assert.equal(op.state, OperationState.OPERATION_STATE_FAILED);
    assert.deepEqual(op.results, [], 'refused before any step');
    // A setting below what tenks needs is the configuration's fault (a server that old is
    // UNSUPPORTED: test/unit/openstack-versions.test.ts).
    assert.equal(op.errorCode, 'INVALID_SPEC', op.errorMessage);
    assert.match(op.errorMessage, /1\.46/);
    assert.match(op.errorMessage, /baremetal_api_version/);
  });

  it('converges with the right cloud after those failures: nothing half-done is left', async function () {
    const op = await applied(spec());
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED);
    const nodes = await ourNodes();
    assert.deepEqual(nodes.map((n) => n.name).sort(), [`${prefix}i0`, `${prefix}r0`]);
    for (const n of nodes) assert.equal(n.provision_state, 'available');
    const flavors = (await (await fetch(`${nova.computeUrl}/flavors/detail`, { headers: nova.headers })).json()) as {
      flavors: { name: string }[];
    };
    const names = flavors.flavors.map((f) => f.name);
    assert.ok(names.includes(`bm-${tag}`) && !names.includes(`bm2-${tag}`), names.join());
    const before = writes().length;
    await applied(spec());
    assert.equal(writes().length, before, 'the next re-apply writes nothing');
  });

  it('tears down: flavors gone, Ironic empty of the cluster, then the VMs', async function () {
    const op = await finish(await api.deleteCluster(cluster));
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(op.results.filter((r) => !r.ok)));
    assert.deepEqual(await ourNodes(), []);
    const flavors = (await (await fetch(`${nova.computeUrl}/flavors/detail`, { headers: nova.headers })).json()) as {
      flavors: { name: string }[];
    };
    assert.ok(!flavors.flavors.some((f) => f.name === `bm-${tag}`));
    assert.ok(!(await virsh('list', '--all', '--name')).includes(prefix));
    for (const d of proxy.log.filter((l) => l.method === 'DELETE' && l.path.startsWith('/v1/nodes/')))
      assert.equal(d.domainExisted, true);
  });

  it('deletes a cluster whose cloud went away only with --force, naming what stays in Ironic and Nova', async function () {
    await applied(spec());
    const nodes = await ourNodes();
    assert.equal(nodes.length, 2);
    const gone = { ...goodCloud(), baremetal_endpoint_override: 'http://127.0.0.1:9' };
    const deletesBefore = proxy.log.filter((l) => l.method === 'DELETE').length;

    const refused = await withClouds('gone', gone, async (api2, finish2) => finish2(await api2.deleteCluster(cluster)));
    assert.equal(refused.state, OperationState.OPERATION_STATE_FAILED);
    assert.equal(refused.errorCode, 'UNAVAILABLE', refused.errorMessage);
    for (const n of nodes) assert.ok(refused.errorMessage.includes(`${n.name} (${n.uuid})`), refused.errorMessage);
    assert.ok(refused.errorMessage.includes(`flavor bm-${tag}`), refused.errorMessage);
    assert.match(refused.errorMessage, /127\.0\.0\.1:9/);
    assert.match(refused.errorMessage, /--force/);
    assert.deepEqual(refused.results, []);
    const domains = await virsh('list', '--all', '--name');
    for (const n of nodes) assert.ok(domains.includes(n.name), `${n.name} kept: Ironic still points at it`);

    const forced = await withClouds('gone', gone, async (api2, finish2) =>
      finish2(await api2.deleteCluster(cluster, true)),
    );
    assert.equal(forced.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(forced.results));
    const warned = forced.warnings.join('\n');
    for (const n of nodes) assert.ok(warned.includes(`${n.name} (${n.uuid})`), warned);
    assert.match(warned, /left in Ironic, not deleted there/);
    assert.match(warned, new RegExp(`left in Nova, not deleted there: flavor bm-${tag}`));
    assert.ok(!(await virsh('list', '--all', '--name')).includes(prefix), 'the VMs are gone');
    assert.equal((await api.getNodes(cluster)).length, 0);
    assert.equal(proxy.log.filter((l) => l.method === 'DELETE').length, deletesBefore, 'Ironic was not reached');
    assert.deepEqual(
      (await ourNodes()).map((n) => n.name),
      nodes.map((n) => n.name),
      'still in Ironic, as the warnings say',
    );

    // What --force left behind, removed by hand as the user would.
    for (const n of nodes) {
      const r = await fetch(`${ironic.url}/v1/nodes/${n.uuid}`, { method: 'DELETE', headers: IRONIC_LATEST });
      assert.equal(r.status, 204, await r.text());
    }
    const flavors = (await (await fetch(`${nova.computeUrl}/flavors/detail`, { headers: nova.headers })).json()) as {
      flavors: { id: string; name: string }[];
    };
    for (const f of flavors.flavors.filter((x) => x.name === `bm-${tag}`))
      await fetch(`${nova.computeUrl}/flavors/${f.id}`, { method: 'DELETE', headers: nova.headers });
  });

  it('with --force, deletes the VMs of nodes Ironic refuses to delete (a reader-only role), naming them', async function () {
    await applied(spec());
    const nodes = await ourNodes();
    assert.equal(nodes.length, 2);
    proxy.refuseNodeDeletes = true;
    try {
      const kept = await finish(await api.deleteCluster(cluster));
      assert.equal(kept.state, OperationState.OPERATION_STATE_FAILED);
      assert.deepEqual(
        failures(kept, 'unenrol').map((f) => f.code),
        ['PERMISSION', 'PERMISSION'],
        JSON.stringify(kept.results),
      );
      const domains = await virsh('list', '--all', '--name');
      for (const n of nodes) assert.ok(domains.includes(n.name), `${n.name} kept without --force`);

      const forced = await finish(await api.deleteCluster(cluster, true));
      assert.equal(forced.state, OperationState.OPERATION_STATE_FAILED, 'the refused unenrol steps are failures');
      assert.equal(failures(forced, 'unenrol').length, 2, JSON.stringify(forced.results));
      const warned = forced.warnings.join('\n');
      assert.match(warned, /left in Ironic, not deleted there .*their VMs deleted anyway \(--force\)/);
      for (const n of nodes) assert.ok(warned.includes(`${n.name} (${n.uuid})`), warned);
      assert.ok(!(await virsh('list', '--all', '--name')).includes(prefix), 'the VMs are gone');
      assert.equal((await ourNodes()).length, 2, 'still in Ironic, as the warning says');
    } finally {
      proxy.refuseNodeDeletes = false;
    }
    // The cluster is still known (the operation failed): a later delete finishes the job in Ironic.
    const done = await finish(await api.deleteCluster(cluster));
    assert.equal(done.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(done.results));
    assert.deepEqual(await ourNodes(), []);
  });
});
