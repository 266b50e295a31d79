/**
 * A snapshot of what exists on this host now, for tests and benchmarks that must prove they touch
 * only what they create: libvirt domains, pools, volumes and networks on qemu:///system; links and
 * network namespaces; Open vSwitch bridges, ports and interfaces (when OVS runs); listening TCP
 * and bound UDP sockets with their owners; tenks daemons, nats-servers and QEMUs; and optionally
 * every file under given directories. Compare two with `diffSnapshots` (host-snapshot-diff.ts).
 *
 * Read-only: it runs `virsh` list/dumpxml, `ip`, `ovs-vsctl list`, `ss` and reads /proc.
 */
import type { HostItem, HostSnapshot, ItemSource } from './host-items.js';
import { fileItems, type FileRoot } from './host-snapshot-files.js';
import { libvirtItems } from './host-snapshot-libvirt.js';
import { linkItems, netnsItems, ovsItems } from './host-snapshot-net.js';
import { processItems, processTable, socketItems, type ProcessTable } from './host-snapshot-procs.js';

export type { HostItem, HostSnapshot } from './host-items.js';
export type { FileRoot } from './host-snapshot-files.js';

/** Options of {@link takeSnapshot}. */
export interface SnapshotOptions {
  /** libvirt connection to record (default qemu:///system). */
  libvirtUri?: string;
  /** Directories whose files to record (default none). */
  files?: readonly FileRoot[];
}

/** Records what exists on the host now. A source that cannot be read is named in `unavailable`. */
export async function takeSnapshot(opts: SnapshotOptions = {}): Promise<HostSnapshot> {
  const takenAt = new Date().toISOString();
  // One read of /proc serves both the sockets' owners and the processes.
  let table: Promise<ProcessTable> | null = null;
  const procs = (): Promise<ProcessTable> => (table ??= processTable());
  const readers: [ItemSource, () => Promise<HostItem[]>][] = [
    ['libvirt', () => libvirtItems(opts.libvirtUri ?? 'qemu:///system')],
    ['links', async () => [...(await linkItems()), ...(await netnsItems())]],
    ['ovs', ovsItems],
    ['sockets', async () => socketItems(await procs())],
    ['processes', async () => processItems(await procs())],
    ['files', () => fileItems(opts.files ?? [])],
  ];
  const results = await Promise.all(
    readers.map(async ([source, read]) => {
      try {
        return { source, items: await read(), error: null };
      } catch (e) {
        return { source, items: [], error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
  const snapshot: HostSnapshot = { takenAt, items: [], unavailable: {} };
  for (const r of results) {
    if (r.error !== null) snapshot.unavailable[r.source] = r.error;
    else snapshot.items.push(...r.items);
  }
  return snapshot;
}
