/**
 * Where a tenks cluster name is already in use on this host. The tenks mark on a domain, a link or
 * an OVS row names its cluster, not the agent or lab that made it, so a test that applies or
 * deletes a cluster under a common name (an upstream file's default "tenks") would take over a
 * user's cluster of that name: such a test checks here first.
 */
import { METADATA_KEY } from '../../agent/compute/domain-xml.js';
import { marksFromAlias, marksFromExternalIds, type Marks } from '../../agent/network/marks.js';
import { domainNames, run, virsh } from './helpers.js';

function ofCluster(m: Marks | null, cluster: string): boolean {
  return m !== null && (m.cluster === cluster || (m.clusters ?? '').split('+').includes(cluster));
}

/** OVSDB `["map", [[k, v], ...]]` as an object. */
function ovsMap(v: unknown): Record<string, string> {
  const pairs = Array.isArray(v) && v[0] === 'map' ? (v[1] as [string, string][]) : [];
  return Object.fromEntries(pairs);
}

/**
 * Objects of the root namespace marked as `cluster`'s: domains on qemu:///system, links, OVS
 * bridges and ports (OVS is host-wide, even for an agent in a network namespace).
 */
export async function clusterMarksOnHost(cluster: string): Promise<string[]> {
  const found: string[] = [];
  // libvirt writes the attributes back with double quotes; the agent writes single ones.
  const head = new RegExp(`<${METADATA_KEY}:node\\b[^>]*\\scluster=(?:'([^']*)'|"([^"]*)")`);
  for (const name of await domainNames()) {
    const m = head.exec(await virsh('dumpxml', name).catch(() => ''));
    if ((m?.[1] ?? m?.[2]) === cluster) found.push(`domain ${name}`);
  }
  const links = JSON.parse((await run('ip', ['-j', 'link'])) || '[]') as { ifname: string; ifalias?: string }[];
  for (const l of links) if (ofCluster(marksFromAlias(l.ifalias), cluster)) found.push(`link ${l.ifname}`);
  for (const table of ['Bridge', 'Port']) {
    const out = await run('ovs-vsctl', [
      '--timeout=10',
      '--format=json',
      '--columns=name,external_ids',
      'list',
      table,
    ]).catch(() => null);
    if (out === null) continue;
    for (const [name, ids] of (JSON.parse(out) as { data: [string, unknown][] }).data)
      if (ofCluster(marksFromExternalIds(ovsMap(ids)), cluster)) found.push(`OVS ${table.toLowerCase()} ${name}`);
  }
  return found;
}
