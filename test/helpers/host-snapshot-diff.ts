/**
 * The difference between two host snapshots, as readable lines: what disappeared, what changed
 * (field by field), what appeared. Pure: no host access, so the rules are unit-tested on canned
 * snapshots.
 */
import { ITEM_SOURCES, itemKey, type HostItem, type HostSnapshot, type ItemKind } from './host-items.js';

/**
 * Selects items. `kinds` narrows; within it an item matches when any of the other criteria does
 * (with `kinds` alone, every item of those kinds matches).
 */
export interface ItemMatcher {
  kinds?: readonly ItemKind[];
  /** Exact names. */
  names?: readonly string[];
  /** Name prefixes, tried on the whole name and on each `/`-separated part (`pool/volume`, paths). */
  prefixes?: readonly string[];
  /** Items belonging to one of these processes. */
  pids?: readonly number[];
  /** Items holding one of these ports. */
  ports?: readonly number[];
  /** Tested against the item's key and fields (`domain tk0 uuid=... state=running`). */
  pattern?: RegExp;
  /** Items of another test or bench run (see `HostItem.otherRun`). */
  otherRun?: boolean;
}

/** What one snapshot-to-snapshot change is. */
export type ChangeKind = 'removed' | 'changed' | 'appeared';

/** Changes that are expected on a host and not reported, each with why. */
export interface IgnoreRule extends ItemMatcher {
  /** Why this is not a problem (shown by whoever lists the rules). */
  reason: string;
  /** Which changes of matching items are expected (default: every kind). */
  changes?: readonly ChangeKind[];
  /** Only these fields of matching items may change (default: the whole item is ignored). */
  fields?: readonly string[];
}

/** Options of {@link diffSnapshots}. */
export interface DiffOptions {
  ignore?: readonly IgnoreRule[];
  /**
   * What the caller created. Appeared items matching it are its leftovers; others appeared through
   * someone else. Default: everything that appeared is the caller's.
   */
  mine?: ItemMatcher;
}

/** One difference. */
export interface DiffLine {
  change: ChangeKind;
  key: string;
  /** Readable: `changed: link br0: master '' → ovs-system`. */
  text: string;
  /** For `appeared`: whether the caller's matcher claims it. Always false otherwise. */
  mine: boolean;
}

/** Everything that differs, grouped. */
export interface HostDiff {
  removed: DiffLine[];
  changed: DiffLine[];
  appeared: DiffLine[];
}

const MAX_VALUE = 160;

function show(value: string): string {
  const v = value === '' ? "''" : value;
  return v.length > MAX_VALUE ? `${v.slice(0, MAX_VALUE)}…` : v;
}

function describe(item: HostItem): string {
  const fields = Object.entries(item.fields)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${show(v)}`);
  return fields.length === 0 ? itemKey(item) : `${itemKey(item)} (${fields.join(', ')})`;
}

function searchable(item: HostItem): string {
  return [itemKey(item), ...Object.entries(item.fields).map(([k, v]) => `${k}=${v}`)].join(' ');
}

/** Whether `matcher` selects `item`. */
export function matches(matcher: ItemMatcher, item: HostItem): boolean {
  if (matcher.kinds !== undefined && !matcher.kinds.includes(item.kind)) return false;
  const criteria = [matcher.names, matcher.prefixes, matcher.pids, matcher.ports, matcher.pattern, matcher.otherRun];
  if (criteria.every((c) => c === undefined)) return matcher.kinds !== undefined;
  if (matcher.otherRun === true && item.otherRun !== undefined) return true;
  if (matcher.names?.includes(item.name)) return true;
  const parts = [item.name, ...item.name.split('/')];
  if (matcher.prefixes?.some((p) => p !== '' && parts.some((n) => n.startsWith(p)))) return true;
  if (matcher.pids !== undefined && (item.pids ?? []).some((p) => matcher.pids?.includes(p))) return true;
  if (matcher.ports !== undefined && (item.ports ?? []).some((p) => matcher.ports?.includes(p))) return true;
  return matcher.pattern?.test(searchable(item)) ?? false;
}

function rulesFor(rules: readonly IgnoreRule[], change: ChangeKind, item: HostItem): IgnoreRule[] {
  return rules.filter((r) => (r.changes ?? [change]).includes(change) && matches(r, item));
}

/** Items of sources readable in both snapshots, by key. */
function comparable(s: HostSnapshot, other: HostSnapshot): Map<string, HostItem> {
  const out = new Map<string, HostItem>();
  for (const item of s.items) {
    const source = ITEM_SOURCES[item.kind];
    if (s.unavailable[source] === undefined && other.unavailable[source] === undefined) out.set(itemKey(item), item);
  }
  return out;
}

/**
 * What differs from `before` to `after`. A source readable before and unreadable after is itself
 * a change (whatever was behind it can no longer be vouched for); one unreadable before is skipped.
 */
export function diffSnapshots(before: HostSnapshot, after: HostSnapshot, opts: DiffOptions = {}): HostDiff {
  const rules = opts.ignore ?? [];
  const b = comparable(before, after);
  const a = comparable(after, before);
  const diff: HostDiff = { removed: [], changed: [], appeared: [] };
  for (const [source, why] of Object.entries(after.unavailable)) {
    if (before.unavailable[source as keyof HostSnapshot['unavailable']] !== undefined) continue;
    diff.changed.push({
      change: 'changed',
      key: `source ${source}`,
      text: `changed: ${source} was readable before, now: ${why}`,
      mine: false,
    });
  }
  for (const [key, old] of b) {
    const now = a.get(key);
    if (now === undefined) {
      if (rulesFor(rules, 'removed', old).length === 0)
        diff.removed.push({ change: 'removed', key, text: `removed: ${describe(old)}`, mine: false });
      continue;
    }
    const applying = rulesFor(rules, 'changed', old);
    if (applying.some((r) => r.fields === undefined)) continue;
    const allowed = new Set(applying.flatMap((r) => r.fields ?? []));
    const names = [...new Set([...Object.keys(old.fields), ...Object.keys(now.fields)])];
    const changes = names
      .filter((f) => !allowed.has(f) && (old.fields[f] ?? '') !== (now.fields[f] ?? ''))
      .map((f) => `${f} ${show(old.fields[f] ?? '')} → ${show(now.fields[f] ?? '')}`);
    if (changes.length > 0)
      diff.changed.push({ change: 'changed', key, text: `changed: ${key}: ${changes.join('; ')}`, mine: false });
  }
  for (const [key, now] of a) {
    if (b.has(key) || rulesFor(rules, 'appeared', now).length > 0) continue;
    const mine = opts.mine === undefined || matches(opts.mine, now);
    diff.appeared.push({
      change: 'appeared',
      key,
      text: `${mine ? 'appeared' : 'appeared (not the caller’s)'}: ${describe(now)}`,
      mine,
    });
  }
  return diff;
}

/**
 * What a caller fails on: anything that existed before and was removed or changed, and whatever
 * of its own is still there.
 */
export function diffProblems(diff: HostDiff): DiffLine[] {
  return [...diff.removed, ...diff.changed, ...diff.appeared.filter((l) => l.mine)];
}

/**
 * Keeps only the lines of `diff` that `again` (the same comparison a moment later) still has: the
 * same thing, the same kind of change. What came and went in between (a client's socket, a
 * short-lived process) is dropped; what stays different stays.
 */
export function persistent(diff: HostDiff, again: HostDiff): HostDiff {
  const seen = new Set([...again.removed, ...again.changed, ...again.appeared].map((l) => `${l.change} ${l.key}`));
  const keep = (lines: DiffLine[]): DiffLine[] => lines.filter((l) => seen.has(`${l.change} ${l.key}`));
  return { removed: keep(diff.removed), changed: keep(diff.changed), appeared: keep(diff.appeared) };
}
