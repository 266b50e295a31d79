/**
 * libvirt's part of a host snapshot: domains, storage pools and their volumes, networks. Identity
 * and configuration are compared (UUIDs, a hash of the persistent XML); what moves by itself (pool
 * free space, volume allocation, live XML) is not recorded.
 */
import { hostOutput, lines, mapLimit, shortHash } from './host-exec.js';
import type { HostItem } from './host-items.js';

/** `virsh -q` table rows, split on runs of spaces (libvirt names have none in practice). */
function rows(text: string): string[][] {
  return lines(text).map((l) => l.split(/\s+/));
}

/** A definition's hash without the figures libvirt refreshes on its own (pool sizes). */
function definitionHash(xml: string): string {
  return shortHash(xml.replace(/<(capacity|allocation|available)\b[^>]*>[^<]*<\/\1>/g, ''));
}

function uuidOf(xml: string): string {
  return /<uuid>([^<]+)<\/uuid>/.exec(xml)?.[1] ?? '';
}

/** Domains, pools, volumes and networks on `uri`; throws when libvirt cannot be reached. */
export async function libvirtItems(uri: string): Promise<HostItem[]> {
  const virsh = (...args: string[]): Promise<string> => hostOutput('virsh', ['-q', '-c', uri, ...args]);
  const items: HostItem[] = [];

  // Id, Name, State ("shut off" is two words).
  const domains = rows(await virsh('list', '--all')).map((r) => ({
    id: r[0] ?? '-',
    name: r[1] ?? '',
    state: r.slice(2).join(' '),
  }));
  const domainItems = await mapLimit(domains, 4, async (d): Promise<HostItem | null> => {
    // A domain undefined between the list and this read was transient: not recorded.
    const xml = await virsh('dumpxml', '--inactive', d.name).catch(() => null);
    if (xml === null) return null;
    return {
      kind: 'domain',
      name: d.name,
      // The id changes only when the domain is started again: a restart is a change.
      fields: { uuid: uuidOf(xml), state: d.state, id: d.id === '-' ? '' : d.id, definition: shortHash(xml) },
    };
  });
  for (const d of domainItems) if (d) items.push(d);

  // Name, State, Autostart, Persistent, then sizes (not kept).
  for (const r of rows(await virsh('pool-list', '--all', '--details'))) {
    const name = r[0] ?? '';
    const xml = await virsh('pool-dumpxml', '--inactive', name).catch(() => null);
    if (xml === null) continue;
    items.push({
      kind: 'pool',
      name,
      fields: {
        uuid: uuidOf(xml),
        state: r[1] ?? '',
        autostart: r[2] ?? '',
        persistent: r[3] ?? '',
        definition: definitionHash(xml),
      },
    });
    if (r[1] !== 'running') continue;
    // Name, Path, Type, Capacity ("1.00 GiB"), Allocation (moves as guests write: not kept).
    const vols = await virsh('vol-list', '--pool', name, '--details').catch(() => '');
    for (const v of rows(vols))
      items.push({
        kind: 'volume',
        name: `${name}/${v[0] ?? ''}`,
        fields: { path: v[1] ?? '', type: v[2] ?? '', capacity: `${v[3] ?? ''} ${v[4] ?? ''}` },
      });
  }

  // Name, State, Autostart, Persistent.
  for (const r of rows(await virsh('net-list', '--all'))) {
    const name = r[0] ?? '';
    const xml = await virsh('net-dumpxml', '--inactive', name).catch(() => null);
    if (xml === null) continue;
    items.push({
      kind: 'network',
      name,
      fields: {
        uuid: uuidOf(xml),
        state: r[1] ?? '',
        autostart: r[2] ?? '',
        persistent: r[3] ?? '',
        definition: shortHash(xml),
      },
    });
  }
  return items;
}
