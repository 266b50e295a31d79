import { TenksError } from '../../common/index.js';
import type { HostView } from './host-view.js';
import { ipLine, type HostLinks } from './ip-links.js';
import { externalIdsOf, type Marks } from './marks.js';
import type { OvsSwitch } from './ovs.js';
import type { BridgeType } from './types.js';

/** One batch of host changes: `ip -batch` lines, then one OVSDB transaction. */
export interface HostOps {
  /** OVS commands to run before the links change (e.g. removing ports whose links go). */
  ovsFirst?: string[][];
  ip: string[];
  /** Links to delete, in one `ip link del group` (deleting links one by one costs ~20 ms each). */
  ipDelete?: string[];
  ovs: string[][];
}

/** Options of applying host changes. */
export interface ApplyOptions {
  signal?: AbortSignal | undefined;
  /** Return once OVSDB has the change, without waiting for ovs-vswitchd to apply it. */
  noWait?: boolean;
}

/** True when `ops` changes nothing. */
export function noOps(ops: HostOps): boolean {
  return ops.ip.length === 0 && ops.ovs.length === 0 && !ops.ovsFirst?.length && !ops.ipDelete?.length;
}

/** `ip -batch` lines deleting `links` at once: put them in a fresh group, delete the group. */
export function groupDeleteLines(links: readonly string[]): string[] {
  if (links.length === 0) return [];
  // Group 0 is every link's default: never use it. A random group avoids meeting anyone's.
  const group = 1_000_000 + Math.floor(Math.random() * 2_000_000_000);
  return [...links.map((l) => `link set dev ${l} group ${group}`), `link del group ${group}`];
}

/** Applies `ops`: the first OVS transaction, the `ip` batch (deletions last), the second OVS transaction. */
export async function applyHostOps(
  ops: HostOps,
  links: HostLinks,
  ovs: OvsSwitch | null,
  o: ApplyOptions,
): Promise<void> {
  const transact = (commands: string[][]): Promise<unknown> => {
    if (commands.length === 0) return Promise.resolve();
    if (!ovs) throw new TenksError('UNSUPPORTED', 'Open vSwitch is not available on this host');
    return ovs.transact(commands, o.signal, { noWait: o.noWait ?? false });
  };
  await transact(ops.ovsFirst ?? []);
  await links.batch([...ops.ip, ...groupDeleteLines(ops.ipDelete ?? [])], o.signal);
  await transact(ops.ovs);
}

/** Adds to `ops` what plugs `port` into tenks bridge `bridge` of the given type, unless it already is. */
export function plugInto(
  ops: HostOps,
  v: HostView,
  bridgeType: BridgeType,
  bridge: string,
  port: string,
  marks: Marks,
): void {
  if (bridgeType === 'linuxbridge') {
    if (v.links.get(port)?.master !== bridge) ops.ip.push(ipLine.master(port, bridge));
    return;
  }
  const at = v.ovsPorts.get(port);
  if (at?.bridge === bridge) return;
  if (at) ops.ovs.push(['del-port', at.bridge, port]);
  ops.ovs.push(['--may-exist', 'add-port', bridge, port], ['set', 'port', port, ...externalIdsOf(marks)]);
}
