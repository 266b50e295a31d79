/**
 * The real-OpenStack test harness (test/helpers/openstack.ts) against itself, and tenksctl's
 * ironic export against the real client: a standalone Ironic and Nova's flavor API started as
 * child processes, driven over plain REST (fetch) and with the real `baremetal` / `openstack`
 * clients. Skipped, with the reason printed, where the Debian packages are not installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { renderExport } from '../../cli/export.js';
import { parseClusterSpec } from '../../common/index.js';
import { NodeStatus } from '../../proto/gen/tenks/v1/types.pb.js';
import { nodeStatusFromPb } from '../../common/grpc/agent-messages.js';
import {
  CLIENTS,
  IRONIC_LATEST,
  openstackPrerequisites,
  startIronic,
  startNova,
  writeClouds,
  type TestIronic,
  type TestNova,
} from '../helpers/openstack.js';

const PYTHON = '/usr/bin/python3';

interface IronicNodeJson {
  uuid: string;
  name: string;
  provision_state: string;
  target_provision_state: string | null;
  power_state: string | null;
  last_error: string | null;
  instance_info: Record<string, unknown>;
}

/** One Ironic REST call; throws with status and body unless 2xx. */
async function ironicCall<T>(ironic: TestIronic, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${ironic.url}${path}`, {
    method,
    headers: { ...IRONIC_LATEST, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}

/** Requests a provision state change and waits until it settles; resolves with the node. */
async function provision(
  ironic: TestIronic,
  node: string,
  target: string,
  timeoutMs = 60_000,
): Promise<IronicNodeJson> {
  await ironicCall(ironic, 'PUT', `/v1/nodes/${node}/states/provision`, { target });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await ironicCall<IronicNodeJson>(ironic, 'GET', `/v1/nodes/${node}`);
    if (n.target_provision_state === null) return n;
    if (Date.now() > deadline) throw new Error(`${node}: still ${n.provision_state} → ${n.target_provision_state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function client(bin: string, args: readonly string[], cloudsFile: string, cloud = 'tenks-test'): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      bin,
      ['--os-cloud', cloud, ...args],
      { timeout: 120_000, env: { ...process.env, OS_CLIENT_CONFIG_FILE: cloudsFile } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** pyghmi's BMC (bench/pyghmi_bmc.py) on a free UDP port of 127.0.0.1. */
async function startPyghmiBmc(password: string): Promise<{ port: number; stop: () => void }> {
  const child: ChildProcess = spawn(
    PYTHON,
    [join(import.meta.dirname, '../../bench/pyghmi_bmc.py'), '--port', '0', '--password', password],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stop = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', stop);
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const m = /^READY (\d+)$/.exec(line);
    if (m) return { port: Number(m[1]), stop };
  }
  throw new Error('pyghmi BMC exited before it was ready');
}

async function pyghmiAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(PYTHON, ['-c', 'import pyghmi.ipmi.bmc'], (err) => {
      resolve(err === null);
    });
  });
}

/** Runs `f` and resolves with its result and the time it took. */
async function timed<T>(f: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await f;
  return { value, ms: Date.now() - t0 };
}

const MB = 1024 * 1024;

describe('real Ironic and Nova (test/helpers/openstack.ts)', function () {
  this.timeout(300_000);
  let ironic: TestIronic | null = null;
  let nova: TestNova | null = null;
  let dir = '';
  let cloudsFile = '';

  before(async function () {
    const pre = await openstackPrerequisites();
    const reason = pre.ironic ?? pre.nova;
    if (reason !== null) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'tenks-os-harness-'));
    const [i, n] = await Promise.allSettled([timed(startIronic()), timed(startNova())]);
    if (i.status === 'fulfilled') ironic = i.value.value;
    if (n.status === 'fulfilled') nova = n.value.value;
    if (i.status === 'rejected') throw i.reason;
    if (n.status === 'rejected') throw n.reason;
    const [ri, rn] = await Promise.all([i.value.value.rssBytes(), n.value.value.rssBytes()]);
    console.log(
      `      started together: ironic in ${(i.value.ms / 1000).toFixed(1)} s (RSS ${(ri / MB).toFixed(0)} MB), ` +
        `nova-api in ${(n.value.ms / 1000).toFixed(1)} s (RSS ${(rn / MB).toFixed(0)} MB)`,
    );
    cloudsFile = await writeClouds(dir, { ironicUrl: i.value.value.url, novaUrl: n.value.value.url });
  });

  after(async function () {
    const i = ironic;
    const n = nova;
    await Promise.all([i?.stop(), n?.stop()]);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
    for (const d of [i?.dir, n?.dir])
      if (d !== undefined) await assert.rejects(access(d), { code: 'ENOENT' }, `${d} removed by stop()`);
  });

  it('answers GET /v1/conductors with one alive conductor, API 1.82', async function () {
    const c = await ironicCall<{ conductors: { hostname: string; alive: boolean }[] }>(
      ironic!,
      'GET',
      '/v1/conductors',
    );
    assert.deepEqual(
      c.conductors.map((x) => x.alive),
      [true],
    );
    const root = await ironicCall<{ default_version: { version: string } }>(ironic!, 'GET', '/');
    assert.equal(root.default_version.version, '1.82');
  });

  it('enrols a fake-hardware node, deploys it with the ramdisk deploy interface and undeploys it', async function () {
    const ir = ironic!;
    await writeFile(join(ir.imagesDir, 'vmlinuz'), 'not really a kernel');
    await writeFile(join(ir.imagesDir, 'initrd'), 'not really a ramdisk');
    const node = await ironicCall<IronicNodeJson>(ir, 'POST', '/v1/nodes', {
      name: 'fake0',
      driver: 'fake-hardware',
      // The ramdisk deploy needs a boot interface with `ramdisk_boot`: fake has none, pxe has.
      boot_interface: 'pxe',
      deploy_interface: 'ramdisk',
      properties: { cpus: 1, memory_mb: 1024, local_gb: 10, cpu_arch: 'x86_64' },
      resource_class: 'baremetal',
    });
    try {
      assert.equal(node.provision_state, 'enroll');
      // pxe validation wants a port.
      await ironicCall(ir, 'POST', '/v1/ports', {
        node_uuid: node.uuid,
        address: '52:54:00:12:34:56',
        physical_network: 'physnet1',
      });
      assert.equal((await provision(ir, 'fake0', 'manage')).provision_state, 'manageable');
      const available = await provision(ir, 'fake0', 'provide');
      assert.equal(available.provision_state, 'available', String(available.last_error));

      await ironicCall(ir, 'PATCH', '/v1/nodes/fake0', [
        {
          op: 'add',
          path: '/instance_info',
          value: { kernel: `file://${ir.imagesDir}/vmlinuz`, ramdisk: `file://${ir.imagesDir}/initrd` },
        },
      ]);
      const active = await provision(ir, 'fake0', 'active');
      assert.equal(active.provision_state, 'active', String(active.last_error));
      assert.equal(active.power_state, 'power on');
      const back = await provision(ir, 'fake0', 'deleted');
      assert.equal(back.provision_state, 'available', String(back.last_error));
      assert.equal(back.power_state, 'power off');
      assert.deepEqual(back.instance_info, {});
    } finally {
      await ironicCall(ir, 'DELETE', `/v1/nodes/${node.uuid}`);
    }
  });

  it('takes an ipmi node on a pyghmi BMC at 127.0.0.1 to available, active and back', async function () {
    if (!(await pyghmiAvailable())) {
      console.log('      skipped: python3-pyghmi is not installed');
      this.skip();
    }
    const ir = ironic!;
    const bmc = await startPyghmiBmc('pyghmi-pass');
    try {
      await writeFile(join(ir.imagesDir, 'vmlinuz'), 'kernel');
      await writeFile(join(ir.imagesDir, 'initrd'), 'ramdisk');
      const node = await ironicCall<IronicNodeJson>(ir, 'POST', '/v1/nodes', {
        name: 'ipmi0',
        driver: 'ipmi',
        boot_interface: 'pxe',
        deploy_interface: 'ramdisk',
        driver_info: {
          ipmi_address: '127.0.0.1',
          ipmi_port: bmc.port,
          ipmi_username: 'admin',
          ipmi_password: 'pyghmi-pass',
        },
        properties: { cpus: 1, memory_mb: 1024, local_gb: 10, cpu_arch: 'x86_64' },
        resource_class: 'baremetal',
        instance_info: { kernel: `file://${ir.imagesDir}/vmlinuz`, ramdisk: `file://${ir.imagesDir}/initrd` },
      });
      try {
        await ironicCall(ir, 'POST', '/v1/ports', { node_uuid: node.uuid, address: '52:54:00:12:34:57' });
        const steps: string[] = [];
        for (const [target, state] of [
          ['manage', 'manageable'],
          ['provide', 'available'],
          ['active', 'active'],
          ['deleted', 'available'],
        ] as const) {
          const t0 = Date.now();
          const n = await provision(ir, 'ipmi0', target);
          assert.equal(n.provision_state, state, `${target}: ${String(n.last_error)}`);
          steps.push(`${target} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        }
        console.log(`      ipmi: ${steps.join(', ')}`);
      } finally {
        await ironicCall(ir, 'DELETE', `/v1/nodes/${node.uuid}`);
      }
    } finally {
      bmc.stop();
    }
  });

  it('creates a Nova flavor with extra specs and reads it back', async function () {
    const nv = nova!;
    const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const r = await fetch(`${nv.computeUrl}${path}`, {
        method,
        headers: { ...nv.headers, 'Content-Type': 'application/json', 'OpenStack-API-Version': 'compute 2.61' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(20_000),
      });
      const text = await r.text();
      if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text}`);
      return (text === '' ? null : JSON.parse(text)) as T;
    };
    await call('POST', '/flavors', { flavor: { name: 'bm-small', id: 'bm-small', ram: 1024, vcpus: 1, disk: 10 } });
    const specs = { 'resources:CUSTOM_BAREMETAL': '1', 'resources:VCPU': '0', 'trait:CUSTOM_X': 'required' };
    await call('POST', '/flavors/bm-small/os-extra_specs', { extra_specs: specs });
    const f = await call<{ flavor: { name: string; ram: number; extra_specs: Record<string, string> } }>(
      'GET',
      '/flavors/bm-small',
    );
    assert.equal(f.flavor.name, 'bm-small');
    assert.equal(f.flavor.ram, 1024);
    assert.deepEqual(f.flavor.extra_specs, specs);
  });

  it('writes a clouds.yaml that the real openstack and baremetal clients accept', async function () {
    const pre = await openstackPrerequisites();
    if (pre.clients !== null) {
      console.log(`      skipped: ${pre.clients}`);
      this.skip();
    }
    const flavors = await client(CLIENTS.openstack, ['flavor', 'list', '-f', 'json'], cloudsFile);
    assert.equal(flavors.code, 0, flavors.stderr);
    assert.ok((JSON.parse(flavors.stdout) as { Name: string }[]).some((f) => f.Name === 'bm-small'));
    const nodes = await client(CLIENTS.baremetal, ['node', 'list', '-f', 'json'], cloudsFile);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.deepEqual(JSON.parse(nodes.stdout), []);
    const alone = await client(CLIENTS.baremetal, ['driver', 'list', '-f', 'json'], cloudsFile, 'ironic');
    assert.equal(alone.code, 0, alone.stderr);
    assert.deepEqual(
      (JSON.parse(alone.stdout) as { 'Supported driver(s)': string }[]).map((d) => d['Supported driver(s)']).sort(),
      ['fake-hardware', 'ipmi', 'redfish'],
    );
  });

  it("has `baremetal create` accept tenksctl's ironic export: nodes and ports as exported", async function () {
    const pre = await openstackPrerequisites();
    if (pre.clients !== null) {
      console.log(`      skipped: ${pre.clients}`);
      this.skip();
    }
    const spec = parseClusterSpec(
      `
name: exp
ipmi_username: admin
ipmi_password: export-pass
deploy_kernel: http://127.0.0.1:8080/ipa.kernel
deploy_ramdisk: http://127.0.0.1:8080/ipa.initramfs
node_types:
  t:
    memory_mb: 1024
    vcpus: 1
    volumes: [{ capacity: 10GiB }]
    physical_networks: [physnet1, physnet2]
specs:
  - type: t
    count: 2
    node_name_prefix: ex
    ironic_config: { resource_class: baremetal, traits: [CUSTOM_TENKS], deploy_interface: ramdisk }
  - type: t
    count: 1
    node_name_prefix: exr
    ironic_driver: redfish
    ironic_config: { resource_class: baremetal }
`,
      'export fixture',
    ).spec;
    const uuids = [
      'aaaaaaaa-0000-4000-8000-000000000000',
      'aaaaaaaa-0000-4000-8000-000000000001',
      'bbbbbbbb-0000-4000-8000-000000000000',
    ];
    const statuses = ['ex0', 'ex1', 'exr0'].map((name, i) =>
      NodeStatus.fromPartial({
        cluster: 'exp',
        name,
        uuid: uuids[i]!,
        hypervisor: 'hv1',
        nics: [1, 2].map((k) => ({
          physnet: `physnet${k}`,
          // All-decimal MACs: PyYAML reads them as base-60 integers unless quoted.
          mac: `52:54:00:10:0${i}:0${k}`,
          bridge: `brexp-physnet${k}`,
          bridgeMac: `52:54:00:ff:00:0${k}`,
          switchPort: `exp${i}p${k}`,
        })),
        bmc: {
          ipmi: { address: '127.0.0.1', port: 6230 + i, username: 'admin', password: 'export-pass' },
          redfish: { url: 'http://127.0.0.1:8000', systemId: `/redfish/v1/Systems/${uuids[i]!}`, username: 'admin' },
        },
      }),
    );
    const out = renderExport('ironic', spec, statuses.map(nodeStatusFromPb));
    const file = join(dir, 'exp-nodes.yaml');
    await writeFile(file, out.text, { mode: 0o600 });
    const created = await client(CLIENTS.baremetal, ['create', file], cloudsFile);
    try {
      assert.equal(created.code, 0, created.stderr + created.stdout);
      const list = await client(
        CLIENTS.baremetal,
        ['node', 'list', '-f', 'json', '--fields', 'uuid', 'name', 'driver', 'resource_class', 'provision_state'],
        cloudsFile,
      );
      assert.equal(list.code, 0, list.stderr);
      const nodes = (
        JSON.parse(list.stdout) as {
          UUID: string;
          Name: string;
          Driver: string;
          'Resource Class': string;
          'Provisioning State': string;
        }[]
      )
        .filter((n) => n.Name.startsWith('ex'))
        .sort((a, b) => (a.Name < b.Name ? -1 : 1));
      assert.deepEqual(
        nodes.map((n) => [n.Name, n.UUID, n.Driver, n['Resource Class'], n['Provisioning State']]),
        [
          ['ex0', uuids[0], 'ipmi', 'baremetal', 'enroll'],
          ['ex1', uuids[1], 'ipmi', 'baremetal', 'enroll'],
          ['exr0', uuids[2], 'redfish', 'baremetal', 'enroll'],
        ],
      );
      const shown = await client(CLIENTS.baremetal, ['node', 'show', 'ex0', '-f', 'json'], cloudsFile);
      const ex0 = JSON.parse(shown.stdout) as Record<string, unknown>;
      assert.equal(ex0.deploy_interface, 'ramdisk');
      assert.deepEqual(ex0.driver_info, {
        ipmi_address: '127.0.0.1',
        ipmi_port: 6230,
        ipmi_username: 'admin',
        ipmi_password: '******',
        deploy_kernel: 'http://127.0.0.1:8080/ipa.kernel',
        deploy_ramdisk: 'http://127.0.0.1:8080/ipa.initramfs',
      });
      assert.equal((ex0.extra as Record<string, unknown>).tenks_cluster, 'exp');
      const ports = await client(CLIENTS.baremetal, ['port', 'list', '--long', '-f', 'json'], cloudsFile);
      assert.equal(ports.code, 0, ports.stderr);
      const byMac = new Map(
        (
          JSON.parse(ports.stdout) as {
            Address: string;
            'Node UUID': string;
            'Physical Network': string;
            'Local Link Connection': Record<string, string>;
          }[]
        ).map((p) => [p.Address, p]),
      );
      assert.equal(byMac.size, 6);
      const p = byMac.get('52:54:00:10:01:02');
      assert.ok(p, 'port of ex1 on physnet2');
      assert.equal(p['Node UUID'], uuids[1]);
      assert.equal(p['Physical Network'], 'physnet2');
      assert.deepEqual(p['Local Link Connection'], {
        switch_id: '52:54:00:ff:00:02',
        switch_info: 'brexp-physnet2',
        port_id: 'exp1p2',
      });
      // The traits the file could not carry, set the way its header says.
      assert.match(out.text, /^# {3}baremetal node add trait ex0 CUSTOM_TENKS$/m);
      const trait = await client(CLIENTS.baremetal, ['node', 'add', 'trait', 'ex0', 'CUSTOM_TENKS'], cloudsFile);
      assert.equal(trait.code, 0, trait.stderr);
    } finally {
      for (const u of uuids) await client(CLIENTS.baremetal, ['node', 'delete', u], cloudsFile);
    }
    const after = await client(CLIENTS.baremetal, ['port', 'list', '-f', 'json'], cloudsFile);
    assert.deepEqual(JSON.parse(after.stdout), []);
  });
});
