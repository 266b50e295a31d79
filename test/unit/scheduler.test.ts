import assert from 'node:assert/strict';
import { TenksError } from '../../common/errors.js';
import { compileClusterSpec, expandNodes } from '../../common/spec/index.js';
import {
  nodeDemand,
  schedule,
  type HostInventory,
  type NodeDemand,
  type PlacedNode,
  type ScheduleInput,
  type ScheduleResult,
} from '../../coordinator/scheduler/index.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

function host(id: string, o: Partial<HostInventory> = {}): HostInventory {
  return {
    id,
    cpus: 8,
    memoryBytes: 16 * GiB,
    poolCapacityBytes: 500 * GiB,
    poolAvailableBytes: 500 * GiB,
    physnets: ['physnet1'],
    bmcPortsFree: 100,
    alive: true,
    arches: ['x86_64'],
    uefiArches: ['x86_64'],
    ...o,
  };
}

function node(name: string, o: Partial<NodeDemand> = {}): NodeDemand {
  return {
    name,
    nodeType: 'small',
    memoryMb: 1024,
    vcpus: 1,
    diskBytes: 10 * GiB,
    physnets: ['physnet1'],
    needsIpmiPort: true,
    arch: 'x86_64',
    uefi: true,
    ...o,
  };
}

function nodes(n: number, o: Partial<NodeDemand> = {}, prefix = 'tk', from = 0): NodeDemand[] {
  return Array.from({ length: n }, (_, i) => node(`${prefix}${from + i}`, o));
}

type Input = Omit<ScheduleInput, 'cluster' | 'current'> & Partial<Pick<ScheduleInput, 'cluster' | 'current'>>;

function run(input: Input): ScheduleResult {
  return schedule({ cluster: 'c1', current: [], ...input });
}

/** node -> host. */
function place(input: Input): Record<string, string> {
  return Object.fromEntries(run(input).assignments.map((a) => [a.node, a.hostId]));
}

/** How many nodes each host got, by host id. */
function perHost(input: Input): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of Object.values(place(input))) out[h] = (out[h] ?? 0) + 1;
  return out;
}

function capacityError(input: Input): TenksError {
  try {
    run(input);
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    assert.equal(e.code, 'CAPACITY');
    return e;
  }
  assert.fail('expected schedule to fail with CAPACITY');
}

/** The previous result as `current` of the next run. */
function asCurrent(r: ScheduleResult, ns: readonly NodeDemand[], cluster = 'c1'): PlacedNode[] {
  const byName = new Map(ns.map((n) => [n.name, n]));
  return r.assignments.map((a) => {
    const n = byName.get(a.node)!;
    return { cluster, name: a.node, hostId: a.hostId, memoryMb: n.memoryMb, vcpus: n.vcpus, diskBytes: n.diskBytes };
  });
}

describe('schedule', () => {
  describe('strategies', () => {
    it('spreads by default: each node to the host with most weighted free capacity', () => {
      assert.deepEqual(perHost({ nodes: nodes(6), hosts: [host('hv1'), host('hv2'), host('hv3')] }), {
        hv1: 2,
        hv2: 2,
        hv3: 2,
      });
      // A host with twice the resources keeps getting nodes until its free fraction drops to the other's.
      const big = {
        cpus: 16,
        memoryBytes: 32 * GiB + 512 * MiB,
        poolCapacityBytes: 1000 * GiB,
        poolAvailableBytes: 1000 * GiB,
      };
      const small = { memoryBytes: 16 * GiB + 512 * MiB };
      assert.deepEqual(perHost({ nodes: nodes(6), hosts: [host('hv1', small), host('hv2', big)] }), { hv1: 2, hv2: 4 });
    });

    it('breaks ties by host id, whatever order hosts come in', () => {
      const hosts = [host('hv3'), host('hv1'), host('hv2')];
      assert.deepEqual(place({ nodes: nodes(1), hosts }), { tk0: 'hv1' });
      assert.deepEqual(place({ nodes: nodes(7), hosts }), place({ nodes: nodes(7), hosts: [...hosts].reverse() }));
    });

    it('packs: the fullest host that still fits', () => {
      const hosts = [host('hv1'), host('hv2', { memoryBytes: 4 * GiB + 512 * MiB })];
      // hv2 is the smaller, so the fuller after each placement: it fills first.
      const p = place({ nodes: nodes(6), hosts, options: { strategy: 'pack' } });
      assert.deepEqual(p, { tk0: 'hv2', tk1: 'hv2', tk2: 'hv2', tk3: 'hv2', tk4: 'hv1', tk5: 'hv1' });
    });

    it('weights what "free" means to spread and pack', () => {
      // hv1 has more RAM, hv2 more disk: RAM-only weights prefer hv1, disk-only weights hv2.
      const hosts = [
        host('hv1', { memoryBytes: 64 * GiB }),
        host('hv2', { poolCapacityBytes: 5000 * GiB, poolAvailableBytes: 5000 * GiB }),
      ];
      const ram = { strategy: 'spread' as const, weights: { ram: 1, vcpus: 0, disk: 0 } };
      const disk = { strategy: 'spread' as const, weights: { ram: 0, vcpus: 0, disk: 1 } };
      assert.deepEqual(place({ nodes: nodes(1), hosts, options: ram }), { tk0: 'hv1' });
      assert.deepEqual(place({ nodes: nodes(1), hosts, options: disk }), { tk0: 'hv2' });
    });

    it('goes round robin in host id order, skipping hosts that do not fit', () => {
      const hosts = [host('hv3'), host('hv1'), host('hv2')];
      assert.deepEqual(Object.values(place({ nodes: nodes(5), hosts, options: { strategy: 'round_robin' } })), [
        'hv1',
        'hv2',
        'hv3',
        'hv1',
        'hv2',
      ]);
      const noPhysnet = [host('hv1'), host('hv2', { physnets: [] }), host('hv3')];
      assert.deepEqual(
        Object.values(place({ nodes: nodes(4), hosts: noPhysnet, options: { strategy: 'round_robin' } })),
        ['hv1', 'hv3', 'hv1', 'hv3'],
      );
    });

    it('places at random among fitting hosts, the same way for the same seed', () => {
      const hosts = ['hv1', 'hv2', 'hv3', 'hv4', 'hv5'].map((id) =>
        host(id, { physnets: id === 'hv4' ? [] : ['physnet1'] }),
      );
      const ns = nodes(60);
      const a = place({ nodes: ns, hosts, options: { strategy: 'random', seed: 42 } });
      const b = place({ nodes: ns, hosts, options: { strategy: 'random', seed: 42 } });
      const c = place({ nodes: ns, hosts, options: { strategy: 'random', seed: 43 } });
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, c);
      assert.ok(!Object.values(a).includes('hv4'));
      assert.equal(new Set(Object.values(a)).size, 4, 'every fitting host gets some of 60 nodes');
    });
  });

  describe('constraints', () => {
    it('only places new nodes on allowed hosts', () => {
      const hosts = [host('hv1'), host('hv2'), host('hv3')];
      const p = place({ nodes: nodes(6), hosts, allowedHosts: ['hv2', 'hv3'] });
      assert.deepEqual(new Set(Object.values(p)), new Set(['hv2', 'hv3']));
    });

    it('only places new nodes on live hosts', () => {
      const hosts = [host('hv1', { alive: false }), host('hv2')];
      assert.deepEqual(new Set(Object.values(place({ nodes: nodes(4), hosts }))), new Set(['hv2']));
    });

    it('only places a node where every physnet it uses is', () => {
      const hosts = [host('hv1'), host('hv2', { physnets: ['physnet1', 'physnet2'] }), host('hv3')];
      const p = place({ nodes: nodes(3, { physnets: ['physnet1', 'physnet2'] }), hosts });
      assert.deepEqual(new Set(Object.values(p)), new Set(['hv2']));
    });

    it('gives each new IPMI node a BMC port, and Redfish nodes none', () => {
      const hosts = [host('hv1', { bmcPortsFree: 1 }), host('hv2', { bmcPortsFree: 0 })];
      const p = place({ nodes: [...nodes(1), ...nodes(3, { needsIpmiPort: false }, 'rf')], hosts });
      assert.deepEqual(p, { tk0: 'hv1', rf0: 'hv2', rf1: 'hv1', rf2: 'hv2' });
      const e = capacityError({ nodes: nodes(2), hosts });
      assert.match(e.message, /node tk1 \(type small\): hv1, hv2 have no free IPMI port/);
    });

    it('counts RAM with the allocation ratio and the host reserve', () => {
      // 4 GiB host, 512 MiB reserved: three 1 GiB nodes fit, not four.
      const hosts = [host('hv1', { memoryBytes: 4 * GiB })];
      assert.equal(Object.keys(place({ nodes: nodes(3), hosts })).length, 3);
      const e = capacityError({ nodes: nodes(4), hosts });
      assert.match(e.message, /node tk3 \(type small\): needs 1024 MiB RAM; hv1 has 512 MiB free \(short 512 MiB\)/);
      assert.equal(Object.keys(place({ nodes: nodes(4), hosts, options: { reservedHostMemoryMb: 0 } })).length, 4);
      assert.equal(Object.keys(place({ nodes: nodes(7), hosts, options: { ramAllocationRatio: 2 } })).length, 7);
    });

    it('counts vCPUs with the CPU allocation ratio', () => {
      const hosts = [host('hv1', { cpus: 2 })];
      assert.equal(Object.keys(place({ nodes: nodes(8), hosts })).length, 8);
      const e = capacityError({ nodes: nodes(3), hosts, options: { cpuAllocationRatio: 1 } });
      assert.match(e.message, /node tk2 \(type small\): needs 1 vCPU; hv1 has 0 free \(short 1\)/);
    });

    it('counts disk by volume capacity against the pool, and never beyond what is available now', () => {
      // Commitment budget: 100 GiB pool, 95 GiB committed by another cluster's node.
      const hosts = [host('hv1', { poolCapacityBytes: 100 * GiB, poolAvailableBytes: 90 * GiB })];
      const other: PlacedNode = {
        cluster: 'c2',
        name: 'x0',
        hostId: 'hv1',
        memoryMb: 1024,
        vcpus: 1,
        diskBytes: 95 * GiB,
      };
      let e = capacityError({ nodes: nodes(1), hosts, current: [other] });
      assert.match(e.message, /needs 10 GiB disk; hv1 has 5 GiB free \(short 5 GiB\)/);
      // Thin volumes may be overcommitted with a ratio above 1.
      assert.deepEqual(place({ nodes: nodes(1), hosts, current: [other], options: { diskAllocationRatio: 2 } }), {
        tk0: 'hv1',
      });
      // A pool shared with other files: capacity says 100 GiB, but only 15 GiB is free.
      const shared = [host('hv1', { poolCapacityBytes: 100 * GiB, poolAvailableBytes: 15 * GiB })];
      assert.equal(Object.keys(place({ nodes: nodes(1), hosts: shared })).length, 1);
      e = capacityError({ nodes: nodes(2), hosts: shared });
      assert.match(e.message, /node tk1 \(type small\): needs 10 GiB disk; hv1 has 5 GiB free/);
    });

    it("counts other clusters' nodes and never reuses a name on a host", () => {
      const hosts = [host('hv1', { memoryBytes: 2 * GiB + 512 * MiB }), host('hv2')];
      const current: PlacedNode[] = [
        { cluster: 'c2', name: 'y0', hostId: 'hv1', memoryMb: 2048, vcpus: 1, diskBytes: 0 },
        { cluster: 'c2', name: 'tk1', hostId: 'hv2', memoryMb: 512, vcpus: 1, diskBytes: 0 },
      ];
      const hosts2 = [host('hv1'), host('hv2')];
      assert.deepEqual(place({ nodes: nodes(1), hosts, current }), { tk0: 'hv2' });
      // hv2 already has a domain tk1 (cluster c2): our tk1 must go elsewhere.
      assert.equal(place({ nodes: nodes(2), hosts: hosts2, current, options: { strategy: 'pack' } }).tk1, 'hv1');
    });
  });

  describe('stability', () => {
    it('moves nothing when rescheduled with its own result', () => {
      const hosts = [host('hv1'), host('hv2'), host('hv3')];
      const ns = nodes(10);
      const first = run({ nodes: ns, hosts });
      // The agents now report the ports the new BMCs took.
      const after = hosts.map((h) => ({
        ...h,
        bmcPortsFree: first.hosts.find((u) => u.id === h.id)?.bmcPortsFree ?? 0,
      }));
      const again = run({ nodes: ns, hosts: after, current: asCurrent(first, ns) });
      assert.deepEqual(
        again.assignments.map((a) => [a.node, a.hostId]),
        first.assignments.map((a) => [a.node, a.hostId]),
      );
      assert.ok(again.assignments.every((a) => a.kept));
      assert.ok(first.assignments.every((a) => !a.kept));
      assert.deepEqual(again.hosts, first.hosts);
    });

    it('only places the added nodes when a count grows', () => {
      const hosts = [host('hv1'), host('hv2')];
      const before = nodes(4);
      const first = run({ nodes: before, hosts });
      const after = nodes(7);
      // Another strategy now: placed nodes still do not move.
      const second = run({ nodes: after, hosts, current: asCurrent(first, before), options: { strategy: 'pack' } });
      for (const a of first.assignments)
        assert.deepEqual(
          second.assignments.find((b) => b.node === a.node),
          { ...a, kept: true },
        );
      assert.deepEqual(
        second.assignments.filter((a) => !a.kept).map((a) => a.node),
        ['tk4', 'tk5', 'tk6'],
      );
    });

    it('keeps nodes on dead, unknown, disallowed and overfull hosts, with warnings', () => {
      const hosts = [host('hv1', { alive: false }), host('hv2', { memoryBytes: 1 * GiB }), host('hv3'), host('hv4')];
      const at = (name: string, hostId: string): PlacedNode => ({
        cluster: 'c1',
        name,
        hostId,
        memoryMb: 1024,
        vcpus: 1,
        diskBytes: 10 * GiB,
      });
      const current = [at('tk0', 'hv1'), at('tk1', 'hv1'), at('tk2', 'hv2'), at('tk3', 'hv9'), at('tk4', 'hv4')];
      const r = run({ nodes: nodes(6), hosts, current, allowedHosts: ['hv1', 'hv2', 'hv3'] });
      assert.deepEqual(
        r.assignments.map((a) => [a.node, a.hostId, a.kept]),
        [
          ['tk0', 'hv1', true],
          ['tk1', 'hv1', true],
          ['tk2', 'hv2', true],
          ['tk3', 'hv9', true],
          ['tk4', 'hv4', true],
          ['tk5', 'hv3', false],
        ],
      );
      assert.deepEqual(r.warnings, [
        'nodes tk0, tk1 stay on hv1, which is not alive',
        'node tk3 stays on hv9, which has no agent',
        "node tk4 stays on hv4, which is not in the spec's hypervisors",
        'hv2 is over its RAM capacity: 1.0 GiB placed, 0.5 GiB schedulable',
      ]);
    });

    it('accounts a kept node at the size the spec now asks for, and removed nodes of the cluster as used', () => {
      const hosts = [host('hv1', { memoryBytes: 4 * GiB + 512 * MiB })];
      const current: PlacedNode[] = [
        { cluster: 'c1', name: 'tk0', hostId: 'hv1', memoryMb: 1024, vcpus: 1, diskBytes: 0 },
        { cluster: 'c1', name: 'old0', hostId: 'hv1', memoryMb: 1024, vcpus: 1, diskBytes: 0 },
      ];
      // tk0 grows to 2 GiB, old0 (not asked for any more) still holds 1 GiB: 1 GiB is left.
      const r = run({ nodes: [node('tk0', { memoryMb: 2048 }), node('tk1')], hosts, current });
      assert.equal(r.hosts[0]?.memoryUsedBytes, 4 * GiB);
      capacityError({ nodes: [node('tk0', { memoryMb: 2048 }), node('tk1'), node('tk2')], hosts, current });
    });
  });

  describe('capacity errors', () => {
    it('names the node, the resource, the amounts and the hosts', () => {
      const hosts = [
        host('hv1', { memoryBytes: 2560 * MiB, physnets: ['physnet1', 'physnet2'] }),
        host('hv2', { memoryBytes: 1536 * MiB, physnets: ['physnet1', 'physnet2'] }),
        host('hv3', { memoryBytes: 64 * GiB }),
      ];
      const big = node('tk12', { nodeType: 'big', memoryMb: 8192, physnets: ['physnet1', 'physnet2'] });
      const e = capacityError({ nodes: [big], hosts });
      assert.equal(
        e.message,
        "cannot place 1 of 1 new nodes of cluster 'c1'; nothing was placed\n" +
          'node tk12 (type big): needs 8192 MiB RAM; hv1 has 2048 MiB free (short 6144 MiB), hv2 has 1024 MiB free (short 7168 MiB); ' +
          "hv3 lacks physnet 'physnet2'",
      );
      assert.deepEqual(e.details, [
        {
          field: 'tk12',
          message:
            'needs 8192 MiB RAM; hv1 has 2048 MiB free (short 6144 MiB), hv2 has 1024 MiB free (short 7168 MiB); ' +
            "hv3 lacks physnet 'physnet2'",
        },
      ]);
      assert.match(e.hint ?? '', /allocation ratios/);
    });

    it('places nothing when any node does not fit', () => {
      const hosts = [host('hv1', { memoryBytes: 2 * GiB + 512 * MiB })];
      const e = capacityError({ nodes: [node('a0'), node('a1'), node('a2', { memoryMb: 512 })], hosts });
      assert.match(e.message, /^cannot place 1 of 3 new nodes/);
      assert.match(e.message, /node a2 \(type small\)/);
    });

    it('says when there is no host at all', () => {
      assert.match(
        capacityError({ nodes: nodes(1), hosts: [] }).message,
        /node tk0 \(type small\): no hypervisor has an agent/,
      );
      assert.match(
        capacityError({ nodes: nodes(1), hosts: [host('hv1')], allowedHosts: ['hv7', 'hv8'] }).message,
        /none of the spec's hypervisors \(hv7, hv8\) has an agent/,
      );
      assert.match(
        capacityError({ nodes: nodes(1), hosts: [host('hv1', { alive: false }), host('hv2', { alive: false })] })
          .message,
        /node tk0 \(type small\): hv1, hv2 are not alive$/,
      );
      assert.match(
        capacityError({ nodes: nodes(1), hosts: [host('hv1', { alive: false })], allowedHosts: ['hv1', 'hv2'] })
          .message,
        /hv2 has no agent; hv1 is not alive/,
      );
    });

    it('stays short for thousands of failing nodes', () => {
      const hosts = Array.from({ length: 50 }, (_, i) =>
        host(`hv${String(i).padStart(2, '0')}`, { memoryBytes: 2 * GiB }),
      );
      const ns = [
        ...nodes(9_000, { nodeType: 'big', memoryMb: 4096 }),
        ...nodes(1_000, { nodeType: 'huge', memoryMb: 8192 }, 'h'),
      ];
      const e = capacityError({ nodes: ns, hosts });
      const lines = e.message.split('\n');
      assert.ok(lines.length <= 7, e.message);
      assert.ok(e.message.length < 2000, `${e.message.length} characters`);
      assert.equal(lines[0], "cannot place 10,000 of 10,000 new nodes of cluster 'c1'; nothing was placed");
      assert.match(
        lines[1] ?? '',
        /^nodes tk0, tk1, tk2, tk3, tk4 \(type big\): needs 4096 MiB RAM; hv00 has 1536 MiB free \(short 2560 MiB\), hv01 has .*, hv03 has 1536 MiB free \(short 2560 MiB\) and 46 more hosts$/,
      );
      assert.equal(lines.at(-1), 'and 9,995 more nodes: 8,995 of type big, 1,000 of type huge');
      assert.equal(e.details.length, 6);
      assert.deepEqual(e.details.at(-1), {
        field: 'nodes',
        message: 'and 9,995 more nodes: 8,995 of type big, 1,000 of type huge',
      });
    });
  });

  describe('input', () => {
    it('refuses bad options and duplicate hosts or nodes', () => {
      assert.throws(
        () => run({ nodes: [], hosts: [], options: { weights: { ram: 0, vcpus: 0, disk: 0 } } }),
        (e: unknown) => e instanceof TenksError && e.code === 'INVALID_SPEC' && e.field === 'scheduler.weights',
      );
      assert.throws(
        () => run({ nodes: [], hosts: [], options: { cpuAllocationRatio: 0 } }),
        (e: unknown) => e instanceof TenksError && e.field === 'scheduler.cpu_allocation_ratio',
      );
      assert.throws(
        () => run({ nodes: [], hosts: [host('hv1'), host('hv1')] }),
        (e: unknown) => e instanceof TenksError && e.code === 'CONFLICT',
      );
      assert.throws(
        () => run({ nodes: [node('a'), node('a')], hosts: [host('hv1')] }),
        (e: unknown) => e instanceof TenksError && e.code === 'INTERNAL',
      );
    });

    it('reports host usage after placement', () => {
      const r = run({ nodes: nodes(2), hosts: [host('hv1', { bmcPortsFree: 5 })] });
      assert.deepEqual(r.hosts, [
        {
          id: 'hv1',
          alive: true,
          nodes: 2,
          memoryUsedBytes: 2 * GiB,
          memoryCapacityBytes: 16 * GiB - 512 * MiB,
          vcpusUsed: 2,
          vcpusCapacity: 32,
          diskUsedBytes: 20 * GiB,
          diskCapacityBytes: 500 * GiB,
          bmcPortsFree: 3,
        },
      ]);
    });

    it('derives demands from desired nodes', () => {
      const { spec } = compileClusterSpec({
        physnet_mappings: { p1: 'eth1' },
        node_types: {
          t: {
            memory_mb: 512,
            vcpus: 2,
            volumes: [{ capacity: '10GiB' }, { capacity: '5GiB', existing: '/dev/vg/{node}' }, { capacity: '1GiB' }],
            physical_networks: ['p1', 'p1'],
          },
        },
        specs: [
          { type: 't', count: 1 },
          { type: 't', count: 1, node_name_prefix: 'r', ironic_driver: 'redfish' },
        ],
      });
      assert.deepEqual(expandNodes(spec).map(nodeDemand), [
        {
          name: 'tk0',
          nodeType: 't',
          memoryMb: 512,
          vcpus: 2,
          diskBytes: 11 * GiB,
          physnets: ['p1'],
          needsIpmiPort: true,
          arch: 'x86_64',
          uefi: true,
        },
        {
          name: 'r0',
          nodeType: 't',
          memoryMb: 512,
          vcpus: 2,
          diskBytes: 11 * GiB,
          physnets: ['p1'],
          needsIpmiPort: false,
          arch: 'x86_64',
          uefi: true,
        },
      ]);
    });
  });

  describe('architectures', () => {
    const arm = (n: number, o: Partial<NodeDemand> = {}, from = 0): NodeDemand[] =>
      nodes(n, { arch: 'aarch64', nodeType: 'arm', ...o }, 'tk', from);
    const both = { arches: ['aarch64', 'x86_64'], uefiArches: ['aarch64', 'x86_64'] };

    it('places a node only on a host that runs its architecture', () => {
      const p = place({ nodes: [...arm(3), ...nodes(3, {}, 'x')], hosts: [host('a'), host('b', both), host('c')] });
      assert.deepEqual([p.tk0, p.tk1, p.tk2], ['b', 'b', 'b']);
      assert.deepEqual(new Set([p.x0, p.x1, p.x2]), new Set(['a', 'c']), 'x86_64 nodes spread to the emptier hosts');
    });

    it('names the node, its architecture and what every host runs when none runs it', () => {
      const e = capacityError({
        nodes: arm(1),
        hosts: [host('agent-a'), host('agent-b', { arches: ['i686', 'x86_64'] })],
      });
      assert.equal(
        e.message,
        "cannot place 1 of 1 new nodes of cluster 'c1'; nothing was placed\n" +
          'node tk0 (type arm): needs aarch64 but no hypervisor runs it: agent-a runs x86_64, agent-b runs i686, x86_64',
      );
      assert.deepEqual(
        e.details.map((d) => d.field),
        ['tk0'],
      );
      assert.match(e.hint ?? '', /hypervisors/);
    });

    it('says which hosts do not run it when another does but is full or dead', () => {
      const full = capacityError({
        nodes: arm(1, { memoryMb: 64 * 1024 }),
        hosts: [host('a'), host('b', both)],
      });
      assert.match(
        full.message,
        /needs aarch64, which a \(runs x86_64\) does not run; needs 65536 MiB RAM; b has 15872 MiB free \(short 49664 MiB\)$/,
      );
      const dead = capacityError({ nodes: arm(1), hosts: [host('a'), host('b', { ...both, alive: false })] });
      assert.match(dead.message, /needs aarch64, which a \(runs x86_64\) does not run; b is not alive/);
    });

    it('bounds the host list', () => {
      const hosts = Array.from({ length: 7 }, (_, i) => host(`hv${i}`));
      const e = capacityError({ nodes: arm(1), hosts });
      assert.match(e.message, /no hypervisor runs it: hv0 runs x86_64, .*hv3 runs x86_64 and 3 more hosts$/);
    });

    it('needs UEFI firmware of the architecture for UEFI nodes only', () => {
      const noArmFirmware = { arches: ['aarch64', 'x86_64'], uefiArches: ['x86_64'] };
      const e = capacityError({ nodes: arm(1), hosts: [host('a', noArmFirmware)] });
      assert.match(e.message, /needs UEFI firmware for aarch64, which a lacks \(qemu-efi-aarch64\)/);
      const noOvmf = { uefiArches: [] };
      assert.match(
        capacityError({ nodes: nodes(1), hosts: [host('a', noOvmf)] }).message,
        /needs UEFI firmware for x86_64, which a lacks \(ovmf\)/,
      );
      assert.deepEqual(place({ nodes: nodes(1, { uefi: false }), hosts: [host('a', noOvmf)] }), { tk0: 'a' });
      assert.deepEqual(place({ nodes: arm(1), hosts: [host('a', noArmFirmware), host('b', both)] }), { tk0: 'b' });
    });

    it('refuses a placed node its host cannot run, instead of making another machine there', () => {
      const ns = [...arm(1), ...nodes(1, {}, 'tk', 1)];
      const current: PlacedNode[] = ns.map((n) => ({
        cluster: 'c1',
        name: n.name,
        hostId: 'agent-a',
        memoryMb: n.memoryMb,
        vcpus: n.vcpus,
        diskBytes: n.diskBytes,
      }));
      assert.throws(
        () => run({ nodes: ns, hosts: [host('agent-a'), host('agent-b', both)], current }),
        (e: unknown) =>
          e instanceof TenksError &&
          e.code === 'UNSUPPORTED' &&
          e.message ===
            "a node of cluster 'c1' cannot run where it is placed (placed nodes keep their hypervisor)\n" +
              'node tk0 (type arm) needs aarch64 but stays on agent-a, which runs x86_64' &&
          e.details.length === 1 &&
          e.details[0]?.field === 'tk0',
      );
      const noFirmware = { arches: ['aarch64', 'x86_64'], uefiArches: ['x86_64'] };
      assert.throws(
        () => run({ nodes: ns, hosts: [host('agent-a', noFirmware)], current }),
        /node tk0 \(type arm\) needs UEFI firmware for aarch64 but stays on agent-a, which has none/,
      );
      // Where it can run, it stays.
      const r = run({ nodes: ns, hosts: [host('agent-a', both), host('agent-b', both)], current });
      assert.deepEqual(
        r.assignments.map((a) => [a.node, a.hostId, a.kept]),
        [
          ['tk0', 'agent-a', true],
          ['tk1', 'agent-a', true],
        ],
      );
    });
  });
});
