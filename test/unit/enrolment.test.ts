/** Enrolment diffs (Ironic nodes, ports, provision steps) and Nova flavors, pure. */
import assert from 'node:assert/strict';
import { createBody, desiredIronicNode, EXTRA, type NodeFacts } from '../../common/ironic/index.js';
import { compileClusterSpec, expandNodes, type ClusterSpec, type DesiredNode } from '../../common/spec/index.js';
import { diffEnrolment, isNoop } from '../../coordinator/enrolment/diff.js';
import { customResourceClass, desiredFlavors, diffFlavors, FLAVOR_MARK } from '../../coordinator/enrolment/flavors.js';
import type { IronicNode, IronicPort, NovaFlavor } from '../../coordinator/openstack/types.js';

const UUID = '5b6c7d8e-1111-4222-8333-944455556666';

function spec(extra: Record<string, unknown> = {}, ironic: Record<string, unknown> = {}): ClusterSpec {
  return compileClusterSpec({
    name: 'lab',
    physnet_mappings: { physnet1: 'eth1' },
    node_types: {
      t: {
        memory_mb: 2048,
        vcpus: 2,
        volumes: [{ capacity: '20GiB' }, { capacity: '5GiB' }],
        physical_networks: ['physnet1'],
      },
    },
    specs: [
      {
        type: 't',
        count: 1,
        ironic_config: {
          resource_class: 'baremetal',
          traits: ['CUSTOM_B', 'CUSTOM_A'],
          properties: { vendor: 'tenks' },
          ...ironic,
        },
      },
    ],
    ipmi_username: 'admin',
    ipmi_password: 'pw-one',
    deploy_kernel: 'http://images/ipa.kernel',
    deploy_ramdisk: 'http://images/ipa.initramfs',
    nova_flavors: [
      { resource_class: 'baremetal', node_type: 't', required_traits: ['CUSTOM_A'], forbidden_traits: ['CUSTOM_X'] },
    ],
    ...extra,
  }).spec;
}

const facts: NodeFacts = {
  uuid: UUID,
  nics: [
    {
      mac: '52:00:00:00:00:01',
      physnet: 'physnet1',
      bridge: 'tb-physnet1',
      bridgeMac: '02:aa:bb:cc:dd:ee',
      switchPort: 'tp-tk0-0',
    },
  ],
  bmc: {
    ipmi: { address: '192.0.2.10', port: 6230, username: 'admin', password: 'pw-one' },
    redfish: {
      url: 'http://192.0.2.10:8000',
      systemId: `/redfish/v1/Systems/${UUID}`,
      username: 'admin',
      password: 'pw-one',
    },
  },
};
const images = { kernel: 'http://images/ipa.kernel', ramdisk: 'http://images/ipa.initramfs' };

function node(s: ClusterSpec): DesiredNode {
  return expandNodes(s)[0]!;
}

/** What Ironic returns for a node made from `body` (passwords hidden, as Ironic does). */
function asIronic(body: Record<string, unknown>, state = 'available'): IronicNode {
  const di = { ...(body.driver_info as Record<string, unknown>) };
  for (const k of Object.keys(di)) if (k.endsWith('password')) di[k] = '******';
  return {
    uuid: body.uuid as string,
    name: body.name as string,
    driver: body.driver as string,
    driver_info: di,
    properties: body.properties as Record<string, unknown>,
    resource_class: body.resource_class as string,
    traits: [],
    provision_state: state,
    target_provision_state: null,
    power_state: 'power off',
    target_power_state: null,
    maintenance: false,
    last_error: null,
    conductor_group: (body.conductor_group as string | undefined) ?? '',
    shard: null,
    extra: body.extra as Record<string, unknown>,
  };
}

function port(address: string, o: Partial<IronicPort> = {}): IronicPort {
  return {
    uuid: `p-${address}`,
    address,
    node_uuid: UUID,
    physical_network: 'physnet1',
    local_link_connection: { switch_id: '02:aa:bb:cc:dd:ee', switch_info: 'tb-physnet1', port_id: 'tp-tk0-0' },
    pxe_enabled: true,
    extra: {},
    ...o,
  };
}

describe('Ironic node of a tenks node', () => {
  it('carries driver_info as upstream Tenks sets it, and default properties the user can override', () => {
    const s = spec();
    const d = desiredIronicNode(s, node(s), facts, images);
    assert.deepEqual(d.driverInfo, {
      ipmi_address: '192.0.2.10',
      ipmi_port: 6230,
      ipmi_username: 'admin',
      ipmi_password: 'pw-one',
      deploy_kernel: images.kernel,
      deploy_ramdisk: images.ramdisk,
    });
    assert.deepEqual(d.properties, {
      cpus: 2,
      memory_mb: 2048,
      local_gb: 22,
      cpu_arch: 'x86_64',
      capabilities: 'boot_mode:uefi',
      vendor: 'tenks',
    });
    assert.deepEqual(d.traits, ['CUSTOM_A', 'CUSTOM_B']);
    assert.deepEqual(d.ports, [
      {
        address: '52:00:00:00:00:01',
        physical_network: 'physnet1',
        local_link_connection: { switch_id: '02:aa:bb:cc:dd:ee', switch_info: 'tb-physnet1', port_id: 'tp-tk0-0' },
        pxe_enabled: true,
      },
    ]);
    const s2 = spec({}, { properties: { memory_mb: 1024, capabilities: 'boot_mode:bios' } });
    const d2 = desiredIronicNode(s2, node(s2), facts, images);
    assert.equal(d2.properties.memory_mb, 1024);
    assert.equal(d2.properties.capabilities, 'boot_mode:bios');
  });

  it("sets cpu_arch to the node's architecture, unless ironic_config.properties sets it", () => {
    const arm = spec({ libvirt_vm_arch: 'aarch64' });
    assert.equal(desiredIronicNode(arm, node(arm), facts, images).properties.cpu_arch, 'aarch64');
    assert.equal(desiredIronicNode(spec(), node(spec()), facts, images).properties.cpu_arch, 'x86_64');
    const own = spec({ libvirt_vm_arch: 'aarch64' }, { properties: { cpu_arch: 'arm64' } });
    assert.equal(desiredIronicNode(own, node(own), facts, images).properties.cpu_arch, 'arm64');
  });

  it('points redfish nodes at the system, with the spec address when it names a host', () => {
    const s = spec({ default_ironic_driver: 'redfish', redfish_address: '198.51.100.7', redfish_verify_ca: false });
    const d = desiredIronicNode(s, node(s), facts, images, { ipmi: '0.0.0.0', redfish: '198.51.100.7' });
    assert.equal(d.driver, 'redfish');
    assert.equal(d.driverInfo.redfish_address, 'http://198.51.100.7:8000');
    assert.equal(d.driverInfo.redfish_system_id, `/redfish/v1/Systems/${UUID}`);
    assert.equal(d.driverInfo.redfish_verify_ca, false);
    assert.deepEqual(d.secretKeys, ['redfish_password']);
  });
});

describe('enrolment diff', () => {
  const s = spec();
  const d = desiredIronicNode(s, node(s), facts, images);
  const made = asIronic(createBody(d, 'lab'));
  const ports = [port('52:00:00:00:00:01')];
  const withTraits = (n: IronicNode): IronicNode => ({ ...n, traits: ['CUSTOM_A', 'CUSTOM_B'] });

  it('creates an absent node with its traits and ports, then manage and provide', () => {
    const c = diffEnrolment(d, 'lab', null, 'available', true);
    assert.equal((c.create?.extra as Record<string, unknown>)[EXTRA.cluster], 'lab');
    assert.deepEqual(c.traits, ['CUSTOM_A', 'CUSTOM_B']);
    assert.equal(c.portCreates.length, 1);
    assert.deepEqual(c.provision, ['manage', 'provide']);
    assert.deepEqual(diffEnrolment(d, 'lab', null, 'manageable', true).provision, ['manage']);
    assert.deepEqual(diffEnrolment(d, 'lab', null, 'enroll', true).provision, []);
    assert.doesNotMatch(JSON.stringify(c.changes), /pw-one/);
  });

  it('writes nothing for a node as desired (Ironic hides the passwords; the hash in extra says they match)', () => {
    const c = diffEnrolment(d, 'lab', { node: withTraits(made), ports }, 'available', true);
    assert.ok(isNoop(c), JSON.stringify(c));
    assert.deepEqual(c.changes, []);
  });

  it('patches only what changed: properties, traits, a password, a port', () => {
    const s2 = spec({ ipmi_password: 'pw-two' }, { traits: ['CUSTOM_A'], properties: { vendor: 'acme' } });
    const d2 = desiredIronicNode(
      s2,
      node(s2),
      { ...facts, bmc: { ...facts.bmc, ipmi: { ...facts.bmc.ipmi!, password: 'pw-two' } } },
      images,
    );
    const c = diffEnrolment(
      d2,
      'lab',
      { node: withTraits(made), ports: [port('52:00:00:00:00:01', { physical_network: 'old' })] },
      'available',
      true,
    );
    const paths = c.patch.map((o) => o.path).sort();
    assert.deepEqual(paths, ['/driver_info/ipmi_password', `/extra/${EXTRA.secrets}`, '/properties/vendor']);
    assert.deepEqual(c.traits, ['CUSTOM_A']);
    assert.deepEqual(
      c.portPatches.map((p) => p.ops.map((o) => o.path)),
      [['/physical_network']],
    );
    assert.doesNotMatch(JSON.stringify(c.changes), /pw-two/);
    assert.deepEqual(c.provision, []);
  });

  it('removes only the properties tenks set, and ports of MACs the node no longer has', () => {
    const s2 = spec({}, { properties: {} });
    const d2 = desiredIronicNode(s2, node(s2), facts, images);
    const cur = { ...withTraits(made), properties: { ...made.properties, user_key: 'x' } };
    const c = diffEnrolment(d2, 'lab', { node: cur, ports: [...ports, port('52:00:00:00:00:99')] }, 'available', true);
    assert.ok(c.patch.some((o) => o.op === 'remove' && o.path === '/properties/vendor'));
    assert.ok(!c.patch.some((o) => o.path === '/properties/user_key'), 'a property tenks did not set stays');
    assert.deepEqual(
      c.portDeletes.map((p) => p.address),
      ['52:00:00:00:00:99'],
    );
  });

  it('brings a manageable node to available, and refuses to touch an active one', () => {
    const c = diffEnrolment(
      d,
      'lab',
      { node: { ...withTraits(made), provision_state: 'manageable' }, ports },
      'available',
      true,
    );
    assert.deepEqual(c.provision, ['provide']);
    assert.equal(c.blocked, null);
    const active = { ...withTraits(made), provision_state: 'active', resource_class: 'other' };
    const b = diffEnrolment(d, 'lab', { node: active, ports }, 'available', true);
    assert.match(b.blocked ?? '', /active in Ironic/);
    assert.equal(
      diffEnrolment(d, 'lab', { node: { ...withTraits(made), provision_state: 'active' }, ports }, 'available', true)
        .blocked,
      null,
      'nothing to change: fine',
    );
  });

  it('leaves shard out where the server has no shards', () => {
    const s2 = spec({}, { shard: 'shard-1' });
    const d2 = desiredIronicNode(s2, node(s2), facts, images);
    assert.equal(diffEnrolment(d2, 'lab', null, 'available', false).create?.shard, undefined);
    assert.equal(diffEnrolment(d2, 'lab', null, 'available', true).create?.shard, 'shard-1');
  });
});

describe('Nova flavors', () => {
  const s = spec();

  it('uses upstream extra specs, the root volume as disk, and marks the flavor as tenks', () => {
    const f = desiredFlavors(s)[0]!;
    assert.equal(f.name, 'baremetal');
    assert.deepEqual([f.ram, f.vcpus, f.disk], [2048, 2, 22]);
    assert.deepEqual(f.extraSpecs, {
      'resources:CUSTOM_BAREMETAL': '1',
      'resources:VCPU': '0',
      'resources:MEMORY_MB': '0',
      'resources:DISK_GB': '0',
      'trait:CUSTOM_A': 'required',
      'trait:CUSTOM_X': 'forbidden',
      [FLAVOR_MARK]: 'lab',
    });
    assert.equal(customResourceClass('bare-metal.gold'), 'CUSTOM_BARE_METAL_GOLD');
  });

  it('creates, keeps, changes extra specs in place, replaces on size changes, and deletes its own only', () => {
    const want = desiredFlavors(s)[0]!;
    const have = (o: Partial<NovaFlavor> = {}): NovaFlavor => ({
      id: 'f1',
      name: want.name,
      ram: want.ram,
      vcpus: want.vcpus,
      disk: want.disk,
      isPublic: true,
      extraSpecs: { ...want.extraSpecs },
      ...o,
    });
    assert.deepEqual(
      diffFlavors(s, []).map((c) => c.kind),
      ['create'],
    );
    assert.deepEqual(diffFlavors(s, [have()]), []);
    const specs = diffFlavors(s, [
      have({ extraSpecs: { ...want.extraSpecs, 'trait:CUSTOM_A': 'forbidden', stale: 'x' } }),
    ]);
    const first = specs[0];
    assert.ok(first?.kind === 'specs');
    assert.deepEqual([first.set, first.unset], [{ 'trait:CUSTOM_A': 'required' }, ['stale']]);
    assert.equal(diffFlavors(s, [have({ ram: 1 })])[0]?.kind, 'replace');
    const gone = diffFlavors(spec({ nova_flavors: [] }), [have()]);
    assert.deepEqual(
      gone.map((c) => c.kind),
      ['delete'],
    );
    assert.deepEqual(diffFlavors(spec({ nova_flavors: [] }), [have({ extraSpecs: {} })]), [], 'not ours: untouched');
    assert.throws(() => diffFlavors(s, [have({ extraSpecs: {} })]), /not make/);
  });
});
