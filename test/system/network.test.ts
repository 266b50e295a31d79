/**
 * Physical networks and node NICs on real Linux bridges and Open vSwitch (userspace datapath here),
 * with real QEMU guests whose iPXE sends DHCP through tenks' wiring to the source device.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { runCommand as run } from '../../agent/os/index.js';
import { names } from '../../agent/network/names.js';
import { BridgeType, PowerAction, type NodeSpec } from '../../proto/gen/tenks/v1/types.pb.js';
import { AgentClient, nodeSpec, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { rejectsWith } from '../integration/helpers.js';

const URI = 'qemu:///system';

const ip = (...args: string[]): Promise<string> => run('ip', args);
const vsctl = (...args: string[]): Promise<string> => run('ovs-vsctl', ['--timeout=30', ...args]);

/** Links, bridge membership and the OVS database, as text lines to compare. */
async function snapshot(): Promise<string[]> {
  const links = JSON.parse(await ip('-details', '-json', 'link', 'show')) as {
    ifname: string;
    master?: string;
    ifalias?: string;
    flags?: string[];
    linkinfo?: { info_kind?: string };
  }[];
  const out = links
    // Guests' macvtaps come and go with the VMs of other tests.
    .filter(
      (l) => l.linkinfo?.info_kind !== 'macvtap' && !l.ifname.startsWith('vnet') && !l.ifname.startsWith('macvtap'),
    )
    .map(
      (l) =>
        `link ${l.ifname} kind=${l.linkinfo?.info_kind ?? '-'} master=${l.master ?? '-'} alias=${l.ifalias ?? '-'} up=${String(l.flags?.includes('UP'))}`,
    );
  const bridges = (await vsctl('list-br')).split('\n').filter((b) => b !== '');
  for (const b of bridges) {
    out.push(`ovs-bridge ${b} ${(await vsctl('get', 'bridge', b, 'external_ids')).trim()}`);
    for (const p of (await vsctl('list-ports', b)).split('\n').filter((x) => x !== '')) {
      out.push(
        `ovs-port ${b}/${p} tag=${(await vsctl('get', 'port', p, 'tag')).trim()} ids=${(await vsctl('get', 'port', p, 'external_ids')).trim()}`,
      );
    }
  }
  return out.sort();
}

function diff(a: string[], b: string[]): string {
  const sa = new Set(a);
  const sb = new Set(b);
  return [
    ...a.filter((x) => !sb.has(x)).map((x) => `- ${x}`),
    ...b.filter((x) => !sa.has(x)).map((x) => `+ ${x}`),
  ].join('\n');
}

/** A source device of one kind, and the interface to capture its traffic on. */
interface Source {
  device: string;
  capture: string;
  remove(): Promise<void>;
}

async function makeSource(kind: 'interface' | 'linuxbridge' | 'ovsbridge', tag: string): Promise<Source> {
  const a = `tsa${tag}`;
  const b = `tsb${tag}`;
  await ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  await ip('link', 'set', a, 'up');
  await ip('link', 'set', b, 'up');
  if (kind === 'interface') return { device: a, capture: b, remove: () => ip('link', 'del', a).then(() => undefined) };
  const br = `tsr${tag}`;
  if (kind === 'linuxbridge') {
    await ip('link', 'add', br, 'type', 'bridge');
    await ip('link', 'set', br, 'up');
    await ip('link', 'set', a, 'master', br);
    return {
      device: br,
      capture: b,
      remove: async () => {
        await ip('link', 'del', a).catch(() => undefined);
        await ip('link', 'del', br).catch(() => undefined);
      },
    };
  }
  await vsctl('add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev', '--', 'add-port', br, a);
  await ip('link', 'set', br, 'up');
  return {
    device: br,
    capture: b,
    remove: async () => {
      await vsctl('--if-exists', 'del-br', br).catch(() => undefined);
      await ip('link', 'del', a).catch(() => undefined);
    },
  };
}

/** Waits for one frame from `mac` on `iface` (tcpdump), up to `timeoutMs`. */
function captureFrom(
  iface: string,
  mac: string,
  timeoutMs: number,
  vlan = 0,
): { seen: Promise<string>; stop: () => void } {
  const filter = [...(vlan > 0 ? ['vlan', String(vlan), 'and'] : []), 'ether', 'src', mac];
  const child = spawn('tcpdump', ['-i', iface, '-n', '-e', '-l', '-c', '1', ...filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let timer: NodeJS.Timeout | undefined;
  const seen = new Promise<string>((resolve, reject) => {
    timer = setTimeout(() => {
      child.kill();
      reject(new Error(`no frame from ${mac} on ${iface} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && out.includes(mac)) resolve(out);
      else reject(new Error(`tcpdump on ${iface} exited ${code}: ${out}`));
    });
  });
  seen.catch(() => undefined);
  return { seen, stop: () => child.kill() };
}

/** Resolves once tcpdump is listening (it prints "listening on" to stderr). */
function listening(
  iface: string,
  mac: string,
  timeoutMs: number,
  vlan = 0,
): Promise<{ seen: Promise<string>; stop: () => void }> {
  return new Promise((resolve) => {
    const c = captureFrom(iface, mac, timeoutMs, vlan);
    // tcpdump needs a moment to open the socket; 500 ms is plenty and costs little.
    setTimeout(() => {
      resolve(c);
    }, 500);
  });
}

const BRIDGE_TYPES = [
  ['linuxbridge', BridgeType.BRIDGE_TYPE_LINUXBRIDGE],
  ['openvswitch', BridgeType.BRIDGE_TYPE_OPENVSWITCH],
] as const;

describe('physnets on the host (Linux bridge and OVS)', function () {
  const run = randomBytes(2).toString('hex');
  const cluster = `net-${run}`;
  let agent: TestAgent;
  let client: AgentClient;

  before(async function () {
    agent = await startTestAgent({ libvirt_uri: URI, storage: { pool_name: `tenks-net-${run}` } });
    client = new AgentClient(agent.address);
  });

  after(async function () {
    // Only this test's cluster: '' would remove every tenks bridge on the host, a user's lab's too.
    await client.teardownHost(cluster).catch(() => undefined);
    client.close();
    await agent.stop();
    await run_('virsh', ['-c', URI, 'pool-destroy', `tenks-net-${run}`]);
    await run_('virsh', ['-c', URI, 'pool-undefine', `tenks-net-${run}`]);
  });

  let n = 0;
  for (const [typeName, bridgeType] of BRIDGE_TYPES) {
    for (const kind of ['interface', 'linuxbridge', 'ovsbridge'] as const) {
      for (const vlan of [0, 100]) {
        it(`${typeName} bridge on a ${kind} source${vlan ? ` with VLAN ${vlan}` : ''}: idempotent, torn down to the prior state`, async function () {
          const tag = `${run}${(n++).toString(36)}`;
          const source = await makeSource(kind, tag);
          try {
            const before = await snapshot();
            const physnet = `p${tag}`;
            const req = { cluster, bridgeType, physnets: [{ physnet, device: source.device, vlan }] };
            const first = await client.setupHost(req);
            assert.equal(first.changed, true);
            const st = first.physnets.find((p) => p.physnet === physnet);
            assert.ok(st, 'physnet reported');
            assert.equal(st.bridge, names.bridge(physnet));
            assert.match(st.bridgeMac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
            const second = await client.setupHost(req);
            assert.equal(second.changed, false, `second setup changed: ${second.changes.join('; ')}`);
            const info = await client.hostInfo();
            assert.ok(
              info.host?.physnets.some((p) => p.physnet === physnet && p.device === source.device && p.vlan === vlan),
            );
            const down = await client.teardownHost(cluster);
            assert.equal(down.changed, true);
            const after = await snapshot();
            assert.equal(diff(before, after), '', 'host differs after teardown');
            assert.equal((await client.teardownHost(cluster)).changed, false);
          } finally {
            await client.teardownHost(cluster).catch(() => undefined);
            await source.remove();
          }
        });
      }
    }
  }

  for (const [typeName, bridgeType] of BRIDGE_TYPES) {
    it(`keeps a ${typeName} bridge's MAC (Ironic's switch_id) while ports come and go`, async function () {
      const tag = `${run}m${typeName.slice(0, 1)}`;
      const source = await makeSource('interface', tag);
      // A port whose MAC is below every other: a bridge without a MAC of its own would take it.
      const [low, lowPeer] = [`tml${tag}`, `tmp${tag}`];
      try {
        const physnet = `m${tag}`;
        const req = { cluster, bridgeType, physnets: [{ physnet, device: source.device, vlan: 0 }] };
        const st = (await client.setupHost(req)).physnets.find((p) => p.physnet === physnet);
        assert.ok(st);
        const bridgeMac = async (): Promise<string> =>
          (JSON.parse(await run_('ip', ['-j', 'link', 'show', 'dev', st.bridge])) as { address: string }[])[0]
            ?.address ?? '';
        assert.equal(await bridgeMac(), st.bridgeMac, 'reported MAC is the bridge link MAC');
        await run_('ip', ['link', 'add', low, 'address', '02:00:00:00:00:01', 'type', 'veth', 'peer', 'name', lowPeer]);
        if (typeName === 'linuxbridge') await run_('ip', ['link', 'set', low, 'master', st.bridge]);
        else await run_('ovs-vsctl', ['add-port', st.bridge, low]);
        await run_('ip', ['link', 'set', low, 'up']);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(await bridgeMac(), st.bridgeMac, 'a port with a lower MAC does not change the bridge MAC');
        if (typeName === 'openvswitch') await run_('ovs-vsctl', ['del-port', st.bridge, low]);
        await run_('ip', ['link', 'del', low]);
        const again = (await client.setupHost(req)).physnets.find((p) => p.physnet === physnet);
        assert.equal(again?.bridgeMac, st.bridgeMac, 'the same MAC after the port left and setup ran again');
        await client.teardownHost(cluster);
        // Made again, the bridge gets the same MAC: Ironic's ports stay right across a rebuild.
        const rebuilt = (await client.setupHost(req)).physnets.find((p) => p.physnet === physnet);
        assert.equal(rebuilt?.bridgeMac, st.bridgeMac, 'the same MAC when the bridge is made again');
      } finally {
        await run_('ovs-vsctl', ['--if-exists', 'del-port', low]).catch(() => '');
        await run_('ip', ['link', 'del', low]).catch(() => '');
        await client.teardownHost(cluster).catch(() => undefined);
        await source.remove();
      }
    });
  }

  it('shares one device between two physnets with distinct VLANs', async function () {
    const tag = `${run}v`;
    const source = await makeSource('interface', tag);
    try {
      const before = await snapshot();
      for (const [, bridgeType] of BRIDGE_TYPES) {
        const r = await client.setupHost({
          cluster,
          bridgeType,
          physnets: [
            { physnet: `a${tag}`, device: source.device, vlan: 10 },
            { physnet: `b${tag}`, device: source.device, vlan: 20 },
          ],
        });
        assert.equal(r.physnets.filter((p) => p.device === source.device).length, 2);
        await client.teardownHost(cluster);
        assert.equal(diff(before, await snapshot()), '');
      }
    } finally {
      await client.teardownHost(cluster).catch(() => undefined);
      await source.remove();
    }
  });

  it('refuses bad mappings with the host, physnet and device named, creating nothing', async function () {
    const tag = `${run}x`;
    const source = await makeSource('interface', tag);
    const squatter = names.bridge(`q${tag}`);
    await ip('link', 'add', squatter, 'type', 'bridge');
    try {
      const before = await snapshot();
      const hostname = (await client.hostInfo()).host?.hostname ?? '';
      const cases: { physnets: { physnet: string; device: string; vlan: number }[]; expect: RegExp }[] = [
        {
          physnets: [{ physnet: `m${tag}`, device: `nope${tag}`, vlan: 0 }],
          expect: new RegExp(`host ${hostname}: physnet 'm${tag}': source device 'nope${tag}' does not exist`),
        },
        {
          physnets: [
            { physnet: `a${tag}`, device: source.device, vlan: 0 },
            { physnet: `b${tag}`, device: source.device, vlan: 0 },
          ],
          expect: /shared by several physnets; each needs its own VLAN/,
        },
        { physnets: [{ physnet: `l${tag}`, device: 'lo', vlan: 0 }], expect: /loopback/ },
        {
          physnets: [{ physnet: `q${tag}`, device: source.device, vlan: 0 }],
          expect: /already exists and was not created by tenks/,
        },
        { physnets: [{ physnet: `v${tag}`, device: source.device, vlan: 5000 }], expect: /VLAN 5000/ },
      ];
      for (const c of cases) {
        for (const [, bridgeType] of BRIDGE_TYPES) {
          const err = await rejectsWith(
            client.setupHost({ cluster, bridgeType, physnets: c.physnets }),
            'INVALID_SPEC',
          );
          assert.match(err.message, c.expect);
        }
      }
      // A tenks device is not a source: set one up, then map another physnet onto its bridge.
      await client.setupHost({
        cluster,
        bridgeType: BridgeType.BRIDGE_TYPE_LINUXBRIDGE,
        physnets: [{ physnet: `t${tag}`, device: source.device, vlan: 0 }],
      });
      const err = await rejectsWith(
        client.setupHost({
          cluster,
          bridgeType: BridgeType.BRIDGE_TYPE_LINUXBRIDGE,
          physnets: [{ physnet: `u${tag}`, device: names.bridge(`t${tag}`), vlan: 0 }],
        }),
        'INVALID_SPEC',
      );
      assert.match(err.message, /is a device tenks created/);
      await client.teardownHost(cluster);
      assert.equal(diff(before, await snapshot()), '');
    } finally {
      await client.teardownHost(cluster).catch(() => undefined);
      await ip('link', 'del', squatter).catch(() => undefined);
      await source.remove();
    }
  });
});

describe('node NICs on real QEMU guests', function () {
  const run = randomBytes(2).toString('hex');
  const cluster = `nic-${run}`;
  const pool = `tenks-nic-${run}`;
  let agent: TestAgent;
  let client: AgentClient;
  const sources: Source[] = [];
  const extraDirs: string[] = [];

  before(async function () {
    agent = await startTestAgent({ libvirt_uri: URI, storage: { pool_name: pool } });
    client = new AgentClient(agent.address);
  });

  after(async function () {
    for (const name of [`n0${run}`, `n1${run}`, `n2${run}`, `n3${run}`, `n40${run}`, `n41${run}`])
      await client.delete({ cluster, name }).catch(() => undefined);
    await client.teardownHost(cluster).catch(() => undefined);
    client.close();
    await agent.stop();
    for (const s of sources) await s.remove();
    await run_('virsh', ['-c', URI, 'pool-destroy', pool]);
    await run_('virsh', ['-c', URI, 'pool-undefine', pool]);
    for (const d of extraDirs) await rm(d, { recursive: true, force: true });
  });

  const node = (name: string, physnets: string[]): NodeSpec =>
    nodeSpec({ cluster, name, memoryMb: 128, nics: physnets.map((physnet) => ({ physnet, mac: '' })) });

  BRIDGE_TYPES.forEach(([typeName, bridgeType], i) => {
    it(`a node's NIC reaches the physnet through a ${typeName} bridge (iPXE DHCP seen at the source)`, async function () {
      const tag = `${run}${i}`;
      const source = await makeSource('interface', tag);
      sources.push(source);
      const before = await snapshot();
      const physnet = `p${tag}`;
      await client.setupHost({ cluster, bridgeType, physnets: [{ physnet, device: source.device, vlan: 0 }] });
      const name = `n${i}${run}`;
      const r = await client.ensure(node(name, [physnet]));
      const nic = r.node?.nics[0];
      assert.ok(nic, 'NIC reported');
      assert.equal(nic.bridge, names.bridge(physnet));
      assert.equal(nic.switchPort, names.switchPort(name, 0));
      assert.match(nic.bridgeMac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      const cap = await listening(source.capture, nic.mac, 90_000);
      await client.power({ cluster, name }, PowerAction.POWER_ACTION_ON);
      const frame = await cap.seen;
      assert.match(frame, new RegExp(nic.mac));
      await client.power({ cluster, name }, PowerAction.POWER_ACTION_OFF);
      await client.delete({ cluster, name });
      await client.teardownHost(cluster);
      assert.equal(diff(before, await snapshot()), '', 'host differs after node delete and teardown');
    });
  });

  BRIDGE_TYPES.forEach(([typeName, bridgeType], i) => {
    it(`tags a node's frames with the physnet's VLAN on a shared source (${typeName})`, async function () {
      const tag = `${run}t${i}`;
      const source = await makeSource('interface', tag);
      sources.push(source);
      const before = await snapshot();
      const [p1, p2] = [`x${tag}`, `y${tag}`];
      await client.setupHost({
        cluster,
        bridgeType,
        physnets: [
          { physnet: p1, device: source.device, vlan: 101 },
          { physnet: p2, device: source.device, vlan: 102 },
        ],
      });
      const name = `n4${i}${run}`;
      const r = await client.ensure(node(name, [p2]));
      const mac = r.node?.nics[0]?.mac ?? '';
      const cap = await listening(source.capture, mac, 90_000, 102);
      await client.power({ cluster, name }, PowerAction.POWER_ACTION_ON);
      assert.match(await cap.seen, /vlan 102/);
      await client.power({ cluster, name }, PowerAction.POWER_ACTION_OFF);
      await client.delete({ cluster, name });
      await client.teardownHost(cluster);
      assert.equal(diff(before, await snapshot()), '', 'host differs after teardown');
    });
  });

  it('keeps two NICs in order with stable MACs across ensure, agent restart and VM restart; ports persist while off', async function () {
    const tag = `${run}m`;
    const a = await makeSource('interface', `${tag}a`);
    const b = await makeSource('linuxbridge', `${tag}b`);
    sources.push(a, b);
    const pa = `a${tag}`;
    const pb = `b${tag}`;
    await client.setupHost({
      cluster,
      bridgeType: BridgeType.BRIDGE_TYPE_OPENVSWITCH,
      physnets: [
        { physnet: pa, device: a.device, vlan: 0 },
        { physnet: pb, device: b.device, vlan: 0 },
      ],
    });
    const name = `n2${run}`;
    const first = await client.ensure(node(name, [pa, pb]));
    const macs = first.node?.nics.map((x) => x.mac) ?? [];
    assert.equal(macs.length, 2);
    assert.deepEqual(
      first.node?.nics.map((x) => x.physnet),
      [pa, pb],
    );
    const xmlMacs = async (): Promise<string[]> =>
      [...(await run_('virsh', ['-c', URI, 'dumpxml', '--inactive', name])).matchAll(/<mac address='([^']+)'/g)].map(
        (m) => m[1] ?? '',
      );
    assert.deepEqual(await xmlMacs(), macs);

    const again = await client.ensure(node(name, [pa, pb]));
    assert.equal(again.changed, false);
    // A changed spec is applied in place: the node keeps its ports (its own, not a stranger's) and MACs.
    const bigger = await client.ensure({ ...node(name, [pa, pb]), memoryMb: again.node!.memoryMb + 64 });
    assert.equal(bigger.changed, true);
    assert.deepEqual(
      bigger.node?.nics.map((x) => x.mac),
      macs,
    );
    await client.ensure(node(name, [pa, pb]));

    // Both NICs reach their own physnet.
    const capA = await listening(a.capture, macs[0] ?? '', 90_000);
    const capB = await listening(b.capture, macs[1] ?? '', 90_000);
    await client.power({ cluster, name }, PowerAction.POWER_ACTION_ON);
    await Promise.all([capA.seen, capB.seen]);
    await client.power({ cluster, name }, PowerAction.POWER_ACTION_OFF);

    // Switch ports exist, up and in their bridges, while the VM is off.
    for (const [idx, physnet] of [pa, pb].entries()) {
      const port = names.switchPort(name, idx);
      assert.match(await ip('link', 'show', port), /state UP|,UP/);
      assert.equal((await vsctl('port-to-br', port)).trim(), names.bridge(physnet));
    }

    // A new agent (restart) sees the same node, MACs and order, and changes nothing.
    await agent.daemon.stop(2000);
    const previous = agent;
    agent = await startTestAgent({
      libvirt_uri: URI,
      storage: { pool_name: pool, pool_path: previous.config.storage.poolPath },
    });
    extraDirs.push(previous.dir);
    client.close();
    client = new AgentClient(agent.address);
    const afterRestart = await client.ensure(node(name, [pa, pb]));
    assert.equal(afterRestart.changed, false, afterRestart.changes.join('; '));
    assert.deepEqual(
      afterRestart.node?.nics.map((x) => x.mac),
      macs,
    );
    assert.deepEqual(await xmlMacs(), macs);

    // The VM started again re-attaches to the same ports.
    const capA2 = await listening(a.capture, macs[0] ?? '', 90_000);
    await client.power({ cluster, name }, PowerAction.POWER_ACTION_ON);
    await capA2.seen;
    await client.power({ cluster, name }, PowerAction.POWER_ACTION_OFF);
    assert.deepEqual(await xmlMacs(), macs);
    await client.delete({ cluster, name });
    for (const idx of [0, 1]) await assert.rejects(ip('link', 'show', names.switchPort(name, idx)));
    await client.teardownHost(cluster);
  });

  it('refuses a NIC on a physnet that is not set up, creating nothing', async function () {
    const name = `n3${run}`;
    const err = await rejectsWith(client.ensure(node(name, [`nope${run}`])), 'INVALID_SPEC');
    assert.equal(err.field, 'node.nics[0].physnet');
    assert.match(err.message, /is not set up on host/);
    assert.equal((await client.list(cluster)).nodes.length, 0);
    await assert.rejects(ip('link', 'show', names.switchPort(name, 0)));
  });
});

/** Runs a command, returning stdout ('' on failure): for best-effort cleanup and reads. */
async function run_(file: string, args: string[]): Promise<string> {
  return run(file, args).catch(() => '');
}

describe('two agents on one host (one libvirt URI, one network namespace)', function () {
  const tag = randomBytes(2).toString('hex');
  const cluster = `own-${tag}`;
  let one: TestAgent;
  let two: TestAgent;
  let c1: AgentClient;
  let c2: AgentClient;
  const sources: Source[] = [];

  before(async function () {
    one = await startTestAgent({ agent_id: `one-${tag}`, libvirt_uri: URI });
    two = await startTestAgent({ agent_id: `two-${tag}`, libvirt_uri: URI });
    c1 = new AgentClient(one.address);
    c2 = new AgentClient(two.address);
  });

  after(async function () {
    for (const [c, ns] of [
      [c1, ['a', 'b']],
      [c2, ['c']],
    ] as const)
      for (const n of ns) await c.delete({ cluster, name: `ow${n}${tag}` }).catch(() => undefined);
    await c1.teardownHost(cluster).catch(() => undefined);
    await c2.teardownHost(cluster).catch(() => undefined);
    c1.close();
    c2.close();
    await one.stop();
    await two.stop();
    for (const s of sources) await s.remove();
  });

  it('each manages only its own bridges, ports and domains, even with the same cluster name', async function () {
    const s1 = await makeSource('linuxbridge', `o1${tag}`);
    sources.push(s1);
    const s2 = await makeSource('linuxbridge', `o2${tag}`);
    sources.push(s2);
    const p1 = `po1${tag}`;
    const p2 = `po2${tag}`;
    await c1.setupHost({
      cluster,
      bridgeType: BridgeType.BRIDGE_TYPE_OPENVSWITCH,
      physnets: [{ physnet: p1, device: s1.device, vlan: 0 }],
    });
    await c2.setupHost({
      cluster,
      bridgeType: BridgeType.BRIDGE_TYPE_LINUXBRIDGE,
      physnets: [{ physnet: p2, device: s2.device, vlan: 0 }],
    });
    const node = (name: string, physnet: string): NodeSpec =>
      nodeSpec({ cluster, name, memoryMb: 128, nics: [{ physnet, mac: '' }] });
    await c1.ensure(node(`owa${tag}`, p1));
    await c2.ensure(node(`owc${tag}`, p2));

    // Each sees its own physnet and node only.
    assert.deepEqual(
      (await c1.hostInfo()).host?.physnets.map((p) => p.physnet),
      [p1],
    );
    assert.deepEqual(
      (await c2.hostInfo()).host?.physnets.map((p) => p.physnet),
      [p2],
    );
    assert.deepEqual(
      (await c1.list(cluster)).nodes.map((n) => n.name),
      [`owa${tag}`],
    );
    // One agent cannot take the other's physnet bridge or node name.
    const taken = await rejectsWith(
      c2.setupHost({
        cluster,
        bridgeType: BridgeType.BRIDGE_TYPE_OPENVSWITCH,
        physnets: [{ physnet: p1, device: s2.device, vlan: 0 }],
      }),
      'INVALID_SPEC',
    );
    assert.match(taken.message, /another tenks agent/);
    const named = await rejectsWith(c2.ensure(node(`owa${tag}`, p2)), 'ALREADY_EXISTS');
    assert.match(named.message, /another tenks agent/);

    // Agent two removes everything it has, of every cluster: agent one's objects stay.
    await c2.delete({ cluster, name: `owc${tag}` });
    const before = await snapshot();
    await c2.teardownHost('');
    const after = await snapshot();
    const gone = diff(before, after)
      .split('\n')
      .filter((l) => l !== '');
    assert.ok(
      gone.every(
        (l) =>
          l.includes(names.bridge(p2)) || l.includes(`tu-${p2}`) || l.includes(`ts-${p2}`) || l.includes(s2.device),
      ),
      `agent two removed only its own objects:\n${gone.join('\n')}`,
    );
    await ip('link', 'show', names.switchPort(`owa${tag}`, 0));
    assert.deepEqual(
      (await c1.hostInfo()).host?.physnets.map((p) => p.physnet),
      [p1],
    );
    assert.ok(
      gone.some((l) => l.includes(names.bridge(p2))),
      'agent two removed its own bridge',
    );
  });
});
