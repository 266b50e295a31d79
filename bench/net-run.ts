/** What one bench:net run made on the host: tracked so cleanup finds it, and checked after wiring and teardown. */
import { rmSync } from 'node:fs';
import { names } from '../agent/network/names.js';
import type { LoneAgent } from './lib-lone-agent.js';
import { sayer } from './lib-stack/run-bench.js';
import { ipLinks, ovsBridges, ovsRunning, sh, shQuiet, snapshot, type Snapshot } from './net-host.js';

/** Every node has one NIC per physnet. */
export const NICS_PER_NODE = 2;

const say = sayer('bench:net');

/** Everything one run made on the host, so cleanup can find it whatever happened. */
export interface Run {
  kind: 'openvswitch' | 'linuxbridge';
  cluster: string;
  /** Source interfaces (dummies; veth ends where the kernel has no dummy driver). */
  dummies: string[];
  /** Peers of veth sources, removed with them. */
  peers: string[];
  physnets: string[];
  nodes: string[];
  agent: LoneAgent | null;
  dir: string | null;
}

/** Every interface name tenks could have made for this run's physnets, sources and nodes. */
export function ourNames(r: Run): Set<string> {
  const out = new Set<string>();
  for (const f of Object.values(names) as ((key: string, nic?: number) => string)[]) {
    if (f.length === 1) for (const key of [...r.physnets, ...r.dummies]) out.add(f(key));
    else for (const n of r.nodes) for (let i = 0; i < NICS_PER_NODE; i++) out.add(f(n, i));
  }
  return out;
}

/** Removes whatever this run left: the agent, OVS bridges, links, dummies, scratch directory. Never throws. */
export function cleanupSync(r: Run): void {
  r.agent?.kill();
  r.agent = null;
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

/** Whether this kernel lacks the dummy driver (found out by the first source made). */
export const kernel = { noDummy: false };

/** Creates a source interface: a dummy, or one end of a veth pair where the dummy driver is missing. */
export function makeSource(r: Run, name: string): void {
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

/** Checks that every NIC's veth pair exists, is up, and its switch port sits in its physnet's bridge. */
export function verifyWired(r: Run): void {
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
  const want = r.nodes.length * NICS_PER_NODE;
  if (switchPorts !== want) problems.unshift(`${switchPorts} switch ports, expected ${want}`);
  if (problems.length > 0)
    throw new Error(
      `${r.kind}: wiring check failed: ${problems.slice(0, 10).join('; ')} (${problems.length} problems)`,
    );
  say(`${r.kind}: ${switchPorts} switch ports (and their VM-side peers) present and plugged in`);
}

/** Compares the host with the snapshot taken before setup: anything of ours left fails the run. */
export function verifyClean(r: Run, before: Snapshot, dummiesDown: boolean): void {
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
