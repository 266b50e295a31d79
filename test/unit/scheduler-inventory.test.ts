import assert from 'node:assert/strict';
import type { AgentHeartbeat } from '../../common/index.js';
import { compileClusterSpec, expandNodes, type ClusterSpec, type DesiredNode } from '../../common/spec/index.js';
import type { AgentView } from '../../coordinator/agents/registry.js';
import { currentOf, hostsOf } from '../../coordinator/operations/inventory.js';
import type { ObservedNode } from '../../coordinator/planner/index.js';
import type { PlacedNode } from '../../coordinator/scheduler/index.js';
import type { PlacementRecord } from '../../coordinator/state/records.js';

const GiB = 1024 ** 3;

function compile(o: Record<string, unknown> = {}): { spec: ClusterSpec; desired: DesiredNode[] } {
  const { spec } = compileClusterSpec({
    name: 'lab',
    physnet_mappings: { physnet1: 'eth1', physnet2: 'eth2:100' },
    node_types: {
      small: {
        memory_mb: 1024,
        vcpus: 1,
        volumes: [{ capacity: '10GiB' }, { capacity: '2GiB' }],
        physical_networks: ['physnet1'],
      },
    },
    specs: [{ type: 'small', count: 3 }],
    ...o,
  });
  return { spec, desired: expandNodes(spec) };
}

type HeartbeatPatch = Partial<Omit<AgentHeartbeat, 'bmc' | 'pool'>> & {
  bmc?: Partial<AgentHeartbeat['bmc']>;
  pool?: Partial<AgentHeartbeat['pool']>;
};

function agent(id: string, h: HeartbeatPatch = {}, alive = true): AgentView {
  const { bmc, pool, ...rest } = h;
  return {
    id,
    alive,
    seenMs: 1_000,
    heartbeat: {
      version: 1,
      id,
      address: `${id}:7531`,
      hostname: `${id}.lab`,
      agentVersion: '0.1.0',
      libvirtUri: 'qemu:///system',
      engine: 'kvm',
      cpus: 16,
      memoryBytes: 64 * GiB,
      freeMemoryBytes: 60 * GiB,
      uefiAvailable: true,
      physnets: [],
      nodeCount: 0,
      state: 'running',
      timeMs: 1_000,
      intervalMs: 5_000,
      ...rest,
      pool: { name: 'tenks', type: 'dir', capacityBytes: 500 * GiB, availableBytes: 400 * GiB, ...pool },
      bmc: {
        address: '192.0.2.10',
        ipmiPortStart: 6230,
        ipmiPortEnd: 6329,
        ipmiPortsUsed: 0,
        redfishUrl: 'http://192.0.2.10:8000',
        ...bmc,
      },
    },
  };
}

const physnet = (name: string, device: string): AgentHeartbeat['physnets'][number] => ({
  physnet: name,
  device,
  vlan: 0,
  bridge: `tkb-${name}`,
  bridgeMac: '02:00:00:00:00:01',
  bridgeType: 'openvswitch',
  clusters: ['lab'],
});

function placement(cluster: string, node: string, agentId: string, o: Partial<PlacementRecord> = {}): PlacementRecord {
  return {
    version: 1,
    cluster,
    node,
    agent: agentId,
    uuid: `uuid-${cluster}-${node}`,
    macs: [],
    ipmiPort: 0,
    nodeType: 'small',
    memoryMb: 512,
    vcpus: 2,
    diskBytes: 5 * GiB,
    createdMs: 1,
    ...o,
  };
}

/** Only the fields of an observed node currentOf looks at matter; the rest is as an agent reports it. */
function observed(agentId: string, name: string): ObservedNode {
  return {
    agent: agentId,
    cluster: 'lab',
    name,
    uuid: `uuid-obs-${name}`,
    nodeType: 'small',
    powerState: 'on',
    // Deliberately not the spec's: currentOf takes sizes from the spec.
    memoryMb: 4096,
    vcpus: 8,
    bootMode: 'uefi',
    machine: 'q35',
    consoleLog: false,
    volumes: [{ name: `${name}-vol0`, capacityBytes: 10 * GiB }],
    nics: [{ physnet: 'physnet1', mac: '52:54:00:00:00:01', bridge: 'b', bridgeMac: 'm', switchPort: 'p' }],
    labels: {},
    bmc: { ipmi: null, redfish: null },
  };
}

describe('hostsOf', () => {
  it('makes one host per agent with its totals and liveness', () => {
    const { spec } = compile();
    const hosts = hostsOf(spec, [agent('a1'), agent('a2', { cpus: 4 }, false)]);
    assert.deepEqual(hosts, [
      {
        id: 'a1',
        cpus: 16,
        memoryBytes: 64 * GiB,
        poolCapacityBytes: 500 * GiB,
        poolAvailableBytes: 400 * GiB,
        physnets: ['physnet1', 'physnet2'],
        bmcPortsFree: 100,
        alive: true,
        arches: ['x86_64'],
        uefiArches: ['x86_64'],
      },
      {
        id: 'a2',
        cpus: 4,
        memoryBytes: 64 * GiB,
        poolCapacityBytes: 500 * GiB,
        poolAvailableBytes: 400 * GiB,
        physnets: ['physnet1', 'physnet2'],
        bmcPortsFree: 100,
        alive: false,
        arches: ['x86_64'],
        uefiArches: ['x86_64'],
      },
    ]);
  });

  it('offers the architectures the agent reports; one older than architectures runs x86_64, UEFI if it had OVMF', () => {
    const { spec } = compile();
    const hosts = hostsOf(spec, [
      agent('arm', { arches: ['aarch64', 'i686', 'x86_64'], uefiArches: ['aarch64', 'x86_64'] }),
      agent('old'),
      agent('old-bios', { uefiAvailable: false }),
    ]);
    assert.deepEqual(
      hosts.map((h) => [h.id, h.arches, h.uefiArches]),
      [
        ['arm', ['aarch64', 'i686', 'x86_64'], ['aarch64', 'x86_64']],
        ['old', ['x86_64'], ['x86_64']],
        ['old-bios', ['x86_64'], []],
      ],
    );
  });

  it('offers the physnets the spec maps there and those the agent reports, once each, sorted', () => {
    const { spec } = compile({
      hypervisors: { a1: { physnet_mappings: { physnet1: 'br-prov' } }, a2: null },
    });
    const hosts = hostsOf(spec, [
      agent('a1', { physnets: [physnet('storage', 'eth5'), physnet('physnet1', 'br-prov')] }),
      agent('a2'),
      // Not listed in hypervisors: the global mappings, plus what it has.
      agent('a3', { physnets: [physnet('alpha', 'eth9')] }),
    ]);
    assert.deepEqual(
      hosts.map((h) => [h.id, h.physnets]),
      [
        ['a1', ['physnet1', 'storage']],
        ['a2', ['physnet1', 'physnet2']],
        ['a3', ['alpha', 'physnet1', 'physnet2']],
      ],
    );
  });

  it('offers only reported physnets when the spec maps none', () => {
    const { spec } = compile({ physnet_mappings: {} });
    assert.deepEqual(hostsOf(spec, [agent('a1', { physnets: [physnet('physnet1', 'eth1')] })])[0]?.physnets, [
      'physnet1',
    ]);
    assert.deepEqual(hostsOf(spec, [agent('a2')])[0]?.physnets, []);
  });

  it("counts the free IPMI ports of the agent's range", () => {
    const { spec } = compile();
    const free = (bmc: Partial<AgentHeartbeat['bmc']>): number | undefined =>
      hostsOf(spec, [agent('a1', { bmc })])[0]?.bmcPortsFree;
    assert.equal(free({ ipmiPortStart: 6230, ipmiPortEnd: 6240, ipmiPortsUsed: 3 }), 8);
    assert.equal(free({ ipmiPortStart: 6230, ipmiPortEnd: 6230, ipmiPortsUsed: 0 }), 1);
    assert.equal(free({ ipmiPortStart: 6230, ipmiPortEnd: 6231, ipmiPortsUsed: 5 }), 0, 'never negative');
  });

  it('treats a range starting at 0 (the OS picks ports) as unbounded', () => {
    const { spec } = compile();
    const free = (used: number): number | undefined =>
      hostsOf(spec, [agent('a1', { bmc: { ipmiPortStart: 0, ipmiPortEnd: 0, ipmiPortsUsed: used } })])[0]?.bmcPortsFree;
    assert.equal(free(0), 65_535);
    assert.equal(free(40), 65_495);
  });

  // Regression (fixed): HostInventory.bmcPortsFree is documented as "IPMI ports still free in the agent's range
  // (within the spec's range, when it sets one)", but hostsOf only looks at the agent's range. With
  // `ipmi_port_range_start/end` giving 2 ports and an agent range of 100, the scheduler may put 3
  // IPMI nodes on the host; the planner then runs out of ports and asks for port 0, so the third
  // node gets a port of the agent's choosing outside the spec's range.
  it("counts no more free ports than the spec's own range has", () => {
    const { spec } = compile({ ipmi_port_range_start: 6230, ipmi_port_range_end: 6231 });
    const hosts = hostsOf(spec, [agent('a1', { bmc: { ipmiPortStart: 6230, ipmiPortEnd: 6329, ipmiPortsUsed: 0 } })]);
    assert.ok((hosts[0]?.bmcPortsFree ?? 0) <= 2, `bmcPortsFree ${hosts[0]?.bmcPortsFree ?? 0}`);
  });
});

describe('currentOf', () => {
  const sorted = (xs: PlacedNode[]): PlacedNode[] =>
    [...xs].sort((a, b) => `${a.cluster}/${a.name}`.localeCompare(`${b.cluster}/${b.name}`));

  it("places other clusters' nodes where their placements say, with their stored sizes", () => {
    const { desired } = compile();
    const all = [placement('other', 'tk0', 'a1'), placement('other', 'tk1', 'a2', { memoryMb: 2048, diskBytes: 0 })];
    assert.deepEqual(currentOf('lab', desired, all, []), [
      { cluster: 'other', name: 'tk0', hostId: 'a1', memoryMb: 512, vcpus: 2, diskBytes: 5 * GiB },
      { cluster: 'other', name: 'tk1', hostId: 'a2', memoryMb: 2048, vcpus: 2, diskBytes: 0 },
    ]);
  });

  it("places this cluster's nodes where the agents report them, with the spec's sizes", () => {
    const { desired } = compile();
    // The placement says a1, the agent that has it is a2: the agent wins.
    const all = [placement('lab', 'tk0', 'a1')];
    assert.deepEqual(currentOf('lab', desired, all, [observed('a2', 'tk0'), observed('a1', 'tk1')]), [
      { cluster: 'lab', name: 'tk0', hostId: 'a2', memoryMb: 1024, vcpus: 1, diskBytes: 12 * GiB },
      { cluster: 'lab', name: 'tk1', hostId: 'a1', memoryMb: 1024, vcpus: 1, diskBytes: 12 * GiB },
    ]);
  });

  it('leaves out nodes of this cluster the spec no longer has, observed or placed', () => {
    const { desired } = compile({ specs: [{ type: 'small', count: 1 }] });
    const all = [placement('lab', 'tk0', 'a1'), placement('lab', 'tk5', 'a1'), placement('other', 'tk5', 'a1')];
    assert.deepEqual(
      sorted(currentOf('lab', desired, all, [observed('a1', 'tk0'), observed('a1', 'tk7')])).map((p) => [
        p.cluster,
        p.name,
      ]),
      [
        ['lab', 'tk0'],
        ['other', 'tk5'],
      ],
    );
  });

  it('places nodes no agent reports (missing, or on unreachable agents) where their placements say', () => {
    const { desired } = compile();
    const all = [placement('lab', 'tk0', 'a1'), placement('lab', 'tk1', 'a3'), placement('lab', 'tk2', 'a1')];
    assert.deepEqual(sorted(currentOf('lab', desired, all, [observed('a1', 'tk0')])), [
      { cluster: 'lab', name: 'tk0', hostId: 'a1', memoryMb: 1024, vcpus: 1, diskBytes: 12 * GiB },
      { cluster: 'lab', name: 'tk1', hostId: 'a3', memoryMb: 1024, vcpus: 1, diskBytes: 12 * GiB },
      { cluster: 'lab', name: 'tk2', hostId: 'a1', memoryMb: 1024, vcpus: 1, diskBytes: 12 * GiB },
    ]);
  });

  it('places a node observed on two agents once, on the first (as the planner keeps the first)', () => {
    const { desired } = compile();
    assert.deepEqual(
      currentOf('lab', desired, [], [observed('a2', 'tk0'), observed('a1', 'tk0')]).map((p) => p.hostId),
      ['a2'],
    );
  });

  it('does not count existing volumes as disk', () => {
    const { desired } = compile({
      node_types: {
        small: {
          memory_mb: 1024,
          vcpus: 1,
          volumes: [{ capacity: '10GiB' }, { existing: 'data-{node}', capacity: '50GiB' }],
          physical_networks: ['physnet1'],
        },
      },
    });
    assert.equal(currentOf('lab', desired, [], [observed('a1', 'tk0')])[0]?.diskBytes, 10 * GiB);
  });

  it('is empty for nothing placed or observed', () => {
    assert.deepEqual(currentOf('lab', compile().desired, [], []), []);
  });
});
