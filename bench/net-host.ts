/** The host's links and Open vSwitch bridges, through its tools (bench:net). */
import { execFileSync } from 'node:child_process';

/** Runs a host tool; returns stdout. */
export function sh(file: string, args: readonly string[], input?: string): string {
  return execFileSync(file, args, {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
    ...(input === undefined ? {} : { input }),
  });
}

/** Like sh, but a failure only comes back as false (cleanup). */
export function shQuiet(file: string, args: readonly string[], input?: string): boolean {
  try {
    sh(file, args, input);
    return true;
  } catch {
    return false;
  }
}

/** A link as `ip -json link show` lists it. */
export interface IpLink {
  ifname: string;
  master?: string;
  flags?: string[];
  ifalias?: string;
}

/** The host's links by name. */
export function ipLinks(): Map<string, IpLink> {
  const list = JSON.parse(sh('ip', ['-json', 'link', 'show'])) as IpLink[];
  return new Map(list.map((l) => [l.ifname, l]));
}

/** The host's OVS bridges. */
export function ovsBridges(): string[] {
  return sh('ovs-vsctl', ['--timeout=30', 'list-br'])
    .split('\n')
    .filter((b) => b !== '');
}

/** Whether Open vSwitch answers. */
export function ovsRunning(): boolean {
  return shQuiet('ovs-vsctl', ['--timeout=5', 'show']);
}

/** Makes sure ovsdb-server and ovs-vswitchd answer, starting them when they do not. */
export function ensureOvs(say: (line: string) => void): void {
  if (ovsRunning()) return;
  say('Open vSwitch is not answering; starting it with ovs-ctl');
  sh('/usr/share/openvswitch/scripts/ovs-ctl', ['start']);
  if (!ovsRunning()) throw new Error('Open vSwitch did not start (ovs-vsctl show fails)');
}

/** The host's links and OVS bridges at one time. */
export interface Snapshot {
  links: Set<string>;
  ovs: Set<string>;
}

/** The host's links and OVS bridges now. */
export function snapshot(): Snapshot {
  return { links: new Set(ipLinks().keys()), ovs: new Set(ovsRunning() ? ovsBridges() : []) };
}
