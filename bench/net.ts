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
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { SetupHostRequest } from '../proto/gen/tenks/v1/agent.pb.js';
import { BootMode, BridgeType, NicSpec, NodeSpec, PhysnetMapping, VolumeSpec } from '../proto/gen/tenks/v1/types.pb.js';
import { AgentWire } from '../common/index.js';
import { names } from '../agent/network/names.js';
import { freePort, LOOPBACK_BMC } from '../test/helpers/net.js';

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
const NICS_PER_NODE = 2;
if (!Number.isInteger(N) || N < 1 || N > 99_999) throw new Error(`--nodes must be 1-99999 (got ${values.nodes})`);
if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) throw new Error('--concurrency must be a positive integer');
if (VOLUMES !== 0 && VOLUMES !== 1) throw new Error('--volumes must be 0 or 1');

type Kind = 'openvswitch' | 'linuxbridge';

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;
const say = (line: string): void => {
  process.stderr.write(`bench:net: ${line}\n`);
};

/** Runs a host tool; returns stdout. */
function sh(file: string, args: readonly string[], input?: string): string {
  return execFileSync(file, args, {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
    ...(input === undefined ? {} : { input }),
  });
}

/** Like sh, but a failure only comes back as false (cleanup). */
function shQuiet(file: string, args: readonly string[], input?: string): boolean {
  try {
    sh(file, args, input);
    return true;
  } catch {
    return false;
  }
}

interface IpLink {
  ifname: string;
  master?: string;
  flags?: string[];
  ifalias?: string;
}

function ipLinks(): Map<string, IpLink> {
  const list = JSON.parse(sh('ip', ['-json', 'link', 'show'])) as IpLink[];
  return new Map(list.map((l) => [l.ifname, l]));
}

function ovsBridges(): string[] {
  return sh('ovs-vsctl', ['--timeout=30', 'list-br'])
    .split('\n')
    .filter((b) => b !== '');
}

function ovsRunning(): boolean {
  return shQuiet('ovs-vsctl', ['--timeout=5', 'show']);
}

/** Makes sure ovsdb-server and ovs-vswitchd answer, starting them when they do not. */
function ensureOvs(): void {
  if (ovsRunning()) return;
  say('Open vSwitch is not answering; starting it with ovs-ctl');
  sh('/usr/share/openvswitch/scripts/ovs-ctl', ['start']);
  if (!ovsRunning()) throw new Error('Open vSwitch did not start (ovs-vsctl show fails)');
}

interface Running {
  proc: ChildProcess;
  api: AgentWire;
  dir: string;
}

/** Everything one run made on the host, so cleanup can find it whatever happened. */
interface Run {
  kind: Kind;
  cluster: string;
  /** Source interfaces (dummies; veth ends where the kernel has no dummy driver). */
  dummies: string[];
  /** Peers of veth sources, removed with them. */
  peers: string[];
  physnets: string[];
  nodes: string[];
  agent: Running | null;
  dir: string | null;
}

const runs = new Set<Run>();

async function startAgent(r: Run, pool: string): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'tenks-bench-net-'));
  r.dir = dir;
  const port = await freePort();
  // BMCs on loopback, on ports the OS chooses: a lab on this host holds Redfish's default 8000.
  const configFile = join(dir, 'agent.json');
  writeFileSync(configFile, JSON.stringify({ bmc: LOOPBACK_BMC }));
  const proc = spawn(
    process.execPath,
    [
      'bin/tenks-agent.js',
      '--listen',
      `127.0.0.1:${port}`,
      '--insecure-loopback',
      '--libvirt-uri',
      'test:///default',
      '--pool-name',
      pool,
      '--pool-path',
      join(dir, 'pool'),
      '--log-directory',
      join(dir, 'log'),
      '--state-dir',
      join(dir, 'state'),
      '--config',
      configFile,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const api = new AgentWire(`127.0.0.1:${port}`, credentials.createInsecure(), {}, 300_000);
  const running: Running = { proc, api, dir };
  r.agent = running;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await api.hostInfo({ timeoutMs: 2000 });
      break;
    } catch (e) {
      if (Date.now() > deadline || proc.exitCode !== null || proc.signalCode !== null) throw e;
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  return running;
}

/** Stops the agent: SIGTERM, then SIGKILL after 20 s. */
async function stopAgent(r: Run): Promise<void> {
  const a = r.agent;
  if (!a) return;
  r.agent = null;
  a.api.close();
  if (a.proc.exitCode !== null || a.proc.signalCode !== null) return;
  const exited = new Promise((res) => a.proc.once('exit', res));
  a.proc.kill('SIGTERM');
  const timer = setTimeout(() => a.proc.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** Every interface name tenks could have made for this run's physnets, sources and nodes. */
function ourNames(r: Run): Set<string> {
  const out = new Set<string>();
  for (const f of Object.values(names) as ((key: string, nic?: number) => string)[]) {
    if (f.length === 1) for (const key of [...r.physnets, ...r.dummies]) out.add(f(key));
    else for (const n of r.nodes) for (let i = 0; i < NICS_PER_NODE; i++) out.add(f(n, i));
  }
  return out;
}

/** Removes whatever this run left: the agent, OVS bridges, links, dummies, scratch directory. Never throws. */
function cleanupSync(r: Run): void {
  if (r.agent) {
    r.agent.api.close();
    if (r.agent.proc.exitCode === null && r.agent.proc.signalCode === null) r.agent.proc.kill('SIGKILL');
    r.agent = null;
  }
  const ours = ourNames(r);
  try {
    if (ovsRunning()) {
      const brs = ovsBridges().filter((b) => ours.has(b));
      const cmds = brs.flatMap((b) => ['--', '--if-exists', 'del-br', b]);
      for (const d of r.dummies) cmds.push('--', '--if-exists', 'del-port', d);
      if (brs.length > 0) say(`cleanup: removing OVS bridges ${brs.join(', ')}`);
      shQuiet('ovs-vsctl', ['--timeout=60', ...cmds]);
    }
  } catch {
    // OVS is gone: nothing of ours can be in it.
  }
  try {
    const present = ipLinks();
    const left = [...present.keys()].filter((n) => ours.has(n));
    // Deleting one end of a veth pair takes its peer along; -force goes on past the peers.
    if (left.length > 0) {
      say(`cleanup: removing ${left.length} leftover links`);
      shQuiet('ip', ['-force', '-batch', '-'], left.map((n) => `link del dev ${n}`).join('\n') + '\n');
    }
    const now = ipLinks();
    const dummies = [...r.dummies, ...r.peers].filter((d) => now.has(d));
    if (dummies.length > 0)
      shQuiet('ip', ['-force', '-batch', '-'], dummies.map((d) => `link del dev ${d}`).join('\n') + '\n');
  } catch (e) {
    say(`cleanup: ${(e as Error).message}`);
  }
  if (r.dir) {
    rmSync(r.dir, { recursive: true, force: true });
    r.dir = null;
  }
}

const kernel = { noDummy: false };

/** Creates a source interface: a dummy, or one end of a veth pair where the dummy driver is missing. */
function makeSource(r: Run, name: string): void {
  if (!kernel.noDummy) {
    try {
      sh('ip', ['link', 'add', name, 'type', 'dummy']);
      return;
    } catch (e) {
      if (!/Unknown device type/i.test(String((e as { stderr?: unknown }).stderr))) throw e;
      kernel.noDummy = true;
      say('this kernel has no dummy driver: using one end of a veth pair as each source interface');
    }
  }
  const peer = `${name}p`;
  r.peers.push(peer);
  sh('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', peer]);
}

function onSignal(sig: NodeJS.Signals): void {
  say(`${sig}: cleaning up`);
  for (const r of runs) cleanupSync(r);
  process.exit(sig === 'SIGINT' ? 130 : 143);
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

/** Runs `task(i)` for i in [0, n) with `limit` in flight; returns seconds. */
async function timed(label: string, n: number, limit: number, task: (i: number) => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  let next = 0;
  let done = 0;
  const step = Math.max(1, Math.ceil(n / 4));
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++;
        await task(i);
        done++;
        if (done % step === 0 && done < n) say(`  ${label}: ${done}/${n}`);
      }
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function seconds(f: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - start) / 1e9;
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

/** Checks that every NIC's veth pair exists, is up, and its switch port sits in its physnet's bridge. */
function verifyWired(r: Run): void {
  const links = ipLinks();
  const bridges = r.physnets.map((p) => names.bridge(p));
  const ovsPorts = new Map<string, Set<string>>();
  if (r.kind === 'openvswitch')
    for (const b of bridges)
      ovsPorts.set(
        b,
        new Set(
          sh('ovs-vsctl', ['--timeout=30', 'list-ports', b])
            .split('\n')
            .filter((p) => p !== ''),
        ),
      );
  const problems: string[] = [];
  let switchPorts = 0;
  for (const n of r.nodes)
    for (let i = 0; i < NICS_PER_NODE; i++) {
      const sp = names.switchPort(n, i);
      const vp = names.vmPort(n, i);
      const bridge = bridges[i]!;
      const l = links.get(sp);
      if (!l) {
        problems.push(`${sp} missing`);
        continue;
      }
      switchPorts++;
      if (!links.has(vp)) problems.push(`${vp} missing`);
      if (!l.flags?.includes('UP')) problems.push(`${sp} down`);
      if (r.kind === 'linuxbridge' ? l.master !== bridge : !ovsPorts.get(bridge)?.has(sp))
        problems.push(`${sp} not in ${bridge}`);
    }
  if (switchPorts !== N * NICS_PER_NODE) problems.unshift(`${switchPorts} switch ports, expected ${N * NICS_PER_NODE}`);
  if (problems.length > 0)
    throw new Error(
      `${r.kind}: wiring check failed: ${problems.slice(0, 10).join('; ')} (${problems.length} problems)`,
    );
  say(`${r.kind}: ${switchPorts} switch ports (and their VM-side peers) present and plugged in`);
}

interface Snapshot {
  links: Set<string>;
  ovs: Set<string>;
}

function snapshot(): Snapshot {
  return { links: new Set(ipLinks().keys()), ovs: new Set(ovsRunning() ? ovsBridges() : []) };
}

/** Compares the host with the snapshot taken before setup: anything of ours left fails the run. */
function verifyClean(r: Run, before: Snapshot, dummiesDown: boolean): void {
  const after = snapshot();
  const links = ipLinks();
  const ours = ourNames(r);
  const added = [...after.links].filter((n) => !before.links.has(n));
  const removed = [...before.links].filter((n) => !after.links.has(n));
  const addedBr = [...after.ovs].filter((n) => !before.ovs.has(n));
  const removedBr = [...before.ovs].filter((n) => !after.ovs.has(n));
  const problems: string[] = [];
  const leftLinks = added.filter((n) => ours.has(n));
  const leftBr = addedBr.filter((n) => ours.has(n));
  if (leftLinks.length > 0)
    problems.push(
      `${leftLinks.length} links left: ${leftLinks.slice(0, 8).join(', ')}${leftLinks.length > 8 ? ', ...' : ''}`,
    );
  if (leftBr.length > 0) problems.push(`OVS bridges left: ${leftBr.join(', ')}`);
  for (const d of r.dummies) {
    const l = links.get(d);
    if (!l) problems.push(`source ${d} was deleted`);
    else {
      if (l.master) problems.push(`source ${d} still enslaved to ${l.master}`);
      if (dummiesDown && l.flags?.includes('UP')) problems.push(`source ${d} left up (it was down before setup)`);
    }
  }
  if (r.kind === 'openvswitch')
    for (const d of r.dummies)
      if (shQuiet('ovs-vsctl', ['--timeout=30', 'port-to-br', d])) problems.push(`source ${d} still an OVS port`);
  // Changes by others on this host (or OVS's own datapath devices) are reported, not blamed on tenks.
  const foreign = [...added.filter((n) => !ours.has(n)), ...removed.map((n) => `-${n}`)];
  const foreignBr = [...addedBr.filter((n) => !ours.has(n)), ...removedBr.map((n) => `-${n}`)];
  if (foreign.length > 0) say(`${r.kind}: note: links changed by something else: ${foreign.join(', ')}`);
  if (foreignBr.length > 0) say(`${r.kind}: note: OVS bridges changed by something else: ${foreignBr.join(', ')}`);
  if (problems.length > 0) throw new Error(`${r.kind}: teardown left things behind: ${problems.join('; ')}`);
  say(`${r.kind}: host links and OVS bridges back to the snapshot taken before setup`);
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

    const a = await startAgent(r, `tenks-bench-net-${sfx}`);
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
    const wireCallsS = await timed('wire', N, CONCURRENCY, async (i) => {
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
    const noopS = await timed('no-op', N, CONCURRENCY, async (i) => {
      const res = await a.api.ensureNode(spec(r, i));
      if (res.changed) throw new Error(`${r.nodes[i]!} changed on a no-op ensure: ${res.changes.join('; ')}`);
    });
    say(`${kind}: no-op re-ensure of ${N} nodes in ${round(noopS)} s`);

    const deleteS = await timed('delete', N, CONCURRENCY, async (i) => {
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

ensureOvs();
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
