/**
 * The network plane over an in-memory host (test/helpers/fake-host-net.ts): physnet setup and
 * validation, teardown back to the host as it was, NIC wiring, and the write batcher that puts the
 * NICs of concurrent callers in one `ip -batch` and one OVSDB transaction.
 */
import assert from 'node:assert/strict';
import { TenksError } from '../../common/errors.js';
import { nullLogger } from '../../common/logger.js';
import type { NodeSpec } from '../../agent/compute/types.js';
import { NetworkPlane } from '../../agent/network/network-plane.js';
import { marksFromAlias, marksFromExternalIds } from '../../agent/network/marks.js';
import { bridgeMac, names } from '../../agent/network/names.js';
import type { BridgeType, PhysnetMapping } from '../../agent/network/types.js';
import { FakeHostNet } from '../helpers/fake-host-net.js';
import { tenksRejects as rejectsWith } from '../helpers/tenks-rejects.js';

const OWNER = 'agent-a';

function plane(net: FakeHostNet, o: { ovs?: boolean; owner?: string; viewTtlMs?: number } = {}): Promise<NetworkPlane> {
  return NetworkPlane.create({
    hostname: 'hv1',
    owner: o.owner ?? OWNER,
    ownsUnmarked: false,
    links: net.ip,
    ovs: o.ovs === false ? null : net.ovs,
    log: nullLogger,
    // Long enough that a test never sees the view expire by itself.
    viewTtlMs: o.viewTtlMs ?? 60_000,
  });
}

function node(name: string, physnets: string[], cluster = 'c1'): NodeSpec {
  return {
    cluster,
    name,
    uuid: null,
    nodeType: 'type0',
    memoryMb: 128,
    vcpus: 1,
    machine: null,
    cpuMode: null,
    bootMode: 'bios',
    volumes: [],
    nics: physnets.map((physnet, i) => ({ physnet, mac: `52:54:00:00:00:${i.toString(16).padStart(2, '0')}` })),
    consoleLog: false,
    vnc: false,
    labels: {},
  };
}

const map = (physnet: string, device: string, vlan = 0): PhysnetMapping => ({ physnet, device, vlan });

describe('network plane (fake host)', function () {
  let net: FakeHostNet;
  beforeEach(function () {
    net = new FakeHostNet();
    net.addLink('eth1', { up: false });
    net.addLink('eth2');
    net.addLink('br-src', { kind: 'bridge' });
    net.addOvsBridge('br-ovs');
  });

  describe('physnet setup', function () {
    it('plugs an interface into a Linux bridge with a fixed MAC and its marks; again, changes nothing', async function () {
      const p = await plane(net);
      const r = await p.setup('c1', 'linuxbridge', [map('physnet1', 'eth1')]);
      assert.equal(r.changed, true);
      const bridge = names.bridge('physnet1');
      const link = net.link(bridge);
      assert.equal(link?.kind, 'bridge');
      assert.equal(link.mac, bridgeMac(OWNER, bridge));
      assert.deepEqual(marksFromAlias(link.alias), {
        role: 'bridge',
        agent: OWNER,
        physnet: 'physnet1',
        device: 'eth1',
        vlan: '0',
        clusters: 'c1',
        srcdown: '1',
      });
      assert.equal(net.link('eth1')?.master, bridge);
      assert.equal(net.link('eth1')?.up, true);
      assert.deepEqual(p.list(), [
        {
          physnet: 'physnet1',
          device: 'eth1',
          vlan: 0,
          bridge,
          bridgeMac: bridgeMac(OWNER, bridge),
          bridgeType: 'linuxbridge',
          clusters: ['c1'],
        },
      ]);

      const calls = net.calls.length;
      const again = await p.setup('c1', 'linuxbridge', [map('physnet1', 'eth1')]);
      assert.deepEqual(again, { changed: false, changes: [] });
      assert.equal(net.calls.length, calls, 'no host change the second time');
    });

    it('reaches a Linux bridge source through one veth pair, made once', async function () {
      const p = await plane(net);
      await p.setup('c1', 'linuxbridge', [map('physnet1', 'br-src')]);
      const s = names.uplinkSource('physnet1');
      const u = names.uplinkTenks('physnet1');
      assert.equal(net.link(s)?.link, u);
      assert.equal(net.link(s)?.master, 'br-src');
      assert.equal(net.link(u)?.master, names.bridge('physnet1'));
      assert.ok(net.link(s)?.up && net.link(u)?.up);
      assert.equal(marksFromAlias(net.link(u)?.alias)?.role, 'uplink');
      const adds = () => net.ipLines().filter((l) => l.startsWith(`link add ${s} type veth`)).length;
      assert.equal(adds(), 1);
      // A pair someone deleted is made again, and plugged again.
      net.links.delete(u);
      net.links.delete(s);
      const r = await p.setup('c1', 'linuxbridge', [map('physnet1', 'br-src')]);
      assert.ok(r.changes.includes(`uplink veth ${s}/${u} created`), r.changes.join('\n'));
      assert.equal(adds(), 2);
      assert.equal(net.link(u)?.master, names.bridge('physnet1'));
      assert.equal(net.link(s)?.master, 'br-src');
    });

    it('rebuilds a veth pair with one end left over, and plugs both new ends (uplink and trunk)', async function () {
      const p = await plane(net);
      await p.setup('c1', 'linuxbridge', [map('physnet1', 'br-src')]);
      await p.setup('c2', 'linuxbridge', [map('p30', 'br-src', 30)]);
      const s = names.uplinkSource('physnet1');
      const u = names.uplinkTenks('physnet1');
      const a = names.trunkSource('br-src');
      const b = names.trunkPort('br-src');
      // The end plugged into the source bridge is left, its peer gone (as after a host tool deleted
      // it, or a crash between the two): the pair is made again, and its new ends start unplugged.
      net.links.delete(u);
      net.links.delete(b);
      await p.setup('c1', 'linuxbridge', [map('physnet1', 'br-src')]);
      await p.setup('c2', 'linuxbridge', [map('p30', 'br-src', 30)]);
      assert.equal(net.link(s)?.link, u);
      assert.equal(net.link(s)?.master, 'br-src');
      assert.equal(net.link(u)?.master, names.bridge('physnet1'));
      assert.equal(net.link(a)?.link, b);
      assert.equal(net.link(a)?.master, 'br-src', 'the rebuilt trunk veth joins the Linux bridge source again');
    });

    it('joins an OVS source bridge through patch ports, the OVS bridge getting its fixed MAC', async function () {
      const p = await plane(net);
      const r = await p.setup('c1', 'openvswitch', [map('physnet1', 'br-ovs', 7)]);
      assert.equal(r.changed, true);
      const bridge = names.bridge('physnet1');
      assert.equal(net.link(bridge)?.mac, bridgeMac(OWNER, bridge));
      assert.equal(net.link(bridge)?.up, true);
      assert.equal(marksFromExternalIds(net.ovsBridges.get(bridge)?.externalIds ?? {})?.physnet, 'physnet1');
      const s = net.ovsPorts.get(names.uplinkSource('physnet1'));
      const u = net.ovsPorts.get(names.uplinkTenks('physnet1'));
      assert.deepEqual([s?.bridge, s?.tag, s?.interfaceType], ['br-ovs', 7, 'patch']);
      assert.deepEqual([u?.bridge, u?.options.peer], [bridge, names.uplinkSource('physnet1')]);
      assert.deepEqual(p.list()[0]?.bridgeMac, bridgeMac(OWNER, bridge));
    });

    it('shares one device between VLAN physnets through one OVS trunk bridge', async function () {
      const p = await plane(net);
      await p.setup('c1', 'openvswitch', [map('p10', 'eth2', 10), map('p20', 'eth2', 20)]);
      const trunk = names.trunk('eth2');
      assert.equal(net.ovsPorts.get('eth2')?.bridge, trunk);
      assert.equal(net.ovsPorts.get(names.uplinkSource('p10'))?.tag, 10);
      assert.equal(net.ovsPorts.get(names.uplinkSource('p20'))?.tag, 20);
      assert.equal(net.ovsPorts.get(names.uplinkTenks('p20'))?.bridge, names.bridge('p20'));

      await p.setup('c2', 'linuxbridge', [map('p30', 'br-src', 30)]);
      const a = names.trunkSource('br-src');
      const b = names.trunkPort('br-src');
      assert.equal(net.link(a)?.master, 'br-src', 'the trunk veth joins the Linux bridge source');
      assert.equal(net.ovsPorts.get(b)?.bridge, names.trunk('br-src'));
      assert.equal(net.ovsPorts.get(names.uplinkSource('p30'))?.tag, 30);
      assert.equal(net.link(names.uplinkTenks('p30'))?.master, names.bridge('p30'));
    });

    it('gives a bridge made before MACs were fixed its MAC', async function () {
      const p = await plane(net);
      await p.setup('c1', 'linuxbridge', [map('physnet1', 'eth1')]);
      const bridge = names.bridge('physnet1');
      net.link(bridge)!.mac = '02:00:00:00:00:01';
      const r = await p.setup('c1', 'linuxbridge', [map('physnet1', 'eth1')]);
      assert.deepEqual(r.changes, [
        `bridge ${bridge}: MAC fixed at ${bridgeMac(OWNER, bridge)} (was 02:00:00:00:00:01, its lowest port's)`,
      ]);
      assert.equal(net.link(bridge)?.mac, bridgeMac(OWNER, bridge));
      assert.equal(p.list()[0]?.bridgeMac, bridgeMac(OWNER, bridge));
    });

    it('refuses bad mappings with every problem at once, changing nothing', async function () {
      const p = await plane(net, { ovs: false });
      await p.setup('c1', 'linuxbridge', [map('physnet1', 'eth1')]);
      net.addLink(names.bridge('squat'), { kind: 'bridge' });
      const before = net.snapshot();
      const calls = net.calls.length;
      const err = await rejectsWith(
        p.setup('c2', 'openvswitch', [
          map('bad name', 'eth2'),
          map('p2', 'eth2', 5000),
          map('p2', 'nosuch'),
          map('p3', names.bridge('physnet1')),
          map('squat', 'eth2', 3),
          map('physnet1', 'eth2'),
        ]),
        'INVALID_SPEC',
      );
      const fields = err.details.map((d) => d.field);
      for (const f of [
        'bridge_type',
        'physnet_mappings[0].physnet',
        'physnet_mappings[1].vlan',
        'physnet_mappings[2].physnet',
        'physnet_mappings[2].device',
        'physnet_mappings[3].device',
        'physnet_mappings[4].physnet',
        'physnet_mappings[5]',
      ])
        assert.ok(fields.includes(f), `${f} in ${fields.join(', ')}`);
      assert.match(err.message, /a device named 'tb-squat' already exists and was not created by tenks/);
      assert.match(err.message, /is already set up on eth1 with linuxbridge \(clusters c1\)/);
      assert.deepEqual(net.snapshot(), before);
      assert.equal(net.calls.length, calls);
    });

    it("leaves another agent's bridge alone", async function () {
      const other = await plane(net, { owner: 'agent-b' });
      await other.setup('c1', 'linuxbridge', [map('physnet1', 'eth1')]);
      const p = await plane(net);
      assert.deepEqual(p.list(), []);
      const err = await rejectsWith(p.setup('c1', 'linuxbridge', [map('physnet1', 'eth2')]), 'INVALID_SPEC');
      assert.match(err.message, /belongs to another tenks agent on this host \(agent-b\)/);
      const before = net.snapshot();
      assert.deepEqual(await p.teardown(''), { changed: false, changes: [] });
      assert.deepEqual(net.snapshot(), before);
    });
  });

  describe('teardown', function () {
    for (const bridgeType of ['linuxbridge', 'openvswitch'] as BridgeType[])
      it(`leaves the host as it was (${bridgeType}, every kind of source, with node ports)`, async function () {
        const before = net.snapshot();
        const p = await plane(net);
        await p.setup('c1', bridgeType, [
          map('pa', 'eth1'),
          map('pb', 'br-src'),
          map('pc', 'br-ovs', 4),
          map('pd', 'eth2', 11),
          map('pe', 'eth2', 12),
        ]);
        await p.attach(node('n1', ['pa', 'pb', 'pc', 'pd']));
        assert.notDeepEqual(net.snapshot(), before);
        const r = await p.teardown('c1');
        assert.equal(r.changed, true);
        assert.deepEqual(net.snapshot(), before);
        assert.deepEqual(p.list(), []);
      });

    it('keeps a physnet until the last of its clusters goes', async function () {
      const p = await plane(net);
      await p.setup('c1', 'linuxbridge', [map('physnet1', 'eth2')]);
      await p.setup('c2', 'linuxbridge', [map('physnet1', 'eth2')]);
      assert.deepEqual(p.list()[0]?.clusters, ['c1', 'c2']);
      await p.attach(node('n1', ['physnet1'], 'c1'));
      await p.attach(node('n2', ['physnet1'], 'c2'));
      const r = await p.teardown('c1');
      const bridge = names.bridge('physnet1');
      assert.ok(r.changes.includes(`bridge ${bridge}: cluster c1 removed (still used by c2)`), r.changes.join('\n'));
      assert.equal(marksFromAlias(net.link(bridge)?.alias)?.clusters, 'c2');
      assert.equal(net.link(names.switchPort('n1', 0)), undefined, "c1's node port is gone");
      assert.ok(net.link(names.switchPort('n2', 0)), "c2's node port stays");
      await p.teardown('c2');
      assert.equal(net.link(bridge), undefined);
      assert.equal(net.link('eth2')?.master, null);
    });
  });

  describe('node NICs', function () {
    it('wires each NIC through a veth pair into its physnet bridge, and unwires it', async function () {
      const p = await plane(net);
      await p.setup('c1', 'linuxbridge', [map('lb', 'eth1')]);
      await p.setup('c1', 'openvswitch', [map('ovs', 'eth2')]);
      const spec = node('n1', ['lb', 'ovs']);
      assert.deepEqual(await p.check(spec), []);
      assert.equal(await p.verify(spec), false);
      const nics = await p.attach(spec);
      assert.deepEqual(nics, [
        { mac: '52:54:00:00:00:00', attach: { type: 'direct', device: names.vmPort('n1', 0) }, alias: 'nic0' },
        { mac: '52:54:00:00:00:01', attach: { type: 'direct', device: names.vmPort('n1', 1) }, alias: 'nic1' },
      ]);
      const sp0 = net.link(names.switchPort('n1', 0));
      assert.equal(sp0?.master, names.bridge('lb'));
      assert.equal(sp0.link, names.vmPort('n1', 0));
      assert.ok(sp0.up && sp0.quiet);
      assert.deepEqual(marksFromAlias(sp0.alias), {
        role: 'switch-port',
        agent: OWNER,
        cluster: 'c1',
        node: 'n1',
        nic: '0',
        physnet: 'lb',
      });
      assert.equal(marksFromAlias(net.link(names.vmPort('n1', 0))?.alias)?.role, 'vm-port');
      const sp1 = net.ovsPorts.get(names.switchPort('n1', 1));
      assert.equal(sp1?.bridge, names.bridge('ovs'));
      assert.equal(marksFromExternalIds(sp1.externalIds)?.node, 'n1');
      assert.equal(await p.verify(spec), true);
      assert.deepEqual(
        p.describe(spec).map((n) => [n.bridge, n.bridgeMac, n.switchPort]),
        [
          [names.bridge('lb'), bridgeMac(OWNER, names.bridge('lb')), names.switchPort('n1', 0)],
          [names.bridge('ovs'), bridgeMac(OWNER, names.bridge('ovs')), names.switchPort('n1', 1)],
        ],
      );

      const calls = net.calls.length;
      await p.attach(spec);
      assert.equal(net.calls.length, calls, 'wired already: no host change');

      assert.deepEqual(await p.detach(spec), [
        `switch port ${names.switchPort('n1', 0)}`,
        `switch port ${names.switchPort('n1', 1)}`,
      ]);
      assert.equal(net.link(names.switchPort('n1', 0)), undefined);
      assert.equal(net.link(names.vmPort('n1', 1)), undefined);
      assert.equal(net.ovsPorts.get(names.switchPort('n1', 1)), undefined);
      assert.equal(await p.verify(spec), false);
    });

    it("refuses a NIC on a physnet not set up here, or whose device name is another's", async function () {
      net.addLink(names.vmPort('n1', 0));
      const p = await plane(net);
      await p.setup('c1', 'linuxbridge', [map('lb', 'eth1')]);
      const errors = await p.check(node('n1', ['lb', 'elsewhere']));
      assert.deepEqual(errors, [
        {
          field: 'node.nics[0]',
          message: `host hv1: a device named '${names.vmPort('n1', 0)}' already exists and is not this node's`,
        },
        { field: 'node.nics[1].physnet', message: "physnet 'elsewhere' is not set up on host hv1 (set up: lb)" },
      ]);
      await rejectsWith(p.attach(node('n2', ['elsewhere'])), 'NOT_FOUND');
    });

    it('writes the NICs of concurrent attaches in one ip batch and one OVS transaction, reading the host once', async function () {
      const p = await plane(net);
      await p.setup('c1', 'openvswitch', [map('ovs', 'eth2')]);
      const reads = net.reads;
      const calls = net.calls.length;
      const specs = ['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => node(n, ['ovs']));
      await Promise.all(specs.map((s) => p.attach(s)));
      assert.deepEqual(
        net.calls.slice(calls).map((c) => c.kind),
        ['ip', 'ovs'],
      );
      assert.ok(net.reads - reads <= 1, `host read ${net.reads - reads} times`);
      for (const s of specs) assert.equal(await p.verify(s), true, s.name);
      assert.ok(net.reads - reads <= 1, 'attach records what it did in the view it holds');

      const afterAttach = net.calls.length;
      await Promise.all(specs.map((s) => p.detach(s)));
      assert.deepEqual(
        net.calls.slice(afterAttach).map((c) => c.kind),
        ['ovs', 'ip'],
      );
      assert.equal(net.ipLines().filter((l) => l.startsWith('link del group')).length, 1, 'one group delete');
      for (const s of specs) assert.equal(net.link(names.switchPort(s.name, 0)), undefined);
    });

    describe('a batch that fails: each request is retried alone', function () {
      /** Attaches good1, bad and good2 at once on `physnet`: only bad's attach may fail; its error. */
      async function attachThree(p: NetworkPlane, physnet: string): Promise<{ specs: NodeSpec[]; error: TenksError }> {
        const specs = ['good1', 'bad', 'good2'].map((n) => node(n, [physnet]));
        const results = await Promise.allSettled(specs.map((s) => p.attach(s)));
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'rejected', 'fulfilled'],
          results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')).join('\n'),
        );
        const error: unknown = (results[1] as PromiseRejectedResult).reason;
        assert.ok(error instanceof TenksError);
        net.failing = null;
        // Read back by a plane of its own, which holds no view of what the batch did.
        const fresh = await plane(net);
        assert.equal(await fresh.verify(specs[0]!), true, 'good1 is wired');
        assert.equal(await fresh.verify(specs[2]!), true, 'good2 is wired');
        assert.equal(await fresh.verify(specs[1]!), false, 'bad is not');
        return { specs, error };
      }

      it('one NIC refused by ip fails only its own attach', async function () {
        const p = await plane(net);
        await p.setup('c1', 'linuxbridge', [map('lb', 'eth1')]);
        const bad = names.switchPort('bad', 0);
        net.failing = (what) => what === `link add ${bad} type veth peer name ${names.vmPort('bad', 0)}`;
        const { error } = await attachThree(p, 'lb');
        assert.match(error.message, /changing host links failed/);
        assert.equal(net.link(bad), undefined);
      });

      it('one port refused by OVS fails only its own attach', async function () {
        const p = await plane(net);
        await p.setup('c1', 'openvswitch', [map('ovs', 'eth2')]);
        const bad = names.switchPort('bad', 0);
        net.failing = (what) => what === `--may-exist add-port ${names.bridge('ovs')} ${bad}`;
        const { specs, error } = await attachThree(p, 'ovs');
        assert.match(error.message, /Open vSwitch refused the change/);
        // Applied again, the refused node is wired: nothing of it was left half-made in the way.
        const again = await plane(net);
        await again.attach(specs[1]!);
        assert.equal(await again.verify(specs[1]!), true);
      });

      it('a batch of one fails with its own error, without a second try', async function () {
        const p = await plane(net);
        await p.setup('c1', 'linuxbridge', [map('lb', 'eth1')]);
        net.failing = (what) => what.startsWith('link add');
        const calls = net.calls.length;
        await rejectsWith(p.attach(node('n1', ['lb'])), 'INTERNAL');
        assert.equal(net.calls.length - calls, 1);
      });
    });
  });
});
