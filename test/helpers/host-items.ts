/**
 * What a host snapshot holds: a flat list of items, each a thing on the host (a libvirt domain, a
 * link, an OVS port, a listening socket, a process, a file) with the fields that say whether it is
 * still the same thing in the same state. Plain JSON, so canned snapshots are easy to write.
 */

/** The kinds of things a snapshot records, and the source that reads each. */
export const ITEM_SOURCES = {
  domain: 'libvirt',
  pool: 'libvirt',
  volume: 'libvirt',
  network: 'libvirt',
  link: 'links',
  netns: 'links',
  'ovs-bridge': 'ovs',
  'ovs-port': 'ovs',
  'ovs-interface': 'ovs',
  socket: 'sockets',
  process: 'processes',
  file: 'files',
} as const;

/** A kind of thing on the host. */
export type ItemKind = keyof typeof ITEM_SOURCES;
/** A reader of the host (one command or /proc walk), which may be unavailable (no libvirtd, no OVS). */
export type ItemSource = (typeof ITEM_SOURCES)[ItemKind];

/** One thing on the host. Two snapshots' items with the same kind and name are the same thing. */
export interface HostItem {
  kind: ItemKind;
  /** Unique within the kind: a domain name, `pool/volume`, `tcp 127.0.0.1:7443`, a pid, a path. */
  name: string;
  /** What must stay the same, as text (hashes for long documents such as domain XML). */
  fields: Record<string, string>;
  /** Processes it belongs to (a socket's owners, a process itself). */
  pids?: number[];
  /** Ports it holds (sockets). */
  ports?: number[];
  /**
   * Set when it belongs to another test or bench run than the one taking the snapshot (a process
   * started under another mocha or tsx, and that process's sockets): which run, for messages.
   */
  otherRun?: string;
}

/** What was on the host at one moment. */
export interface HostSnapshot {
  /** ISO time the snapshot was taken. */
  takenAt: string;
  items: HostItem[];
  /** Sources that could not be read, with why (their kinds are absent from `items`). */
  unavailable: Partial<Record<ItemSource, string>>;
}

/** The key of an item: `kind name`. */
export function itemKey(item: Pick<HostItem, 'kind' | 'name'>): string {
  return `${item.kind} ${item.name}`;
}
