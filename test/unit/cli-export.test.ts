/** `tenksctl export`: the three formats rendered from a fixture spec and what the agents report. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { parseExportFormat, renderExport, runExport, type ExportContext } from '../../cli/export.js';
import {
  TenksError,
  parseClusterSpec,
  redactSpecSecrets,
  type Cluster,
  type ClusterSpec,
  type CoordinatorApi,
  type NodeStatus,
} from '../../common/index.js';

const SPEC_YAML = `
name: lab1
physnet_mappings: { physnet1: eth1, physnet2: eth2 }
ipmi_username: admin
ipmi_password: s3cret
redfish_verify_ca: false
deploy_kernel: ipa-kernel
deploy_ramdisk: http://10.0.0.1/ipa.initramfs
node_types:
  big:
    memory_mb: 2048
    vcpus: 2
    volumes: [{ capacity: 20GB }, { capacity: 2GiB }]
    physical_networks: [physnet1, physnet2]
    boot_mode: uefi
  small:
    memory_mb: 512
    vcpus: 1
    volumes: [{ capacity: 5GB }]
    physical_networks: [physnet1]
    boot_mode: bios
specs:
  - type: big
    count: 2
    node_name_prefix: tk
    ironic_config:
      resource_class: baremetal
      traits: [CUSTOM_B, CUSTOM_A]
      properties: { vendor: acme }
      deploy_interface: ramdisk
      shard: s1
  - type: small
    count: 1
    node_name_prefix: rf
    ironic_driver: redfish
    ironic_config: { resource_class: small }
  - type: small
    count: 1
    node_name_prefix: plain
`;

const UUIDS = {
  tk0: '11111111-1111-4111-8111-111111111110',
  tk1: '11111111-1111-4111-8111-111111111111',
  rf0: '22222222-2222-4222-8222-222222222220',
  plain0: '33333333-3333-4333-8333-333333333330',
} as const;

function status(name: keyof typeof UUIDS, i: number, nics: number, redfishOnly = false): NodeStatus {
  const uuid = UUIDS[name];
  return {
    cluster: 'lab1',
    name,
    uuid,
    nodeType: '',
    hypervisor: 'hv1',
    powerState: 'unknown',
    memoryMb: 0,
    vcpus: 0,
    bootMode: 'unknown',
    machine: '',
    volumes: [],
    specHash: '',
    consoleLogPath: '',
    engine: '',
    bootDevice: 'unknown',
    labels: {},
    arch: '',
    nics: Array.from({ length: nics }, (_, k) => ({
      physnet: `physnet${k + 1}`,
      mac: `52:54:00:00:0${i}:0${k}`,
      bridge: `brtk-physnet${k + 1}`,
      bridgeMac: `aa:bb:cc:00:00:0${k}`,
      switchPort: `tk${i}p${k}`,
    })),
    bmc: {
      ipmi: redfishOnly ? null : { address: '192.0.2.10', port: 6230 + i, username: 'admin', password: 's3cret' },
      redfish: {
        url: 'http://192.0.2.10:8000',
        systemId: `/redfish/v1/Systems/${uuid}`,
        username: 'admin',
        password: '',
      },
    },
  };
}

const STATUSES: NodeStatus[] = [
  status('tk0', 0, 2),
  status('tk1', 1, 2),
  status('rf0', 2, 1, true),
  status('plain0', 3, 1),
];

function fixtureSpec(): ClusterSpec {
  return parseClusterSpec(SPEC_YAML, 'fixture').spec;
}

/** The system's Python, where Debian's python3-ironicclient lives (not a venv's `python3`). */
const SYSTEM_PYTHON = '/usr/bin/python3';

/**
 * `baremetal create FILE...` as python-ironicclient runs it (create_resources.create_resources),
 * over a fake HTTP layer: each file is read as the client reads it (PyYAML), validated against the
 * client's JSON schema, and every node and port goes through NodeManager / PortManager.create,
 * which refuse the keys they do not take. Prints the POSTs as JSON; exits 1 with the client's
 * error, 3 when the client is not installed.
 */
const BAREMETAL_CREATE = `
import json, sys
try:
    from ironicclient import exc
    from ironicclient.v1 import chassis, create_resources, node, port, portgroup
except ImportError as e:
    print('python3-ironicclient cannot be imported (%s): apt-get install python3-ironicclient' % e, file=sys.stderr)
    sys.exit(3)

class Api:
    def __init__(self):
        self.posts = []
    def json_request(self, method, url, body=None, headers=None, **kwargs):
        self.posts.append({'method': method, 'url': url, 'body': body})
        return None, dict(body, uuid=body.get('uuid') or 'made-%d' % len(self.posts))

class Client:
    pass

api = Api()
client = Client()
client.chassis = chassis.ChassisManager(api)
client.node = node.NodeManager(api)
client.port = port.PortManager(api)
client.portgroup = portgroup.PortgroupManager(api)
try:
    create_resources.create_resources(client, sys.argv[1:])
except exc.ClientException as e:
    print(e, file=sys.stderr)
    sys.exit(1)
json.dump(api.posts, sys.stdout)
`;

/** One request `baremetal create` sent. */
interface CreatePost {
  url: string;
  body: Record<string, unknown>;
}

/** What python-ironicclient's `baremetal create` makes of `text` (saved as a .yaml file). */
async function baremetalCreate(text: string): Promise<{ code: number; posts: CreatePost[]; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tenks-export-create-'));
  try {
    const file = join(dir, 'nodes.yaml');
    await writeFile(file, text);
    return await new Promise((resolve, reject) => {
      execFile(SYSTEM_PYTHON, ['-c', BAREMETAL_CREATE, file], (err, stdout, stderr) => {
        const code = err === null ? 0 : err.code;
        if (typeof code !== 'number') reject(new Error(`${SYSTEM_PYTHON}: ${err?.message ?? ''}`));
        else resolve({ code, posts: code === 0 ? (JSON.parse(stdout) as CreatePost[]) : [], stderr });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('tenksctl export', function () {
  describe('--format', function () {
    it('accepts ironic, bifrost and metal3', function () {
      for (const f of ['ironic', 'bifrost', 'metal3'] as const) assert.equal(parseExportFormat(f), f);
    });
    it('refuses a missing or unknown format with the field', function () {
      for (const f of [undefined, 'csv']) {
        assert.throws(
          () => parseExportFormat(f),
          (e: unknown) => e instanceof TenksError && e.code === 'INVALID_SPEC' && e.field === '--format',
        );
      }
    });
  });

  describe('ironic', function () {
    const r = renderExport('ironic', fixtureSpec(), STATUSES);
    const doc = parseYaml(r.text) as { nodes: Record<string, unknown>[] };

    it('is an object with only `nodes`, a list', function () {
      assert.deepEqual(Object.keys(doc), ['nodes']);
      assert.ok(Array.isArray(doc.nodes));
    });

    it("is accepted by python-ironicclient's baremetal create: its schema, then every node and port key", async function () {
      this.timeout(60_000);
      try {
        await access(SYSTEM_PYTHON, constants.X_OK);
      } catch {
        console.log(`      skipped: no ${SYSTEM_PYTHON}`);
        this.skip();
      }
      const created = await baremetalCreate(r.text);
      if (created.code === 3) {
        console.log(`      skipped: ${created.stderr.trim()}`);
        this.skip();
      }
      assert.equal(created.code, 0, created.stderr);
      const nodes = created.posts.filter((p) => p.url === '/v1/nodes').map((p) => p.body);
      assert.deepEqual(
        nodes,
        doc.nodes.map(({ ports: _, ...body }) => body),
        'each node is created as the file has it',
      );
      const ports = created.posts.filter((p) => p.url === '/v1/ports').map((p) => p.body);
      assert.deepEqual(
        ports,
        doc.nodes.flatMap((n) => (n.ports as Record<string, unknown>[]).map((p) => ({ ...p, node_uuid: n.uuid }))),
        'and then its ports',
      );
      // The same client refuses a key it does not take (so acceptance above means something).
      const refused = await baremetalCreate(
        stringify({ nodes: [{ ...doc.nodes[0], traits: ['CUSTOM_A'] }] }, { version: '1.1' }),
      );
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /"traits" are invalid/);
    });

    it('has the enrolled nodes in spec order, with driver, driver_info, properties and interfaces', function () {
      assert.deepEqual(
        doc.nodes.map((n) => n.name),
        ['tk0', 'tk1', 'rf0'],
      );
      assert.equal(r.nodes, 3);
      const tk0 = doc.nodes[0]!;
      assert.equal(tk0.uuid, UUIDS.tk0);
      assert.equal(tk0.driver, 'ipmi');
      assert.equal(tk0.resource_class, 'baremetal');
      assert.equal(tk0.deploy_interface, 'ramdisk');
      assert.deepEqual(tk0.driver_info, {
        ipmi_address: '192.0.2.10',
        ipmi_port: 6230,
        ipmi_username: 'admin',
        ipmi_password: 's3cret',
        deploy_kernel: 'ipa-kernel',
        deploy_ramdisk: 'http://10.0.0.1/ipa.initramfs',
      });
      assert.deepEqual(tk0.properties, {
        cpus: 2,
        memory_mb: 2048,
        local_gb: 20,
        cpu_arch: 'x86_64',
        capabilities: 'boot_mode:uefi',
        vendor: 'acme',
      });
      const extra = tk0.extra as Record<string, unknown>;
      assert.equal(extra.tenks_cluster, 'lab1');
      assert.equal(extra.tenks_node, 'tk0');
      const rf0 = doc.nodes[2]!;
      assert.equal(rf0.driver, 'redfish');
      assert.deepEqual(rf0.driver_info, {
        redfish_address: 'http://192.0.2.10:8000',
        redfish_system_id: `/redfish/v1/Systems/${UUIDS.rf0}`,
        redfish_username: 'admin',
        // The agent sent no password: the spec's (Redfish defaults to the IPMI one).
        redfish_password: 's3cret',
        redfish_verify_ca: false,
        deploy_kernel: 'ipa-kernel',
        deploy_ramdisk: 'http://10.0.0.1/ipa.initramfs',
      });
    });

    it('quotes MACs that YAML 1.1 (PyYAML, which the client uses) would read as base-60 integers', function () {
      const as11 = parseYaml(r.text, { version: '1.1' }) as { nodes: { ports: { address: unknown }[] }[] };
      const macs = as11.nodes.flatMap((n) => n.ports.map((p) => p.address));
      assert.deepEqual(macs, [
        '52:54:00:00:00:00',
        '52:54:00:00:00:01',
        '52:54:00:00:01:00',
        '52:54:00:00:01:01',
        '52:54:00:00:02:00',
      ]);
    });

    it('gives every NIC a port with its physnet and switch', function () {
      assert.deepEqual(doc.nodes[1]!.ports, [
        {
          address: '52:54:00:00:01:00',
          physical_network: 'physnet1',
          local_link_connection: { switch_id: 'aa:bb:cc:00:00:00', switch_info: 'brtk-physnet1', port_id: 'tk1p0' },
          pxe_enabled: true,
        },
        {
          address: '52:54:00:00:01:01',
          physical_network: 'physnet2',
          local_link_connection: { switch_id: 'aa:bb:cc:00:00:01', switch_info: 'brtk-physnet2', port_id: 'tk1p1' },
          pxe_enabled: true,
        },
      ]);
    });

    it('leaves out what the client refuses and says in the header how to set it afterwards', function () {
      for (const n of doc.nodes) {
        assert.equal(n.traits, undefined);
        assert.equal(n.shard, undefined);
      }
      assert.match(r.text, /^# {3}baremetal node add trait tk0 CUSTOM_A CUSTOM_B$/m);
      assert.match(r.text, /^# {3}baremetal node set tk1 --shard s1$/m);
      assert.ok(r.notes.some((n) => n.includes('does not take shard, traits')));
    });

    it('says the deploy images are as given, and which nodes it left out', function () {
      assert.match(r.text, /^# deploy_kernel=ipa-kernel .*not resolved offline/m);
      assert.ok(r.notes.some((n) => /without ironic_config.*plain0/.test(n)));
    });

    it('leaves out nodes no agent reports, with a note', function () {
      const partial = renderExport('ironic', fixtureSpec(), STATUSES.slice(1));
      assert.deepEqual(
        (parseYaml(partial.text) as { nodes: { name: string }[] }).nodes.map((n) => n.name),
        ['tk1', 'rf0'],
      );
      assert.ok(partial.notes.some((n) => n.includes('no agent reports: tk0')));
    });
  });

  describe('bifrost', function () {
    const r = renderExport('bifrost', fixtureSpec(), STATUSES);
    const inv = JSON.parse(r.text) as Record<string, Record<string, unknown>>;

    it('is an inventory keyed by node name with the documented keys', function () {
      assert.deepEqual(Object.keys(inv), ['tk0', 'tk1', 'rf0']);
      const tk1 = inv.tk1!;
      assert.deepEqual(Object.keys(tk1).sort(), ['driver', 'driver_info', 'name', 'nics', 'properties', 'uuid']);
      assert.equal(tk1.name, 'tk1');
      assert.equal(tk1.uuid, UUIDS.tk1);
      assert.equal(tk1.driver, 'ipmi');
      assert.deepEqual(tk1.nics, [{ mac: '52:54:00:00:01:00' }, { mac: '52:54:00:00:01:01' }]);
      const info = tk1.driver_info as Record<string, unknown>;
      assert.equal(info.ipmi_address, '192.0.2.10');
      assert.equal(info.ipmi_port, 6231);
      assert.equal(info.ipmi_username, 'admin');
      assert.equal(info.ipmi_password, 's3cret');
    });

    it('carries only the properties Bifrost knows, named as its inventory names them', function () {
      assert.deepEqual(inv.tk0!.properties, {
        cpus: '2',
        ram: '2048',
        disk_size: '20',
        cpu_arch: 'x86_64',
        capabilities: 'boot_mode:uefi',
      });
      assert.deepEqual(inv.rf0!.properties, {
        cpus: '1',
        ram: '512',
        disk_size: '5',
        cpu_arch: 'x86_64',
        capabilities: 'boot_mode:bios',
      });
      assert.ok(r.notes.some((n) => n.includes('no properties vendor')));
    });

    it('gives Redfish nodes their Redfish driver_info', function () {
      const info = inv.rf0!.driver_info as Record<string, unknown>;
      assert.equal(inv.rf0!.driver, 'redfish');
      assert.equal(info.redfish_address, 'http://192.0.2.10:8000');
      assert.equal(info.redfish_system_id, `/redfish/v1/Systems/${UUIDS.rf0}`);
      assert.equal(info.redfish_password, 's3cret');
    });
  });

  describe('metal3', function () {
    const r = renderExport('metal3', fixtureSpec(), STATUSES);
    const docs = parseAllDocuments(r.text).map((d) => d.toJS() as Record<string, unknown>);
    interface Doc {
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      type?: string;
      stringData?: Record<string, string>;
      spec?: Record<string, unknown>;
    }
    const all = docs as unknown as Doc[];
    const hosts = all.filter((d) => d.kind === 'BareMetalHost');
    const secrets = new Map(all.filter((d) => d.kind === 'Secret').map((d) => [d.metadata.name, d]));

    it('parses as multi-document YAML: a Secret and a BareMetalHost per node, nodes without ironic_config included', function () {
      for (const d of parseAllDocuments(r.text)) assert.deepEqual(d.errors, []);
      assert.deepEqual(
        hosts.map((h) => h.metadata.name),
        ['tk0', 'tk1', 'rf0', 'plain0'],
      );
      assert.equal(secrets.size, 4);
      assert.equal(r.nodes, 4);
    });

    it('reads the same as YAML 1.1 (MACs stay strings)', function () {
      const as11 = parseAllDocuments(r.text, { version: '1.1' }).map((d) => d.toJS() as Doc);
      assert.deepEqual(as11, all);
    });

    it('has what the BareMetalHost CRD requires, and matching Secrets', function () {
      for (const h of hosts) {
        assert.equal(h.apiVersion, 'metal3.io/v1alpha1');
        const spec = h.spec!;
        assert.equal(spec.online, false);
        assert.match(String(spec.bootMACAddress), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        const bmc = spec.bmc as { address: string; credentialsName: string; disableCertificateVerification: boolean };
        assert.equal(bmc.credentialsName, `${h.metadata.name}-bmc-secret`);
        const s = secrets.get(bmc.credentialsName);
        assert.ok(s, `secret ${bmc.credentialsName}`);
        assert.equal(s.apiVersion, 'v1');
        assert.equal(s.type, 'Opaque');
        assert.deepEqual(s.stringData, { username: 'admin', password: 's3cret' });
        assert.deepEqual(spec.rootDeviceHints, { deviceName: '/dev/vda' });
      }
    });

    it('points bmc.address at the node driver’s endpoint, with boot MAC and boot mode', function () {
      const by = new Map(hosts.map((h) => [h.metadata.name, h.spec!]));
      assert.deepEqual(by.get('tk0')!.bmc, {
        address: 'ipmi://192.0.2.10:6230',
        credentialsName: 'tk0-bmc-secret',
        disableCertificateVerification: false,
      });
      assert.equal(by.get('tk0')!.bootMACAddress, '52:54:00:00:00:00');
      assert.equal(by.get('tk0')!.bootMode, 'UEFI');
      assert.deepEqual(by.get('rf0')!.bmc, {
        address: `redfish+http://192.0.2.10:8000/redfish/v1/Systems/${UUIDS.rf0}`,
        credentialsName: 'rf0-bmc-secret',
        disableCertificateVerification: true,
      });
      assert.equal(by.get('rf0')!.bootMode, 'legacy');
      assert.equal(by.get('plain0')!.bootMode, 'legacy');
    });

    it('lower-cases names Kubernetes would refuse', function () {
      const yaml = SPEC_YAML.replace('node_name_prefix: tk', 'node_name_prefix: TK_');
      const spec = parseClusterSpec(yaml, 'fixture').spec;
      const nodes = STATUSES.map((s) => (s.name.startsWith('tk') ? { ...s, name: s.name.replace('tk', 'TK_') } : s));
      const out = renderExport('metal3', spec, nodes);
      const names = parseAllDocuments(out.text).map((d) => (d.toJS() as Doc).metadata.name);
      assert.ok(names.includes('tk-0') && names.includes('tk-0-bmc-secret'));
      assert.ok(out.notes.some((n) => n.includes('TK_0 → tk-0')));
    });
  });

  describe('the command', function () {
    function ctx(
      clusters: Cluster[],
      tty: boolean,
    ): { ctx: ExportContext; out: string[]; err: string[]; asked: boolean[] } {
      const out: string[] = [];
      const err: string[] = [];
      const asked: boolean[] = [];
      const api = {
        // As the coordinator: spec secrets only when asked for.
        getClusters: (secrets: boolean) => {
          asked.push(secrets);
          return Promise.resolve(
            secrets ? clusters : clusters.map((c) => ({ ...c, specYaml: redactSpecSecrets(c.specYaml) })),
          );
        },
        getNodes: (cluster: string, _name: string, secrets: boolean) =>
          Promise.resolve(secrets ? STATUSES.filter((s) => s.cluster === cluster) : []),
      } as unknown as CoordinatorApi;
      return {
        out,
        err,
        asked,
        ctx: {
          api: () => Promise.resolve(api),
          settings: { timeoutMs: 1000 },
          interrupt: new AbortController().signal,
          stdout: { write: (s: string) => out.push(s), isTTY: tty },
          stderr: { write: (s: string) => err.push(s) },
        },
      };
    }
    const lab1: Cluster = {
      name: 'lab1',
      nodeCount: 0,
      specYaml: SPEC_YAML,
      operationId: '',
      updatedUnixMs: 0,
      agents: [],
      lastOperationId: '',
      lastOperationState: 'unspecified',
    };

    it('reads the spec and the nodes with secrets, and warns on a terminal', async function () {
      const c = ctx([lab1], true);
      assert.equal(await runExport(c.ctx, ['lab1'], { format: 'bifrost' }), 0);
      assert.deepEqual(Object.keys(JSON.parse(c.out.join('')) as object), ['tk0', 'tk1', 'rf0']);
      assert.ok(c.err.some((l) => l.includes('BMC credentials')));
      assert.deepEqual(c.asked, [true], 'the spec is asked for with its secrets');
    });

    it('does not warn when stdout is not a terminal', async function () {
      const c = ctx([lab1], false);
      await runExport(c.ctx, ['lab1'], { format: 'ironic' });
      assert.ok(!c.err.some((l) => l.includes('BMC credentials')));
    });

    it('writes --file with mode 0600 and says so on stderr, nothing on stdout', async function () {
      const dir = await mkdtemp(join(tmpdir(), 'tenks-export-'));
      try {
        const file = join(dir, 'nodes.yaml');
        const c = ctx([lab1], true);
        await runExport(c.ctx, ['lab1'], { format: 'ironic', file });
        assert.equal((await stat(file)).mode & 0o777, 0o600);
        assert.deepEqual(
          (parseYaml(await readFile(file, 'utf8')) as { nodes: { name: string }[] }).nodes.map((n) => n.name),
          ['tk0', 'tk1', 'rf0'],
        );
        assert.deepEqual(c.out, []);
        assert.ok(c.err.some((l) => l.includes(`to ${file} (mode 0600`)));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('fails NOT_FOUND for an unknown cluster and INVALID_SPEC without a cluster', async function () {
      await assert.rejects(runExport(ctx([lab1], false).ctx, ['other'], { format: 'ironic' }), { code: 'NOT_FOUND' });
      await assert.rejects(runExport(ctx([lab1], false).ctx, [], { format: 'ironic' }), {
        code: 'INVALID_SPEC',
        field: 'CLUSTER',
      });
    });
  });
});
