/**
 * How tenks marks what it creates on the host. Linux links carry an alias `tenks:k=v,k=v`; OVS
 * bridges and ports carry `external_ids:tenks-k=v`. Values never contain `,` `=` or spaces (they are
 * names validated elsewhere; lists are joined with `+`).
 */
export type Marks = Record<string, string>;

const ALIAS_PREFIX = 'tenks:';

/** The alias text for marks. */
export function aliasOf(marks: Marks): string {
  return (
    ALIAS_PREFIX +
    Object.entries(marks)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')
  );
}

/** Marks from an alias, or null when the alias is not tenks'. */
export function marksFromAlias(alias: string | null | undefined): Marks | null {
  if (!alias?.startsWith(ALIAS_PREFIX)) return null;
  const out: Marks = {};
  for (const pair of alias.slice(ALIAS_PREFIX.length).split(',')) {
    const i = pair.indexOf('=');
    if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/** OVS external_ids keys for marks. */
export function externalIdsOf(marks: Marks): string[] {
  return Object.entries(marks).map(([k, v]) => `external_ids:tenks-${k}=${v}`);
}

/** Marks from OVS external_ids, or null when none are tenks'. */
export function marksFromExternalIds(ids: Record<string, string>): Marks | null {
  const out: Marks = {};
  let any = false;
  for (const [k, v] of Object.entries(ids)) {
    if (!k.startsWith('tenks-')) continue;
    out[k.slice('tenks-'.length)] = v;
    any = true;
  }
  return any ? out : null;
}

/** Cluster list of a bridge's marks. */
export function clustersOf(marks: Marks): string[] {
  return (marks.clusters ?? '').split('+').filter((c) => c !== '');
}

/** The `role` mark of each kind of object tenks makes on the host. */
export const ROLE = {
  bridge: 'bridge',
  uplink: 'uplink',
  trunk: 'trunk',
  trunkUplink: 'trunk-uplink',
  switchPort: 'switch-port',
  vmPort: 'vm-port',
} as const;

/** Marks equal regardless of key order (OVSDB returns maps sorted by key). */
export function sameMarks(a: Marks | null, b: Marks): boolean {
  if (!a) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/**
 * Whether marks are of an object of agent `owner`: marked with its id or, when it `ownsUnmarked`,
 * made before agents marked their objects (no agent mark).
 */
export function ownedBy(owner: string, ownsUnmarked: boolean): (m: Marks | null) => m is Marks {
  return (m): m is Marks => m !== null && (m.agent === undefined ? ownsUnmarked : m.agent === owner);
}
