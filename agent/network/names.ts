import { createHash } from 'node:crypto';

/** Linux's interface name limit (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;

/** Prefixes libvirt reserves for devices it names itself. */
const RESERVED = ['vnet', 'vif', 'macvtap', 'macvlan'];

const SAFE = /^[A-Za-z0-9_-]+$/;

/** Lower-case base-36 digest of `key`, `n` characters long. */
export function hash36(key: string, n: number): string {
  const h = createHash('sha256').update(key).digest();
  let out = '';
  for (let i = 0; out.length < n; i++) out += ((h[i] ?? 0) % 36).toString(36);
  return out;
}

/**
 * A deterministic interface name within 15 characters. The plain form `<p>-<parts...>` is used when
 * it fits and is safe; otherwise the hashed form `<P>-<3 chars of the first part><7-char hash>[suffix]`,
 * where `P` is a different prefix so a hashed name can never equal a plain one. The hash covers the
 * full key, so distinct keys get distinct names (7 base-36 characters, about 36 bits).
 */
export function ifName(plainPrefix: string, hashedPrefix: string, parts: readonly string[], suffix = ''): string {
  const plain = `${plainPrefix}-${parts.join('-')}${suffix === '' ? '' : `-${suffix}`}`;
  if (plain.length <= IFNAME_MAX && parts.every((p) => SAFE.test(p))) return plain;
  const first = (parts[0] ?? '').replace(/[^A-Za-z0-9]/g, '').slice(0, 3);
  const name = `${hashedPrefix}-${first}${hash36(parts.join('\u0000'), 7)}${suffix}`;
  return name.slice(0, IFNAME_MAX);
}

/** NIC index as one character (0-9, a-z): a node has at most 36 NICs. */
export function nicIndexChar(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= 36)
    throw new RangeError(`NIC index ${index} out of range 0-35`);
  return index.toString(36);
}

/**
 * The MAC of the tenks bridge `bridge` made by agent `owner`: locally administered unicast, from a
 * digest of both, so it is the same whenever the bridge is made again. A bridge without a MAC of its
 * own takes the lowest of its ports' (Linux and Open vSwitch alike), so its MAC, which Ironic keeps
 * as the ports' `switch_id`, would change as nodes come and go.
 */
export function bridgeMac(owner: string, bridge: string): string {
  const h = createHash('sha256').update(`tenks-bridge\u0000${owner}\u0000${bridge}`).digest();
  const bytes = [((h[0] ?? 0) & 0xfc) | 0x02, ...h.subarray(1, 6)];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Names of everything tenks creates, by role. */
export const names = {
  /** The tenks bridge of a physnet. */
  bridge: (physnet: string): string => ifName('tb', 'tc', [physnet]),
  /** Switch-side port of a node NIC (veth end in the tenks bridge; Ironic's port_id). */
  switchPort: (node: string, nic: number): string => ifName('tp', 'tq', [node], nicIndexChar(nic)),
  /** VM-side end of a node NIC's veth pair (the macvtap's lower device). */
  vmPort: (node: string, nic: number): string => ifName('tv', 'tw', [node], nicIndexChar(nic)),
  /** Source-side end of a physnet's uplink (veth end or patch port in the source bridge). */
  uplinkSource: (physnet: string): string => ifName('ts', 'tt', [physnet]),
  /** Tenks-side end of a physnet's uplink (veth end or patch port in the tenks bridge). */
  uplinkTenks: (physnet: string): string => ifName('tu', 'tx', [physnet]),
  /** VLAN link of a physnet's uplink (8021q, used where Open vSwitch is not available). */
  uplinkVlan: (physnet: string): string => ifName('tl', 'tm', [physnet]),
  /** OVS trunk bridge that carries the VLANs of a shared source device. */
  trunk: (device: string): string => ifName('tk', 'tj', [device]),
  /** Source-side end of the veth pair between a source Linux bridge and its trunk. */
  trunkSource: (device: string): string => ifName('te', 'tf', [device]),
  /** Trunk-side end of the veth pair between a source Linux bridge and its trunk. */
  trunkPort: (device: string): string => ifName('tg', 'th', [device]),
} as const;

/** Why `name` is not usable as an interface name, or null. */
export function ifNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > IFNAME_MAX) return `'${name}' is not 1-${IFNAME_MAX} characters`;
  if (name === '.' || name === '..' || /[\s/:]/.test(name))
    return `'${name}' has characters Linux refuses in interface names`;
  if (RESERVED.some((p) => name.startsWith(p)))
    return `'${name}' uses a prefix libvirt reserves (${RESERVED.join(', ')})`;
  return null;
}
