/**
 * The network part of a host snapshot: links of the root namespace (`ip -d -j addr`), the network
 * namespaces, and Open vSwitch bridges, ports and interfaces with their external_ids/other_config.
 * Counters, timers and flags that move by themselves (statistics, promiscuity, OVS status) are not
 * recorded.
 */
import { hostOutput, lines } from './host-exec.js';
import type { HostItem } from './host-items.js';

interface IpAddr {
  family?: string;
  local?: string;
  prefixlen?: number;
}

interface IpLink {
  ifindex?: number;
  ifname?: string;
  link_type?: string;
  master?: string;
  operstate?: string;
  address?: string;
  mtu?: number;
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
  addr_info?: IpAddr[];
}

/** Every link of the root namespace with its kind, master, state, MAC, MTU, alias and addresses. */
export async function linkItems(): Promise<HostItem[]> {
  const links = JSON.parse((await hostOutput('ip', ['-d', '-j', 'addr'])) || '[]') as IpLink[];
  return links.map((l) => ({
    kind: 'link',
    name: l.ifname ?? `#${l.ifindex ?? '?'}`,
    fields: {
      ifindex: String(l.ifindex ?? ''),
      kind: l.linkinfo?.info_kind ?? l.link_type ?? '',
      master: l.master ?? '',
      operstate: l.operstate ?? '',
      mac: l.address ?? '',
      mtu: String(l.mtu ?? ''),
      alias: l.ifalias ?? '',
      addresses: (l.addr_info ?? [])
        .map((a) => `${a.local ?? ''}/${a.prefixlen ?? ''}`)
        .sort()
        .join(' '),
    },
  }));
}

/** The named network namespaces (`ip netns list`). */
export async function netnsItems(): Promise<HostItem[]> {
  // "NAME" or "NAME (id: N)"; the id is assigned lazily, so it is not kept.
  return lines(await hostOutput('ip', ['netns', 'list'])).map((l) => ({
    kind: 'netns',
    name: l.split(/\s+/)[0] ?? l,
    fields: {},
  }));
}

/** An OVSDB JSON value (`["map", ...]`, `["set", ...]`, `["uuid", ...]`, scalar) as stable text. */
function ovsText(v: unknown, names: ReadonlyMap<string, string>): string {
  if (!Array.isArray(v)) return String(v);
  const [tag, body] = v as [string, unknown];
  if (tag === 'uuid') return names.get(String(body)) ?? String(body);
  if (tag === 'set')
    return (body as unknown[])
      .map((x) => ovsText(x, names))
      .sort()
      .join(',');
  if (tag === 'map')
    return (body as [unknown, unknown][])
      .map(([k, x]) => `${ovsText(k, names)}=${ovsText(x, names)}`)
      .sort()
      .join(',');
  return JSON.stringify(v);
}

async function ovsTable(table: string, columns: readonly string[]): Promise<Record<string, unknown>[]> {
  const out = await hostOutput('ovs-vsctl', [
    '--timeout=10',
    '--format=json',
    `--columns=${columns.join(',')}`,
    'list',
    table,
  ]);
  const j = JSON.parse(out) as { headings: string[]; data: unknown[][] };
  return j.data.map((row) => Object.fromEntries(j.headings.map((h, i) => [h, row[i]])));
}

const OVS_COLUMNS = {
  Bridge: ['_uuid', 'name', 'datapath_type', 'fail_mode', 'ports', 'external_ids', 'other_config'],
  Port: ['_uuid', 'name', 'tag', 'trunks', 'vlan_mode', 'interfaces', 'external_ids', 'other_config'],
  Interface: ['_uuid', 'name', 'type', 'options', 'external_ids', 'other_config'],
} as const;

const OVS_KINDS = { Bridge: 'ovs-bridge', Port: 'ovs-port', Interface: 'ovs-interface' } as const;

/** OVS bridges, ports and interfaces (references shown by name); throws when OVS does not answer. */
export async function ovsItems(): Promise<HostItem[]> {
  const tables = {
    Interface: await ovsTable('Interface', OVS_COLUMNS.Interface),
    Port: await ovsTable('Port', OVS_COLUMNS.Port),
    Bridge: await ovsTable('Bridge', OVS_COLUMNS.Bridge),
  };
  const names = new Map<string, string>();
  for (const rows of Object.values(tables))
    for (const r of rows) names.set(ovsText(r._uuid, new Map()), ovsText(r.name, new Map()));
  const items: HostItem[] = [];
  for (const [table, rows] of Object.entries(tables) as [keyof typeof tables, Record<string, unknown>[]][])
    for (const r of rows) {
      const fields: Record<string, string> = {};
      for (const c of OVS_COLUMNS[table]) {
        if (c === 'name') continue;
        // The row's own uuid stays raw: a row deleted and re-created under the same name is a change.
        fields[c === '_uuid' ? 'uuid' : c] = c === '_uuid' ? ovsText(r[c], new Map()) : ovsText(r[c], names);
      }
      items.push({ kind: OVS_KINDS[table], name: ovsText(r.name, new Map()), fields });
    }
  return items;
}
