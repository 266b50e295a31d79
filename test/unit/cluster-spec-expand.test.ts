import assert from 'node:assert/strict';
import { compileClusterSpec, expandNodes, type DesiredNode } from '../../common/spec/index.js';

const GiB = 1024 ** 3;

function nodes(raw: Record<string, unknown>): DesiredNode[] {
  return expandNodes(compileClusterSpec(raw).spec);
}

/** A spec with node types a (one volume) and b (two volumes), and the given specs. */
function withSpecs(specs: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'lab1',
    physnet_mappings: { physnet1: 'eth1', physnet2: 'eth2' },
    node_types: {
      a: { memory_mb: 1024, vcpus: 1, volumes: [{ capacity: '10GiB' }], physical_networks: ['physnet1'] },
      b: {
        memory_mb: 2048,
        vcpus: 2,
        volumes: [{ capacity: '20GiB' }, { capacity: '1GiB', format: 'raw' }],
        physical_networks: ['physnet1', 'physnet2'],
      },
    },
    specs,
    ...extra,
  };
}

const names = (ns: readonly DesiredNode[]): string[] => ns.map((n) => n.name);

describe('expandNodes', () => {
  it('makes every field of a node', () => {
    const [n, ...rest] = nodes(
      withSpecs([
        {
          type: 'b',
          count: 1,
          ironic_config: { resource_class: 'rc', traits: ['CUSTOM_X'] },
        },
      ]),
    );
    assert.equal(rest.length, 0);
    assert.deepEqual(n, {
      cluster: 'lab1',
      name: 'tk0',
      index: 0,
      specIndex: 0,
      nodeType: 'b',
      memoryMb: 2048,
      vcpus: 2,
      volumes: [
        { name: 'vol0', capacityBytes: 20 * GiB, format: 'qcow2', source: { kind: 'blank' } },
        { name: 'vol1', capacityBytes: 1 * GiB, format: 'raw', source: { kind: 'blank' } },
      ],
      physnets: ['physnet1', 'physnet2'],
      bootMode: 'uefi',
      arch: 'x86_64',
      consoleLog: false,
      vnc: false,
      machine: null,
      cpuMode: null,
      libvirt: {
        engine: null,
        emulator: null,
        consoleLogDir: null,
        logOwner: null,
        trustGuestRxFilters: true,
        clockOffset: null,
      },
      driver: 'ipmi',
      ironicConfig: {
        resourceClass: 'rc',
        traits: ['CUSTOM_X'],
        properties: {},
        interfaces: {},
        conductorGroup: null,
        shard: null,
      },
      fingerprint: n?.fingerprint,
    });
    assert.match(n.fingerprint, /^[0-9a-f]{16}$/);
  });

  it("gives each node the libvirt-vm settings of its cluster, with its type's clock and the log directory", () => {
    const [n] = nodes({
      ...withSpecs([{ type: 'a', count: 1 }]),
      log_directory: '/srv/logs/',
      libvirt_vm_engine: 'qemu',
      libvirt_vm_log_owner: 'nova',
      libvirt_vm_clock_offset: 'utc',
    });
    assert.deepEqual(n?.libvirt, {
      engine: 'qemu',
      emulator: null,
      consoleLogDir: '/srv/logs/libvirt',
      logOwner: 'nova',
      trustGuestRxFilters: true,
      clockOffset: 'utc',
    });
    const [m] = nodes({
      ...withSpecs([{ type: 'a', count: 1 }]),
      log_directory: '/srv/logs/',
      libvirt_vm_default_console_log_dir: '/var/log/kolla/tenks',
    });
    assert.equal(m?.libvirt.consoleLogDir, '/var/log/kolla/tenks');
  });

  it('keeps the fingerprint of nodes whose libvirt-vm settings are at their old defaults', () => {
    const [a] = nodes({ ...withSpecs([{ type: 'a', count: 1 }]), libvirt_vm_trust_guest_rx_filters: false });
    const [b] = nodes({
      ...withSpecs([{ type: 'a', count: 1 }]),
      libvirt_vm_trust_guest_rx_filters: false,
      libvirt_vm_engine: '',
      libvirt_vm_clock_offset: false,
    });
    const [c] = nodes({ ...withSpecs([{ type: 'a', count: 1 }]), libvirt_vm_engine: 'qemu' });
    assert.equal(a?.fingerprint, b?.fingerprint);
    assert.notEqual(a?.fingerprint, c?.fingerprint);
  });

  it('gives nodes the architecture of their type, else libvirt_vm_arch, else x86_64', () => {
    const types = (raw: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
      const t = raw.node_types as Record<string, Record<string, unknown>>;
      t.b = { ...t.b, ...b };
      return raw;
    };
    const arches = (raw: Record<string, unknown>): string[] => nodes(raw).map((n) => `${n.name}:${n.arch}`);
    const specs = [
      { type: 'a', count: 1 },
      { type: 'b', count: 1 },
    ];
    assert.deepEqual(arches(withSpecs(specs)), ['tk0:x86_64', 'tk1:x86_64']);
    assert.deepEqual(arches(withSpecs(specs, { libvirt_vm_arch: 'aarch64' })), ['tk0:aarch64', 'tk1:aarch64']);
    assert.deepEqual(arches(types(withSpecs(specs, { libvirt_vm_arch: 'aarch64' }), { arch: 'x86_64' })), [
      'tk0:aarch64',
      'tk1:x86_64',
    ]);
    assert.deepEqual(arches(types(withSpecs(specs), { arch: 'aarch64' })), ['tk0:x86_64', 'tk1:aarch64']);
    // Empty values mean the default, as upstream's default() reads them.
    assert.deepEqual(arches(types(withSpecs(specs, { libvirt_vm_arch: '' }), { arch: null })), [
      'tk0:x86_64',
      'tk1:x86_64',
    ]);
  });

  it('keeps the fingerprint of x86_64 nodes made before architectures, and changes it for aarch64', () => {
    // Computed before nodes had an architecture: existing nodes must not look changed.
    const before = 'fba2fc6de2ad66c4';
    const raw = (extra: Record<string, unknown> = {}, a: Record<string, unknown> = {}): Record<string, unknown> => ({
      physnet_mappings: { physnet1: 'eth1' },
      node_types: {
        a: { memory_mb: 1024, vcpus: 1, volumes: [{ capacity: '10GiB' }], physical_networks: ['physnet1'], ...a },
      },
      specs: [{ type: 'a', count: 1 }],
      ...extra,
    });
    assert.equal(nodes(raw())[0]?.fingerprint, before);
    assert.equal(nodes(raw({ libvirt_vm_arch: 'x86_64' }))[0]?.fingerprint, before);
    assert.equal(nodes(raw({}, { arch: 'x86_64' }))[0]?.fingerprint, before);
    assert.notEqual(nodes(raw({}, { arch: 'aarch64' }))[0]?.fingerprint, before);
    assert.equal(
      nodes(raw({ libvirt_vm_arch: 'aarch64' }))[0]?.fingerprint,
      nodes(raw({}, { arch: 'aarch64' }))[0]?.fingerprint,
    );
  });

  it('names nodes as upstream: specs with the same prefix share one index sequence', () => {
    const ns = nodes(
      withSpecs([
        { type: 'a', count: 2 },
        { type: 'b', count: 1 },
        { type: 'a', count: 2, node_name_prefix: 'ctl' },
        { type: 'b', count: 1 },
      ]),
    );
    assert.deepEqual(names(ns), ['tk0', 'tk1', 'tk2', 'ctl0', 'ctl1', 'tk3']);
    assert.deepEqual(
      ns.map((n) => [n.specIndex, n.index, n.nodeType]),
      [
        [0, 0, 'a'],
        [0, 1, 'a'],
        [1, 2, 'b'],
        [2, 0, 'a'],
        [2, 1, 'a'],
        [3, 3, 'b'],
      ],
    );
  });

  it('uses the global node_name_prefix and vol_name_prefix, and per-spec ones', () => {
    const ns = nodes(
      withSpecs(
        [
          { type: 'b', count: 1 },
          { type: 'b', count: 1, node_name_prefix: 'x', vol_name_prefix: 'disk' },
        ],
        {
          node_name_prefix: 'node',
          vol_name_prefix: 'v',
        },
      ),
    );
    assert.deepEqual(
      ns.map((n) => [n.name, n.volumes.map((v) => v.name)]),
      [
        ['node0', ['v0', 'v1']],
        ['x0', ['disk0', 'disk1']],
      ],
    );
  });

  it('keeps explicit volume names and puts the node name into existing volumes', () => {
    const raw = withSpecs([{ type: 'c', count: 2 }]);
    (raw.node_types as Record<string, unknown>).c = {
      memory_mb: 512,
      vcpus: 1,
      volumes: [{ capacity: '1GiB', name: 'root' }, { existing: '/dev/vg0/{node}-data' }, { capacity: '1GiB' }],
    };
    const ns = nodes(raw);
    assert.deepEqual(
      ns.map((n) => n.volumes.map((v) => [v.name, v.source])),
      [
        [
          ['root', { kind: 'blank' }],
          ['vol1', { kind: 'existing', ref: '/dev/vg0/tk0-data' }],
          ['vol2', { kind: 'blank' }],
        ],
        [
          ['root', { kind: 'blank' }],
          ['vol1', { kind: 'existing', ref: '/dev/vg0/tk1-data' }],
          ['vol2', { kind: 'blank' }],
        ],
      ],
    );
    // The VM differs by its existing disk, so the fingerprints do too.
    assert.notEqual(ns[0]?.fingerprint, ns[1]?.fingerprint);
  });

  it('is deterministic', () => {
    const raw = withSpecs([
      { type: 'a', count: 3 },
      { type: 'b', count: 2, node_name_prefix: 'b' },
    ]);
    assert.deepEqual(nodes(raw), nodes(structuredClone(raw)));
  });

  it('removes the highest-numbered nodes when a count is lowered', () => {
    const before = nodes(
      withSpecs([
        { type: 'a', count: 5 },
        { type: 'b', count: 2, node_name_prefix: 'big' },
      ]),
    );
    const after = nodes(
      withSpecs([
        { type: 'a', count: 3 },
        { type: 'b', count: 2, node_name_prefix: 'big' },
      ]),
    );
    assert.deepEqual(names(before), ['tk0', 'tk1', 'tk2', 'tk3', 'tk4', 'big0', 'big1']);
    assert.deepEqual(names(after), ['tk0', 'tk1', 'tk2', 'big0', 'big1']);
    // What remains is unchanged, so nothing else is touched.
    const kept = new Map(before.map((n) => [n.name, n]));
    for (const n of after) assert.deepEqual(n, kept.get(n.name));
  });

  it('adds the next indices when a count is raised', () => {
    const before = nodes(withSpecs([{ type: 'a', count: 2 }]));
    const after = nodes(withSpecs([{ type: 'a', count: 4 }]));
    assert.deepEqual(names(after), ['tk0', 'tk1', 'tk2', 'tk3']);
    assert.deepEqual(after.slice(0, 2), before);
  });

  it('renumbers a later spec that shares the prefix when an earlier count changes', () => {
    // Documented: the names are a function of the spec alone (no state file), so the shared sequence moves.
    const before = nodes(
      withSpecs([
        { type: 'a', count: 2 },
        { type: 'b', count: 1 },
      ]),
    );
    const after = nodes(
      withSpecs([
        { type: 'a', count: 1 },
        { type: 'b', count: 1 },
      ]),
    );
    assert.deepEqual(
      before.map((n) => `${n.name}:${n.nodeType}`),
      ['tk0:a', 'tk1:a', 'tk2:b'],
    );
    assert.deepEqual(
      after.map((n) => `${n.name}:${n.nodeType}`),
      ['tk0:a', 'tk1:b'],
    );
  });

  it('skips specs with count 0 without using indices', () => {
    assert.deepEqual(
      names(
        nodes(
          withSpecs([
            { type: 'a', count: 0 },
            { type: 'b', count: 1 },
          ]),
        ),
      ),
      ['tk0'],
    );
  });

  it('gives equal VMs equal fingerprints and changes them only with the VM', () => {
    const fp = (typeA: Record<string, unknown>, spec: Record<string, unknown> = {}): string => {
      const raw = withSpecs([{ type: 'a', count: 1, ...spec }]);
      (raw.node_types as Record<string, unknown>).a = {
        memory_mb: 1024,
        vcpus: 1,
        volumes: [{ capacity: '10GiB' }],
        physical_networks: ['physnet1'],
        ...typeA,
      };
      return nodes(raw)[0]?.fingerprint ?? '';
    };
    const same = fp({});
    assert.equal(fp({}), same);
    assert.equal(fp({ volumes: [{ capacity: 10 * GiB }] }), same, 'the same size written differently');
    assert.equal(fp({}, { ironic_config: { resource_class: 'rc' } }), same, 'enrolment is not the VM');
    assert.equal(fp({}, { ironic_driver: 'redfish' }), same, 'the BMC is not the VM');
    assert.equal(fp({}, { node_name_prefix: 'other' }), same, 'the name is not the VM');
    for (const change of [
      { memory_mb: 2048 },
      { vcpus: 2 },
      { volumes: [{ capacity: '11GiB' }] },
      { volumes: [{ capacity: '10GiB', format: 'raw' }] },
      { volumes: [{ capacity: '10GiB' }, { capacity: '1GiB' }] },
      { physical_networks: ['physnet1', 'physnet1'] },
      { boot_mode: 'bios' },
      { console_log_enabled: true },
      { enable_vnc: true },
      { machine: 'pc' },
      { cpu_mode: 'host-model' },
    ])
      assert.notEqual(fp(change), same, JSON.stringify(change));
  });

  it('expands 100,000 nodes quickly', () => {
    const t0 = Date.now();
    const ns = nodes(
      withSpecs([
        { type: 'a', count: 60_000 },
        { type: 'b', count: 40_000, node_name_prefix: 'b' },
      ]),
    );
    assert.equal(ns.length, 100_000);
    assert.equal(ns[99_999]?.name, 'b39999');
    assert.ok(Date.now() - t0 < 5000);
  });
});
