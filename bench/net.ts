/**
 * bench:net — wires node NICs to physnets through the agent's gRPC API, on Open vSwitch and then on
 * Linux bridges, and reports how long wiring, a no-op re-ensure and teardown take. Each physnet is
 * mapped to a dummy interface made for the run; nodes live on libvirt's test driver, so only the
 * networking plane does real work. Needs root (and ovsdb-server/ovs-vswitchd for the OVS half).
 *
 *   npm run bench:net [-- --nodes 500 --concurrency 32 --volumes 0]
 *
 * Every node has two NICs (one per physnet), so a run wires 2 x nodes NICs per bridge type.
 * Last line: one JSON object with wire_1000_nics_s, noop_1000_nics_s, teardown_1000_nics_s (OVS)
 * and linux_wire_1000_nics_s, linux_noop_1000_nics_s, linux_teardown_1000_nics_s (Linux bridge),
 * scaled to 1000 NICs; teardown is DeleteNode of every node plus TeardownHost.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SetupHostRequest } from '../proto/gen/tenks/v1/agent.pb.js';
import { BootMode, BridgeType, NicSpec, NodeSpec, PhysnetMapping, VolumeSpec } from '../proto/gen/tenks/v1/types.pb.js';
import { names } from '../agent/network/names.js';
import { LoneAgent } from './lib-lone-agent.js';
import { round } from './lib-stack/figures.js';
import { sayer } from './lib-stack/run-bench.js';
import { seconds, timed } from './lib-timed.js';
import { ensureOvs, ipLinks, sh, snapshot } from './net-host.js';
import {
  cleanupSync,
  kernel,
  makeSource,
  NICS_PER_NODE,
  ourNames,
  verifyClean,
  verifyWired,
  type Run,
} from './net-run.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '32' },
    volumes: { type: 'string', default: '0' },
  },
});
const N = Number(values.nodes);
const CONCURRENCY = Number(values.concurrency);
const VOLUMES = Number(values.volumes);
if (!Number.isInteger(N) || N < 1 || N > 99_999) throw new Error(`--nodes must be 1-99999 (got ${values.nodes})`);
if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) throw new Error('--concurrency must be a positive integer');
if (VOLUMES !== 0 && VOLUMES !== 1) throw new Error('--volumes must be 0 or 1');

type Kind = Run['kind'];
const say = sayer('bench:net');

const runs = new Set<Run>();

function onSignal(sig: NodeJS.Signals): void {
  say(`${sig}: cleaning up`);
  for (const r of runs) cleanupSync(r);
  process.exit(sig === 'SIGINT' ? 130 : 143);
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

/** Stops the run's agent: SIGTERM, then SIGKILL after 20 s. */
async function stopAgent(r: Run): Promise<void> {
  const a = r.agent;
  r.agent = null;
  await a?.stop();
}

/** {@link timed} over the run's nodes, saying how far it got at each quarter. */
function timedSaying(label: string, task: (i: number) => Promise<unknown>): Promise<number> {
  const step = Math.max(1, Math.ceil(N / 4));
  return timed(N, CONCURRENCY, task, (done) => {
    if (done % step === 0 && done < N) say(`  ${label}: ${done}/${N}`);
  });
}

function suffix(): string {
  // 4 base-36 characters: bridges `tb-bn1xxxx` and ports `tp-bxxxx499-1` stay in the plain form.
  let s = '';
  for (const b of randomBytes(4)) s += (b % 36).toString(36);
  return s;
}

interface Figures {
  setupS: number;
  wireS: number;
  noopS: number;
  deleteS: number;
  teardownHostS: number;
  teardownS: number;
  datapath: string;
}

function spec(r: Run, i: number): NodeSpec {
  return NodeSpec.create({
    cluster: r.cluster,
    name: r.nodes[i]!,
    memoryMb: 64,
    vcpus: 1,
    bootMode: BootMode.BOOT_MODE_BIOS,
    volumes: VOLUMES === 1 ? [VolumeSpec.create({ capacity: '16MiB' })] : [],
    nics: r.physnets.map((physnet) => NicSpec.create({ physnet })),
  });
}

async function bench(kind: Kind): Promise<Figures> {
  const sfx = suffix();
  const r: Run = {
    kind,
    cluster: `bnet-${sfx}`,
    dummies: [`tbn${sfx}a`, `tbn${sfx}b`],
    peers: [],
    physnets: [`bn1${sfx}`, `bn2${sfx}`],
    nodes: Array.from({ length: N }, (_, i) => `b${sfx}${i}`),
    agent: null,
    dir: null,
  };
  runs.add(r);
  const bridges = r.physnets.map((p) => names.bridge(p));
  try {
    const taken = ipLinks();
    for (const n of [...r.dummies, ...r.dummies.map((d) => `${d}p`), ...ourNames(r)])
      if (taken.has(n)) throw new Error(`${n} already exists on this host; run again`);
    for (const d of r.dummies) makeSource(r, d);
    const before = snapshot();
    say(`${kind}: dummies ${r.dummies.join(', ')}; physnets ${r.physnets.join(', ')} -> bridges ${bridges.join(', ')}`);

    r.dir = mkdtempSync(join(tmpdir(), 'tenks-bench-net-'));
    const a = LoneAgent.spawn({
      libvirtUri: 'test:///default',
      poolName: `tenks-bench-net-${sfx}`,
      dir: r.dir,
      callTimeoutMs: 300_000,
    });
    r.agent = a;
    await a.ready();
    const setupS = await seconds(async () => {
      const res = await a.api.setupHost(
        SetupHostRequest.create({
          cluster: r.cluster,
          bridgeType: kind === 'openvswitch' ? BridgeType.BRIDGE_TYPE_OPENVSWITCH : BridgeType.BRIDGE_TYPE_LINUXBRIDGE,
          physnets: r.physnets.map((physnet, i) => PhysnetMapping.create({ physnet, device: r.dummies[i]!, vlan: 0 })),
        }),
      );
      if (!res.changed) throw new Error(`${kind}: SetupHost changed nothing`);
      for (const [i, p] of r.physnets.entries()) {
        const st = res.physnets.find((s) => s.physnet === p);
        if (st?.bridge !== bridges[i])
          throw new Error(`${kind}: physnet ${p} reported on bridge ${st?.bridge ?? 'none'}`);
      }
    });
    const datapath =
      kind === 'openvswitch'
        ? sh('ovs-vsctl', ['--timeout=30', 'get', 'bridge', bridges[0]!, 'datapath_type']).trim().replace(/"/g, '')
        : 'linux';
    say(`${kind}: SetupHost ${round(setupS)} s (${datapath})`);

    const nics = N * NICS_PER_NODE;
    // The agent's port changes return once OVSDB has them (--no-wait); a waiting write transaction
    // then lasts until ovs-vswitchd has applied everything, so the figures include the datapath.
    const settle = async (): Promise<number> =>
      kind === 'openvswitch'
        ? seconds(() =>
            Promise.resolve(sh('ovs-vsctl', ['--timeout=600', '--', '--if-exists', 'del-port', 'tbn-settle'])),
          )
        : 0;
    const wireCallsS = await timedSaying('wire', async (i) => {
      const res = await a.api.ensureNode(spec(r, i));
      if (!res.changed) throw new Error(`${r.nodes[i]!} already existed`);
      const got = res.node?.nics.map((n) => `${n.switchPort}@${n.bridge}`) ?? [];
      const want = r.physnets.map((_p, k) => `${names.switchPort(r.nodes[i]!, k)}@${bridges[k]!}`);
      if (got.join() !== want.join()) throw new Error(`${r.nodes[i]!}: NICs ${got.join()} (expected ${want.join()})`);
    });
    const wireS = wireCallsS + (await settle());
    say(
      `${kind}: wired ${N} nodes / ${nics} NICs in ${round(wireS)} s (calls ${round(wireCallsS)} s, then OVS settled)`,
    );
    verifyWired(r);

    await settle();
    const noopS = await timedSaying('no-op', async (i) => {
      const res = await a.api.ensureNode(spec(r, i));
      if (res.changed) throw new Error(`${r.nodes[i]!} changed on a no-op ensure: ${res.changes.join('; ')}`);
    });
    say(`${kind}: no-op re-ensure of ${N} nodes in ${round(noopS)} s`);

    const deleteS = await timedSaying('delete', async (i) => {
      const res = await a.api.deleteNode({ cluster: r.cluster, name: r.nodes[i]!, uuid: '' });
      if (!res.existed) throw new Error(`${r.nodes[i]!} did not exist at delete`);
    });
    const teardownHostS = await seconds(async () => {
      const res = await a.api.teardownHost(r.cluster);
      if (!res.changed) throw new Error(`${kind}: TeardownHost removed nothing`);
    });
    const teardownS = deleteS + teardownHostS + (await settle());
    say(
      `${kind}: teardown ${round(teardownS)} s (DeleteNode x${N} ${round(deleteS)} s, TeardownHost ${round(teardownHostS)} s)`,
    );
    await stopAgent(r);
    verifyClean(r, before, true);
    return { setupS, wireS, noopS, deleteS, teardownHostS, teardownS, datapath };
  } finally {
    await stopAgent(r).catch(() => undefined);
    cleanupSync(r);
    runs.delete(r);
  }
}

ensureOvs(say);
const ovs = await bench('openvswitch');
const linux = await bench('linuxbridge');

const nics = N * NICS_PER_NODE;
const per1000 = (s: number): number => round((s * 1000) / nics);
const target = (s: number): boolean => per1000(s) < 30;
say(
  `per 1000 NICs: OVS wire ${per1000(ovs.wireS)} s, teardown ${per1000(ovs.teardownS)} s; ` +
    `Linux bridge wire ${per1000(linux.wireS)} s, teardown ${per1000(linux.teardownS)} s (target < 30 s each)`,
);
console.log(
  JSON.stringify({
    nodes: N,
    nics,
    concurrency: CONCURRENCY,
    volumes_per_node: VOLUMES,
    ovs_datapath: ovs.datapath,
    source_interfaces: kernel.noDummy ? 'veth' : 'dummy',
    wire_1000_nics_s: per1000(ovs.wireS),
    noop_1000_nics_s: per1000(ovs.noopS),
    teardown_1000_nics_s: per1000(ovs.teardownS),
    linux_wire_1000_nics_s: per1000(linux.wireS),
    linux_noop_1000_nics_s: per1000(linux.noopS),
    linux_teardown_1000_nics_s: per1000(linux.teardownS),
    setup_host_s: round(ovs.setupS),
    wire_s: round(ovs.wireS),
    noop_s: round(ovs.noopS),
    delete_nodes_s: round(ovs.deleteS),
    teardown_host_s: round(ovs.teardownHostS),
    linux_setup_host_s: round(linux.setupS),
    linux_wire_s: round(linux.wireS),
    linux_noop_s: round(linux.noopS),
    linux_delete_nodes_s: round(linux.deleteS),
    linux_teardown_host_s: round(linux.teardownHostS),
    targets_met: target(ovs.wireS) && target(ovs.teardownS) && target(linux.wireS) && target(linux.teardownS),
  }),
);
