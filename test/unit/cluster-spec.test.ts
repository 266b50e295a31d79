import assert from 'node:assert/strict';
import { TenksError, type FieldError } from '../../common/errors.js';
import { compileClusterSpec, expandNodes, type ClusterSpec } from '../../common/spec/index.js';

const GiB = 1024 ** 3;

/** A valid spec to break, fresh each time. */
function base(): Record<string, unknown> & {
  node_types: Record<string, Record<string, unknown>>;
  specs: Record<string, unknown>[];
} {
  return {
    physnet_mappings: { physnet1: 'eth1' },
    node_types: {
      type0: {
        memory_mb: 1024,
        vcpus: 1,
        volumes: [{ capacity: '10GiB' }, { capacity: '2GiB', image: '/srv/img/cirros.qcow2' }],
        physical_networks: ['physnet1'],
      },
    },
    specs: [{ type: 'type0', count: 2, ironic_config: { resource_class: 'baremetal' } }],
    deploy_kernel: 'ipa.kernel',
    deploy_ramdisk: 'ipa.initramfs',
  };
}

function specError(raw: unknown): TenksError {
  try {
    compileClusterSpec(raw, 'lab.yaml');
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_SPEC');
    return e;
  }
  assert.fail('expected compileClusterSpec to throw');
}

/** Asserts the spec fails with exactly these errors (field and message pattern), in any order. */
function assertErrors(raw: unknown, want: readonly (readonly [string, RegExp])[]): TenksError {
  const e = specError(raw);
  const got = e.details.map((d) => d.field).sort();
  assert.deepEqual(
    got,
    want.map(([f]) => f).sort(),
    `errors were:\n${e.details.map((d) => `${d.field}: ${d.message}`).join('\n')}`,
  );
  for (const [field, message] of want) {
    const d = e.details.find((x) => x.field === field && message.test(x.message));
    assert.ok(d, `no error at ${field} matching ${String(message)}; got ${JSON.stringify(e.details)}`);
  }
  return e;
}

function assertError(raw: unknown, field: string, message: RegExp): TenksError {
  return assertErrors(raw, [[field, message]]);
}

function compiled(raw: unknown): { spec: ClusterSpec; warnings: FieldError[] } {
  return compileClusterSpec(raw);
}

function warningFields(raw: unknown): string[] {
  return compiled(raw).warnings.map((w) => w.field);
}

describe('compileClusterSpec', () => {
  describe('defaults', () => {
    it('compiles an empty spec with every default', () => {
      const want: ClusterSpec = {
        name: 'tenks',
        nameSource: 'default',
        stateFilePath: null,
        bridgeType: 'openvswitch',
        physnetMappings: {},
        hypervisors: null,
        nodeTypes: {},
        specs: [],
        novaFlavors: [],
        defaultIronicDriver: 'ipmi',
        ipmi: { address: '0.0.0.0', portRange: null, username: 'username', password: 'password' },
        redfish: { address: '0.0.0.0', username: 'username', password: 'password' },
        defaultBootMode: 'uefi',
        defaultArch: 'x86_64',
        deployKernel: null,
        deployRamdisk: null,
        waitForPlacement: true,
        cloud: null,
        ironicTargetState: 'available',
        redfishVerifyCa: null,
        libvirtPool: { name: 'tenks', path: '/var/lib/libvirt/tenks_pool/', type: 'dir' },
        logDirectory: null,
        libvirtVm: {
          engine: null,
          emulator: null,
          consoleLogDir: null,
          logOwner: null,
          trustGuestRxFilters: true,
          clockOffset: null,
        },
        nodeNamePrefix: 'tk',
        volNamePrefix: 'vol',
        scheduler: {
          strategy: 'spread',
          seed: 0,
          weights: { ram: 1, vcpus: 1, disk: 1 },
          cpuAllocationRatio: 4,
          ramAllocationRatio: 1,
          diskAllocationRatio: 1,
          reservedHostMemoryMb: 512,
        },
      };
      assert.deepEqual(compiled({}), { spec: want, warnings: [] });
      assert.deepEqual(compiled(null), { spec: want, warnings: [] });
      assert.deepEqual(compiled(undefined), { spec: want, warnings: [] });
    });

    it('compiles node types and specs with their defaults resolved', () => {
      const { spec, warnings } = compiled(base());
      assert.deepEqual(warnings, []);
      assert.deepEqual(spec.nodeTypes, {
        type0: {
          name: 'type0',
          memoryMb: 1024,
          vcpus: 1,
          volumes: [
            { name: null, capacityBytes: 10 * GiB, format: 'qcow2', source: { kind: 'blank' } },
            {
              name: null,
              capacityBytes: 2 * GiB,
              format: 'qcow2',
              source: { kind: 'image', path: '/srv/img/cirros.qcow2' },
            },
          ],
          physicalNetworks: ['physnet1'],
          consoleLog: false,
          vnc: false,
          bootMode: null,
          ironicDriver: null,
          machine: null,
          cpuMode: null,
          clockOffset: null,
          arch: null,
        },
      });
      assert.deepEqual(spec.specs, [
        {
          index: 0,
          type: 'type0',
          count: 2,
          nodeNamePrefix: 'tk',
          volNamePrefix: 'vol',
          ironicConfig: {
            resourceClass: 'baremetal',
            traits: [],
            properties: {},
            interfaces: {},
            conductorGroup: null,
            shard: null,
          },
          ironicDriver: 'ipmi',
          bootMode: 'uefi',
        },
      ]);
      assert.deepEqual(spec.physnetMappings, { physnet1: { device: 'eth1', vlan: null } });
    });

    it('takes Redfish credentials from the IPMI ones unless given', () => {
      const s = compiled({ ipmi_username: 'admin', ipmi_password: 'pw' }).spec;
      assert.deepEqual(s.redfish, { address: '0.0.0.0', username: 'admin', password: 'pw' });
      const t = compiled({ ipmi_username: 'admin', redfish_username: 'rf', redfish_password: 'rpw' }).spec;
      assert.deepEqual(t.redfish, { address: '0.0.0.0', username: 'rf', password: 'rpw' });
    });

    it('fills the other end of an IPMI port range with the upstream default', () => {
      assert.deepEqual(compiled({ ipmi_port_range_end: 6300 }).spec.ipmi.portRange, { start: 6230, end: 6300 });
      assert.deepEqual(compiled({ ipmi_port_range_start: 6231 }).spec.ipmi.portRange, { start: 6231, end: 6240 });
      assert.equal(compiled({}).spec.ipmi.portRange, null);
    });

    it('resolves the driver: spec, then node type, then default_ironic_driver', () => {
      const raw = base();
      raw.default_ironic_driver = 'redfish';
      raw.node_types.type1 = { memory_mb: 512, vcpus: 1, ironic_driver: 'ipmi' };
      raw.specs = [
        { type: 'type0', count: 1 },
        { type: 'type1', count: 1, node_name_prefix: 'a' },
        { type: 'type1', count: 1, node_name_prefix: 'b', ironic_driver: 'redfish' },
      ];
      assert.deepEqual(
        compiled(raw).spec.specs.map((s) => s.ironicDriver),
        ['redfish', 'ipmi', 'redfish'],
      );
    });

    it('resolves the boot mode: capabilities, then node type (boot_mode or boot_firmware), then default', () => {
      const raw = base();
      raw.default_boot_mode = 'bios';
      raw.node_types.efi = { memory_mb: 512, vcpus: 1, boot_firmware: 'efi' };
      raw.specs = [
        { type: 'type0', count: 1, node_name_prefix: 'a' },
        { type: 'efi', count: 1, node_name_prefix: 'b' },
        {
          type: 'type0',
          count: 1,
          node_name_prefix: 'c',
          ironic_config: { resource_class: 'rc', properties: { capabilities: 'secure_boot:false, boot_mode:uefi' } },
        },
      ];
      assert.deepEqual(
        compiled(raw).spec.specs.map((s) => s.bootMode),
        ['bios', 'uefi', 'uefi'],
      );
    });

    it('keeps ironic_config interfaces, traits, properties, conductor group and shard', () => {
      const raw = base();
      raw.specs = [
        {
          type: 'type0',
          count: 1,
          ironic_config: {
            resource_class: 'rc',
            traits: ['CUSTOM_X', 'HW_CPU_X86_AVX2'],
            properties: { cpu_arch: 'x86_64', local_gb: 9 },
            deploy_interface: 'direct',
            boot_interface: 'ipxe',
            conductor_group: 'rack1',
            shard: 's1',
          },
        },
      ];
      assert.deepEqual(compiled(raw).spec.specs[0]?.ironicConfig, {
        resourceClass: 'rc',
        traits: ['CUSTOM_X', 'HW_CPU_X86_AVX2'],
        properties: { cpu_arch: 'x86_64', local_gb: 9 },
        interfaces: { deploy: 'direct', boot: 'ipxe' },
        conductorGroup: 'rack1',
        shard: 's1',
      });
    });

    it('compiles nova flavors with the resource class as default name and string extra specs', () => {
      const raw = base();
      raw.nova_flavors = [
        { resource_class: 'baremetal', node_type: 'type0', custom_specs: { 'hw:cpu_policy': 'dedicated', n: 2 } },
      ];
      assert.deepEqual(compiled(raw).spec.novaFlavors, [
        {
          name: 'baremetal',
          resourceClass: 'baremetal',
          nodeType: 'type0',
          requiredTraits: [],
          forbiddenTraits: [],
          customSpecs: { 'hw:cpu_policy': 'dedicated', n: '2' },
        },
      ]);
    });

    it('reads device:VLAN physnet mappings', () => {
      const raw = base();
      raw.physnet_mappings = { physnet1: 'bond0:100', physnet2: 'bond0:200', physnet3: 'br-ex' };
      assert.deepEqual(compiled(raw).spec.physnetMappings, {
        physnet1: { device: 'bond0', vlan: 100 },
        physnet2: { device: 'bond0', vlan: 200 },
        physnet3: { device: 'br-ex', vlan: null },
      });
    });

    it('gives listed hypervisors their own settings or the cluster-wide ones', () => {
      const raw = base();
      raw.ipmi_address = '192.0.2.1';
      raw.hypervisors = {
        hv1: { physnet_mappings: { physnet1: 'eth2' }, ipmi_address: '192.0.2.11', ipmi_port_range_end: 6300 },
        hv2: null,
      };
      assert.deepEqual(compiled(raw).spec.hypervisors, {
        hv1: {
          physnetMappings: { physnet1: { device: 'eth2', vlan: null } },
          ipmiAddress: '192.0.2.11',
          ipmiPortRange: { start: 6230, end: 6300 },
          redfishAddress: '0.0.0.0',
        },
        hv2: {
          physnetMappings: { physnet1: { device: 'eth1', vlan: null } },
          ipmiAddress: '192.0.2.1',
          ipmiPortRange: null,
          redfishAddress: '0.0.0.0',
        },
      });
    });

    it('maps a bare backing_image name into the dir pool, as upstream names pool volumes', () => {
      const raw = base();
      raw.libvirt_pool_path = '/pool/';
      raw.node_types.type0!.volumes = [{ capacity: '4GiB', backing_image: 'cirros.qcow2' }];
      assert.deepEqual(compiled(raw).spec.nodeTypes.type0?.volumes[0]?.source, {
        kind: 'backing',
        path: '/pool/cirros.qcow2',
      });
    });

    it('accepts the pre-Zed deploy image names with a warning', () => {
      const raw = base();
      delete raw.deploy_kernel;
      raw.deploy_kernel_uuid = 'k-uuid';
      const r = compiled(raw);
      assert.equal(r.spec.deployKernel, 'k-uuid');
      assert.deepEqual(
        r.warnings.map((w) => w.field),
        ['deploy_kernel_uuid'],
      );
    });
  });

  describe('errors, each at its path', () => {
    it('names an unknown node type in specs, with the known ones', () => {
      const raw = base();
      raw.specs.push({ type: 'big', count: 1, node_name_prefix: 'b' });
      assertError(raw, 'specs[1].type', /^unknown node type 'big' \(known: type0\)$/);
    });

    it('suggests a node type close to the one given', () => {
      const raw = base();
      raw.specs = [{ type: 'typo0', count: 1 }];
      assertError(raw, 'specs[0].type', /did you mean 'type0'/);
    });

    it('checks volume capacities', () => {
      const raw = base();
      raw.node_types.type0!.volumes = [{ capacity: '10GiB' }, { capacity: '10 parsecs' }];
      assertError(raw, 'node_types.type0.volumes[1].capacity', /unknown size unit 'parsecs'/);
      raw.node_types.type0!.volumes = [{ capacity: '10GiB' }, { capacity: 0 }];
      assertError(raw, 'node_types.type0.volumes[1].capacity', /positive/);
      raw.node_types.type0!.volumes = [{ capacity: '10GiB' }, { capacity: true }];
      assertError(raw, 'node_types.type0.volumes[1].capacity', /expected a size/);
      raw.node_types.type0!.volumes = [{ capacity: '10GiB' }, { format: 'raw' }];
      assertError(raw, 'node_types.type0.volumes[1].capacity', /required/);
    });

    it('names an unknown node type of a flavor', () => {
      const raw = base();
      raw.nova_flavors = [{ resource_class: 'baremetal', node_type: 'type9' }];
      assertError(raw, 'nova_flavors[0].node_type', /unknown node type 'type9'/);
    });

    it('checks count', () => {
      const raw = base();
      raw.specs = [{ type: 'type0', count: -1 }];
      assertError(raw, 'specs[0].count', /0 or more/);
      raw.specs = [{ type: 'type0', count: 1.5 }];
      assertError(raw, 'specs[0].count', /whole number/);
      raw.specs = [{ type: 'type0', count: '3' }];
      assertError(raw, 'specs[0].count', /expected number, got '3'/);
      raw.specs = [{ type: 'type0', count: 0 }];
      assert.equal(compiled(raw).spec.specs[0]?.count, 0);
    });

    it('requires type and count', () => {
      const raw = base();
      raw.specs = [{}];
      assertErrors(raw, [
        ['specs[0].type', /^required$/],
        ['specs[0].count', /^required$/],
      ]);
    });

    it('checks memory and vCPUs', () => {
      const raw = base();
      raw.node_types.type0!.memory_mb = 32;
      raw.node_types.type0!.vcpus = 0;
      assertErrors(raw, [
        ['node_types.type0.memory_mb', /at least 64/],
        ['node_types.type0.vcpus', /1-512/],
      ]);
      delete raw.node_types.type0!.memory_mb;
      raw.node_types.type0!.vcpus = 1;
      assertError(raw, 'node_types.type0.memory_mb', /^required$/);
    });

    it('checks the cluster name, bridge type and driver', () => {
      assertErrors({ name: 'Lab_1', bridge_type: 'ovs', default_ironic_driver: 'idrac' }, [
        ['name', /'Lab_1' is not a usable cluster name/],
        ['bridge_type', /'ovs' is not one of openvswitch, linuxbridge/],
        ['default_ironic_driver', /'idrac' is not one of ipmi, redfish/],
      ]);
      const raw = base();
      raw.specs = [{ type: 'type0', count: 1, ironic_driver: 'redfsh' }];
      assertError(raw, 'specs[0].ironic_driver', /did you mean 'redfish'/);
      assertError({ name: 'x'.repeat(64) }, 'name', /cluster name/);
    });

    it('refuses empty and over-long BMC credentials', () => {
      assertErrors({ ipmi_password: '', redfish_password: '', ipmi_username: '' }, [
        ['ipmi_password', /must not be empty/],
        ['redfish_password', /must not be empty/],
        ['ipmi_username', /must not be empty/],
      ]);
      assertErrors({ ipmi_password: 'x'.repeat(21), ipmi_username: 'u'.repeat(17) }, [
        ['ipmi_password', /20 bytes/],
        ['ipmi_username', /16 bytes/],
      ]);
    });

    it('counts IPMI credential lengths in bytes and never shows a password', () => {
      assertError({ ipmi_password: 'é'.repeat(11) }, 'ipmi_password', /20 bytes/);
      assert.ok(compiled({ ipmi_password: 'é'.repeat(10) }));
      const e = assertErrors({ ipmi_password: 123456, redfish_password: 987654 }, [
        ['ipmi_password', /expected string, got a value \(not shown\)/],
        ['redfish_password', /expected string, got a value \(not shown\)/],
      ]);
      assert.doesNotMatch(e.message, /123456|987654/);
    });

    it('checks IPMI port ranges, globally and per hypervisor', () => {
      assertError({ ipmi_port_range_start: 7000, ipmi_port_range_end: 6000 }, 'ipmi_port_range_end', /7000-6000/);
      assertError({ ipmi_port_range_start: 7000 }, 'ipmi_port_range_start', /defaults to 6240/);
      assertError({ ipmi_port_range_end: 70000 }, 'ipmi_port_range_end', /1-65535/);
      const raw = base();
      raw.hypervisors = { hv1: { ipmi_port_range_start: 6300, ipmi_port_range_end: 6299 } };
      assertError(raw, 'hypervisors.hv1.ipmi_port_range_end', /ends before it starts/);
    });

    it('refuses more IPMI nodes than the listed hypervisors have ports', () => {
      const raw = base();
      raw.specs = [{ type: 'type0', count: 12 }];
      raw.ipmi_port_range_start = 6230;
      raw.ipmi_port_range_end = 6235;
      raw.hypervisors = { hv1: {}, hv2: {} };
      assert.ok(compiled(raw));
      raw.specs = [{ type: 'type0', count: 13 }];
      assertError(raw, 'ipmi_port_range_end', /13 nodes use IPMI but the listed hypervisors have 12 IPMI ports/);
    });

    it('checks physnet mappings', () => {
      const raw = base();
      raw.physnet_mappings = {
        physnet1: 'eth1:5000',
        physnet2: 'a b',
        physnet3: 'averyveryverylongname',
        physnet4: 'eth2:1:2',
        'bad name!': 'eth3',
      };
      assertErrors(raw, [
        ['physnet_mappings.physnet1', /VLAN '5000'/],
        ['physnet_mappings.physnet2', /characters Linux refuses/],
        ['physnet_mappings.physnet3', /1-15 characters/],
        ['physnet_mappings.physnet4', /not a device or device:VLAN/],
        ['physnet_mappings.bad name!', /not a usable physnet name/],
      ]);
    });

    it('lets physnets share a device only on distinct VLANs', () => {
      const raw = base();
      raw.physnet_mappings = { physnet1: 'bond0', physnet2: 'bond0:10' };
      assertErrors(raw, [['physnet_mappings.physnet1', /also used by physnet 'physnet2'.*own VLAN/]]);
      raw.physnet_mappings = { physnet1: 'bond0:10', physnet2: 'bond0:10' };
      assertErrors(raw, [['physnet_mappings.physnet2', /own VLAN/]]);
    });

    it('requires a node type physnet to be mapped on some listed hypervisor', () => {
      const raw = base();
      raw.physnet_mappings = {};
      raw.hypervisors = { hv1: {}, hv2: { physnet_mappings: { physnet2: 'eth2' } } };
      assertError(
        raw,
        'node_types.type0.physical_networks[0]',
        /physnet 'physnet1' is not mapped on any listed hypervisor \(hv1, hv2\) \(did you mean 'physnet2'\?\)/,
      );
      raw.hypervisors = { hv1: {}, hv2: { physnet_mappings: { physnet1: 'eth2' } } };
      assert.deepEqual(compiled(raw).warnings, []);
    });

    it('lets a host mapping replace the global one without losing the physnet elsewhere', () => {
      const raw = base();
      raw.hypervisors = { hv1: { physnet_mappings: { physnet2: 'eth2' } }, hv2: {} };
      const s = compiled(raw).spec;
      assert.deepEqual(Object.keys(s.hypervisors?.hv1?.physnetMappings ?? {}), ['physnet2']);
      assert.deepEqual(Object.keys(s.hypervisors?.hv2?.physnetMappings ?? {}), ['physnet1']);
    });

    it('only warns about an unmapped physnet when any live agent may have it', () => {
      const raw = base();
      raw.physnet_mappings = {};
      const r = compiled(raw);
      assert.deepEqual(
        r.warnings.map((w) => w.field),
        ['node_types.type0.physical_networks[0]'],
      );
      assert.match(r.warnings[0]!.message, /only go to hypervisors where it is already set up/);
    });

    it('refuses an empty hypervisors list', () => {
      const raw = base();
      raw.hypervisors = {};
      assertError(raw, 'hypervisors', /lists no hypervisor/);
    });

    it('finds node names that two prefixes both make', () => {
      const raw = base();
      raw.specs = [
        { type: 'type0', count: 12, node_name_prefix: 'tk' },
        { type: 'type0', count: 1, node_name_prefix: 'tk1' },
      ];
      assertError(raw, 'specs[1].node_name_prefix', /node name 'tk10' is also made by specs\[0\] \(prefix 'tk'\)/);
    });

    it('lets specs share a prefix (one index sequence), as upstream CI files do, without a warning', () => {
      const raw = base();
      raw.specs = [
        { type: 'type0', count: 2 },
        { type: 'type0', count: 2 },
      ];
      assert.deepEqual(warningFields(raw), []);
      assert.deepEqual(
        expandNodes(compiled(raw).spec).map((n) => n.name),
        ['tk0', 'tk1', 'tk2', 'tk3'],
      );
    });

    it('refuses node names longer than libvirt domain names may be here', () => {
      const raw = base();
      raw.specs = [{ type: 'type0', count: 11, node_name_prefix: 'n'.repeat(62) }];
      assertError(raw, 'specs[0].node_name_prefix', /64 characters/);
      raw.specs = [{ type: 'type0', count: 10, node_name_prefix: 'n'.repeat(62) }];
      assert.ok(compiled(raw));
      raw.node_name_prefix = 'n'.repeat(62);
      raw.specs = [{ type: 'type0', count: 11 }];
      assertError(raw, 'specs[0].count', /would reach/);
      raw.node_name_prefix = '-tk';
      assertError(raw, 'node_name_prefix', /not a usable node name prefix/);
    });

    it('checks volume names made from vol_name_prefix and explicit names', () => {
      const raw = base();
      raw.specs = [{ type: 'type0', count: 1, vol_name_prefix: 'v'.repeat(32) }];
      assertError(raw, 'specs[0].vol_name_prefix', /'v{32}0' is not usable/);
      raw.specs = [{ type: 'type0', count: 1 }];
      raw.node_types.type0!.volumes = [{ capacity: '1GiB', name: 'vol1' }, { capacity: '1GiB' }];
      assertError(raw, 'specs[0].vol_name_prefix', /would be named 'vol1', like volume 0/);
      raw.node_types.type0!.volumes = [
        { capacity: '1GiB', name: 'data' },
        { capacity: '1GiB', name: 'data' },
      ];
      assertError(raw, 'node_types.type0.volumes[1].name', /duplicate volume name 'data'/);
    });

    it('checks volume sources', () => {
      const raw = base();
      raw.node_types.type0!.volumes = [
        { capacity: '1GiB', image: '/a', backing_image: '/b' },
        { capacity: '1GiB', image: 'https://example.com/cirros.img' },
        { capacity: '1GiB', image: 'relative.qcow2' },
        { capacity: '1GiB', backing_image: '/base.qcow2', format: 'raw' },
        { capacity: '1GiB', backing_image: 'dir/base.qcow2' },
      ];
      assertErrors(raw, [
        [
          'node_types.type0.volumes[0]',
          /at most one of image, backing_image and existing \(got image, backing_image\)/,
        ],
        ['node_types.type0.volumes[1].image', /is a URL: tenks does not download images/],
        ['node_types.type0.volumes[2].image', /absolute path/],
        ['node_types.type0.volumes[3].format', /must be qcow2/],
        ['node_types.type0.volumes[4].backing_image', /absolute path, or the name of a volume/],
      ]);
      raw.libvirt_pool_type = 'logical';
      raw.node_types.type0!.volumes = [{ capacity: '1GiB', backing_image: 'base' }];
      assertError(raw, 'node_types.type0.volumes[0].backing_image', /only works with a dir pool/);
    });

    it('refuses an existing volume shared by several nodes unless it names the node', () => {
      const raw = base();
      raw.node_types.type0!.volumes = [{ existing: '/dev/vg0/data' }];
      assertError(raw, 'node_types.type0.volumes[0].existing', /same disk in all 2 nodes/);
      raw.node_types.type0!.volumes = [{ existing: '/dev/vg0/{node}-data' }];
      assert.equal(compiled(raw).spec.nodeTypes.type0?.volumes[0]?.capacityBytes, null);
      raw.node_types.type0!.volumes = [{ existing: '/dev/vg0/data' }];
      raw.specs = [{ type: 'type0', count: 1 }];
      assert.ok(compiled(raw));
    });

    it('refuses a boot mode capability that contradicts the node type', () => {
      const raw = base();
      raw.node_types.type0!.boot_mode = 'uefi';
      raw.specs = [
        {
          type: 'type0',
          count: 1,
          ironic_config: { resource_class: 'rc', properties: { capabilities: 'boot_mode:bios' } },
        },
      ];
      assertError(
        raw,
        'specs[0].ironic_config.properties.capabilities',
        /boot_mode:bios contradicts node type 'type0'/,
      );
      raw.specs = [
        {
          type: 'type0',
          count: 1,
          ironic_config: { resource_class: 'rc', properties: { capabilities: 'boot_mode:efi' } },
        },
      ];
      assertError(raw, 'specs[0].ironic_config.properties.capabilities', /'efi' in capabilities is not uefi or bios/);
      raw.node_types.type0!.boot_firmware = 'bios';
      raw.specs = [{ type: 'type0', count: 1 }];
      assertError(raw, 'node_types.type0.boot_firmware', /contradicts boot_mode uefi/);
    });

    it('checks ironic_config', () => {
      const raw = base();
      raw.specs = [
        {
          type: 'type0',
          count: 1,
          ironic_config: {
            resource_class: '',
            traits: ['custom_lower'],
            deploy_iface: 'direct',
            properties: { x: [1] },
          },
        },
      ];
      assertErrors(raw, [
        ['specs[0].ironic_config.resource_class', /must not be empty/],
        ['specs[0].ironic_config.traits[0]', /not an Ironic trait/],
        ['specs[0].ironic_config.deploy_iface', /unknown key 'deploy_iface'/],
        ['specs[0].ironic_config.properties.x', /expected a string, number or boolean/],
      ]);
    });

    it('checks nova flavors', () => {
      const raw = base();
      raw.nova_flavors = [
        { resource_class: 'baremetal', node_type: 'type0' },
        {
          resource_class: 'baremetal',
          node_type: 'type0',
          required_traits: ['CUSTOM_A'],
          forbidden_traits: ['CUSTOM_A'],
        },
        { node_type: 'type0', name: 'f' },
      ];
      assertErrors(raw, [
        ['nova_flavors[1].resource_class', /flavor name 'baremetal' is also used by nova_flavors\[0\]/],
        ['nova_flavors[1].forbidden_traits', /CUSTOM_A both required and forbidden/],
        ['nova_flavors[2].resource_class', /^required$/],
      ]);
    });

    it('warns about a flavor whose resource class no spec enrols', () => {
      const raw = base();
      raw.nova_flavors = [{ resource_class: 'other', node_type: 'type0' }];
      assert.deepEqual(warningFields(raw), ['nova_flavors[0].resource_class']);
    });

    it('checks the scheduler section', () => {
      assertErrors(
        {
          scheduler: {
            strategy: 'rnd',
            weights: { ram: -1 },
            cpu_allocation_ratio: 0,
            seed: 1.5,
            reserved_host_memory_mb: -5,
            spred: 1,
          },
        },
        [
          ['scheduler.strategy', /'rnd' is not one of spread, pack, round_robin, random/],
          ['scheduler.weights.ram', />= 0/],
          ['scheduler.cpu_allocation_ratio', /> 0/],
          ['scheduler.seed', /expected a whole number, got 1.5/],
          ['scheduler.reserved_host_memory_mb', />= 0/],
          ['scheduler.spred', /unknown key 'spred'/],
        ],
      );
      assertError({ scheduler: { weights: { ram: 0, vcpus: 0, disk: 0 } } }, 'scheduler.weights', /above 0/);
    });

    it('refuses more nodes than one cluster may have', () => {
      const raw = base();
      raw.specs = [{ type: 'type0', count: 100_001 }];
      assertError(raw, 'specs', /100,001 nodes; one cluster has at most 100,000/);
    });

    it('refuses contradicting old and new deploy image names', () => {
      const raw = base();
      raw.deploy_ramdisk_uuid = 'other';
      assertError(raw, 'deploy_ramdisk_uuid', /contradicts deploy_ramdisk/);
    });

    it('refuses a spec that is not a mapping', () => {
      assertError([], '(root)', /mapping/);
      assertError('name: x', '(root)', /mapping/);
    });

    it('reports every problem at once', () => {
      const raw = base();
      raw.name = 'Bad Name';
      raw.node_types.type0!.volumes = [{ capacity: '10GiB' }, { capacity: 'lots' }];
      raw.node_types.type0!.memroy_mb = 2048;
      raw.specs = [
        { type: 'type0', count: 1 },
        { type: 'big', count: -2 },
      ];
      raw.nova_flavors = [{ resource_class: 'baremetal', node_type: 'huge' }];
      raw.scheduler = { strategy: 'pak' };
      const e = assertErrors(raw, [
        ['name', /cluster name/],
        ['node_types.type0.volumes[1].capacity', /'lots' is not a size/],
        ['node_types.type0.memroy_mb', /did you mean 'memory_mb'/],
        ['specs[1].count', /0 or more/],
        ['specs[1].type', /unknown node type 'big'/],
        ['nova_flavors[0].node_type', /unknown node type 'huge'/],
        ['scheduler.strategy', /did you mean 'pack'/],
      ]);
      assert.equal(e.field, e.details[0]?.field);
      // In the order of the sections in the document.
      const sections = e.details.map((d) => d.field.split(/[.[]/)[0]);
      assert.deepEqual([...new Set(sections)], ['node_types', 'specs', 'name', 'nova_flavors', 'scheduler']);
      assert.match(e.message, /^node_types\./);
      assert.match(e.message, /\nspecs\[1\]\.type: unknown node type 'big'/);
      assert.equal(e.hint, 'fix lab.yaml and try again');
    });
  });

  describe('unknown keys', () => {
    it('warns about unknown top-level and node type keys', () => {
      const raw = base();
      raw.site_owner = 'lab team';
      raw.node_types.type0!.rack = 'r1';
      (raw.node_types.type0!.volumes as Record<string, unknown>[])[0]!.tier = 'fast';
      const r = compiled(raw);
      assert.deepEqual(r.warnings, [
        { field: 'site_owner', message: "unknown key 'site_owner', ignored" },
        { field: 'node_types.type0.rack', message: "unknown key 'rack', ignored" },
        { field: 'node_types.type0.volumes[0].tier', message: "unknown key 'tier', ignored" },
      ]);
    });

    it('says which upstream and Ansible settings have no effect', () => {
      const raw = base();
      raw.bridge_prefix = 'brtenks';
      raw.ansible_python_interpreter = '/usr/bin/python3';
      raw.node_types.type0!.engine = 'kvm';
      (raw.node_types.type0!.volumes as Record<string, unknown>[])[0]!.pool = 'default';
      const r = compiled(raw);
      assert.deepEqual(
        r.warnings.map((w) => w.field),
        ['bridge_prefix', 'ansible_python_interpreter', 'node_types.type0.engine', 'node_types.type0.volumes[0].pool'],
      );
      assert.ok(r.warnings.every((w) => w.message.includes('has no effect in tenks')));
    });

    it('makes near misses of known keys errors, with a suggestion', () => {
      const raw = base();
      raw.ipmi_adress = '192.0.2.1';
      raw.node_types.type0!.memroy_mb = 2;
      raw.node_types.type0!.Vcpus = 2;
      (raw.node_types.type0!.volumes as Record<string, unknown>[])[0]!.capcity = '1GiB';
      raw.specs = [{ type: 'type0', cuont: 2, count: 1 }];
      raw.hypervisors = { hv1: { physnet_mapping: {} } };
      assertErrors(raw, [
        ['ipmi_adress', /^unknown key 'ipmi_adress' \(did you mean 'ipmi_address'\?\)$/],
        ['node_types.type0.memroy_mb', /did you mean 'memory_mb'/],
        ['node_types.type0.Vcpus', /did you mean 'vcpus'/],
        ['node_types.type0.volumes[0].capcity', /did you mean 'capacity'/],
        ['specs[0].cuont', /did you mean 'count'/],
        ['hypervisors.hv1.physnet_mapping', /did you mean 'physnet_mappings'/],
      ]);
    });

    it('makes unknown keys of strict sections errors', () => {
      const raw = base();
      raw.specs = [{ type: 'type0', count: 1, colour: 'blue' }];
      assertError(raw, 'specs[0].colour', /^unknown key 'colour'$/);
    });
  });
});

describe("upstream's empty values and libvirt-vm variables", () => {
  const type = (fields: Record<string, unknown>): Record<string, unknown> => {
    const spec = base();
    Object.assign(spec.node_types.type0 ?? {}, fields);
    return spec;
  };
  const type0 = (fields: Record<string, unknown>) => compiled(type(fields)).spec.nodeTypes.type0;

  it('reads an empty cpu_mode as no <cpu> element, and a missing one as the default', () => {
    assert.equal(type0({ cpu_mode: null })?.cpuMode, 'none');
    assert.equal(type0({ cpu_mode: '' })?.cpuMode, 'none');
    assert.equal(type0({})?.cpuMode, null);
    assert.equal(type0({ cpu_mode: 'maximum' })?.cpuMode, 'maximum');
  });

  it('reads other empty node type keys as their defaults', () => {
    const t = type0({
      machine: '',
      console_log_enabled: null,
      enable_vnc: null,
      boot_firmware: '',
      ironic_driver: null,
      clock_offset: false,
      physical_networks: null,
      volumes: null,
    });
    assert.ok(t);
    assert.equal(t.machine, null);
    assert.equal(t.consoleLog, false);
    assert.equal(t.vnc, false);
    assert.equal(t.bootMode, null);
    assert.equal(t.ironicDriver, null);
    assert.equal(t.clockOffset, null);
    assert.deepEqual(t.physicalNetworks, []);
    assert.deepEqual(t.volumes, []);
    assert.equal(type0({ boot_firmware: 'EFI' })?.bootMode, 'uefi');
    assert.equal(type0({ machine: null })?.machine, null);
  });

  it('reads empty ironic_config, flavor and top-level lists as their defaults', () => {
    const spec = base();
    spec.specs = [
      {
        type: 'type0',
        count: 1,
        ironic_config: { resource_class: 'rc', traits: null, properties: null, network_interface: null, shard: null },
      },
    ];
    spec.nova_flavors = [
      { resource_class: 'rc', node_type: 'type0', name: null, required_traits: null, custom_specs: null },
    ];
    const { spec: c } = compiled(spec);
    assert.deepEqual(c.specs[0]?.ironicConfig, {
      resourceClass: 'rc',
      traits: [],
      properties: {},
      interfaces: {},
      conductorGroup: null,
      shard: null,
    });
    assert.deepEqual(c.novaFlavors[0], {
      name: 'rc',
      resourceClass: 'rc',
      nodeType: 'type0',
      requiredTraits: [],
      forbiddenTraits: [],
      customSpecs: {},
    });
    const empty = compiled({ node_types: null, specs: null, nova_flavors: null, physnet_mappings: null }).spec;
    assert.deepEqual([empty.nodeTypes, empty.specs, empty.novaFlavors, empty.physnetMappings], [{}, [], [], {}]);
  });

  it('reads wait_for_placement and libvirt_vm_trust_guest_rx_filters as upstream: missing true, empty false', () => {
    assert.equal(compiled({}).spec.waitForPlacement, true);
    assert.equal(compiled({ wait_for_placement: null }).spec.waitForPlacement, false);
    assert.equal(compiled({}).spec.libvirtVm.trustGuestRxFilters, true);
    assert.equal(compiled({ libvirt_vm_trust_guest_rx_filters: null }).spec.libvirtVm.trustGuestRxFilters, false);
    assert.equal(compiled({ libvirt_vm_trust_guest_rx_filters: false }).spec.libvirtVm.trustGuestRxFilters, false);
  });

  it('honours the libvirt_vm_* variables, with no warnings', () => {
    const { spec, warnings } = compiled({
      libvirt_vm_engine: 'qemu',
      libvirt_vm_emulator:
        "{% if ansible_facts.os_family == 'RedHat' %}/usr/libexec/qemu-kvm{% else %}/usr/bin/qemu-system-x86_64{% endif %}",
      libvirt_vm_default_console_log_dir: '/var/log/kolla/tenks',
      libvirt_vm_log_owner: 42436,
      libvirt_vm_trust_guest_rx_filters: false,
      libvirt_vm_clock_offset: 'localtime',
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(spec.libvirtVm, {
      engine: 'qemu',
      emulator:
        "{% if ansible_facts.os_family == 'RedHat' %}/usr/libexec/qemu-kvm{% else %}/usr/bin/qemu-system-x86_64{% endif %}",
      consoleLogDir: '/var/log/kolla/tenks',
      logOwner: '42436',
      trustGuestRxFilters: false,
      clockOffset: 'localtime',
    });
    const empty = compiled({
      libvirt_vm_engine: null,
      libvirt_vm_emulator: '',
      libvirt_vm_default_console_log_dir: null,
      libvirt_vm_log_owner: null,
      libvirt_vm_clock_offset: false,
    }).spec.libvirtVm;
    assert.deepEqual(empty, {
      engine: null,
      emulator: null,
      consoleLogDir: null,
      logOwner: null,
      trustGuestRxFilters: true,
      clockOffset: null,
    });
  });

  it('refuses libvirt_vm_* values it cannot use, naming each', () => {
    assertErrors(
      {
        libvirt_vm_engine: 'xen',
        libvirt_vm_emulator: '{{ lookup("env", "QEMU") }}',
        libvirt_vm_default_console_log_dir: 'logs',
        libvirt_vm_log_owner: 'a b',
        libvirt_vm_clock_offset: 'utc; reboot',
      },
      [
        ['libvirt_vm_engine', /kvm.*qemu/],
        ['libvirt_vm_emulator', /lookup.*give the emulator's path/],
        ['libvirt_vm_default_console_log_dir', /absolute/],
        ['libvirt_vm_log_owner', /user name or a numeric uid/],
        ['libvirt_vm_clock_offset', /time zone/],
      ],
    );
    assertError({ libvirt_vm_emulator: 'qemu-system-x86_64' }, 'libvirt_vm_emulator', /absolute path/);
  });

  it('names the tenks setting that replaces each upstream variable it ignores', () => {
    const { warnings } = compiled({
      veth_bridge_peer_suffix: '-ovs',
      veth_node_peer_suffix: '-ovs',
      libvirt_custom_socket_path: '/var/run/libvirt-tenks',
      libvirt_host_install_daemon: false,
      libvirt_host_configure_apparmor: true,
    });
    const by = Object.fromEntries(warnings.map((w) => [w.field, w.message]));
    assert.match(by.veth_bridge_peer_suffix ?? '', /no effect/);
    assert.match(by.veth_node_peer_suffix ?? '', /no effect/);
    assert.match(by.libvirt_custom_socket_path ?? '', /libvirt_uri: qemu\+unix:\/\/\/system\?socket=/);
    assert.match(by.libvirt_host_install_daemon ?? '', /setup\.sh/);
    assert.match(by.libvirt_host_configure_apparmor ?? '', /setup\.sh/);
  });
});

describe('guest architecture (libvirt_vm_arch, node type arch)', () => {
  const withType = (t: Record<string, unknown>, top: Record<string, unknown> = {}): Record<string, unknown> => {
    const raw = base();
    Object.assign(raw.node_types.type0!, t);
    return { ...raw, ...top };
  };

  it('reads libvirt_vm_arch and the node type arch, which no longer warns', () => {
    const c = compiled(withType({ arch: 'aarch64' }, { libvirt_vm_arch: 'x86_64' }));
    assert.deepEqual(c.warnings, []);
    assert.equal(c.spec.defaultArch, 'x86_64');
    assert.equal(c.spec.nodeTypes.type0?.arch, 'aarch64');
    assert.equal(compiled(withType({}, { libvirt_vm_arch: 'aarch64' })).spec.defaultArch, 'aarch64');
    // Empty and null are the default, as upstream's default() reads them.
    assert.equal(compiled(withType({ arch: '' }, { libvirt_vm_arch: null })).spec.nodeTypes.type0?.arch, null);
    assert.equal(compiled(withType({}, { libvirt_vm_arch: '' })).spec.defaultArch, 'x86_64');
  });

  it('refuses any other architecture, naming the field', () => {
    assertErrors(withType({ arch: 'armv7l' }, { libvirt_vm_arch: 'ppc64le' }), [
      ['libvirt_vm_arch', /expected x86_64 or aarch64/],
      ['node_types.type0.arch', /expected x86_64 or aarch64/],
    ]);
    assertError(withType({ arch: 64 }), 'node_types.type0.arch', /expected x86_64 or aarch64/);
  });

  it('refuses BIOS for an aarch64 node type, where the type or the capabilities ask for it', () => {
    assertError(
      withType({ arch: 'aarch64', boot_mode: 'bios' }),
      'node_types.type0.boot_mode',
      /aarch64.*UEFI.*no BIOS/,
    );
    const caps = withType({}, { libvirt_vm_arch: 'aarch64' });
    (caps.specs as Record<string, unknown>[])[0]!.ironic_config = {
      resource_class: 'baremetal',
      properties: { capabilities: 'boot_mode:bios' },
    };
    assertError(caps, 'specs[0].ironic_config.properties.capabilities', /'type0' is aarch64/);
  });

  it('boots aarch64 nodes UEFI whatever default_boot_mode says (it is for nodes that have a choice)', () => {
    const c = compiled(withType({ arch: 'aarch64' }, { default_boot_mode: 'bios' }));
    assert.equal(c.spec.specs[0]?.bootMode, 'uefi');
    const x86 = compiled(withType({}, { default_boot_mode: 'bios' }));
    assert.equal(x86.spec.specs[0]?.bootMode, 'bios');
  });
});
