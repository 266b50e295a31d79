/**
 * Malformed cluster specs for bench/fuzz-spec.ts: mutations of the example specs and of the real
 * Tenks configurations in the shared compat directory. Object-level mutations (a value of the wrong
 * type, unknown, misspelt and missing keys, huge numbers, NaN and infinity strings, deep nesting,
 * lists for mappings) are made on the parsed document and written back as YAML; text-level ones
 * (alias bombs, duplicate keys, invalid UTF-8, undefined aliases, tags, tabs, cuts, stray YAML
 * syntax, several documents) on the bytes. Pure: no processes, no files written.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Rng } from './fuzz-rng.js';
import { sharedPath } from './shared-dir.js';

/** Where the specs come from (read-only): the examples, and the shared compat files where they are. */
export const SPEC_SOURCES: readonly string[] = ['examples', ...[sharedPath('compat')].filter((d) => d !== null)];

/** A base spec: its file name and parsed content. */
export interface BaseSpec {
  name: string;
  doc: Record<string, unknown>;
}

/** One mutant. */
export interface Mutant {
  /** Short file name for it (`<index>-<base>-<mutations>.yaml`). */
  file: string;
  base: string;
  mutations: string[];
  bytes: Buffer;
}

/** Reads the cluster specs under `dirs` (relative to `repo`): every `.yml`/`.yaml` holding a mapping with node_types or specs. */
export function loadBaseSpecs(repo: string, dirs: readonly string[] = SPEC_SOURCES): BaseSpec[] {
  const out: BaseSpec[] = [];
  for (const d of dirs) {
    const dir = d.startsWith('/') ? d : join(repo, d);
    for (const f of readdirSync(dir).sort()) {
      if (!/\.ya?ml$/.test(f)) continue;
      const doc: unknown = parse(readFileSync(join(dir, f), 'utf8'));
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) continue;
      if (!('node_types' in doc) && !('specs' in doc)) continue;
      out.push({ name: basename(f).replace(/\.ya?ml$/, ''), doc });
    }
  }
  if (out.length === 0) throw new Error(`no cluster specs in ${dirs.join(', ')}`);
  return out;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Every path to a value in `doc` (the root excluded). */
function paths(doc: Json, prefix: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(doc))
    doc.forEach((v, i) => {
      out.push([...prefix, i]);
      paths(v, [...prefix, i], out);
    });
  else if (doc !== null && typeof doc === 'object')
    for (const [k, v] of Object.entries(doc)) {
      out.push([...prefix, k]);
      paths(v, [...prefix, k], out);
    }
  return out;
}

function parentOf(doc: Json, path: Path): { parent: Json; key: string | number } | null {
  let cur: Json = doc;
  for (const p of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string | number, Json>)[p] ?? null;
  }
  const key = path[path.length - 1];
  return key === undefined || cur === null || typeof cur !== 'object' ? null : { parent: cur, key };
}

function setAt(doc: Json, path: Path, value: Json): void {
  const at = parentOf(doc, path);
  if (at) (at.parent as Record<string | number, Json>)[at.key] = value;
}

/** Values of every type, and the edge values of numbers and strings. */
const ODD_VALUES: Json[] = [
  'str',
  '',
  ' ',
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  2 ** 53 + 1,
  true,
  false,
  null,
  [],
  {},
  [1, 2],
  { a: 1 },
  'NaN',
  '.nan',
  'Infinity',
  '-.inf',
  '-0',
  '0x10',
  '1e3',
  '10GiB',
  '-5GiB',
  '1.5.5GiB',
  'ｆｕｌｌ',
  '🙂',
  'x'.repeat(300),
  'undefined',
  '[object Object]',
  '{node}',
  '../../etc/passwd',
  'a:b:c',
  'CUSTOM_x y',
];

const ODD_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  '',
  ' ',
  'a.b',
  '[0]',
  'node types',
  'x'.repeat(200),
  '🙂',
  '0',
  'null',
  'true',
];

/** A misspelling of `key`: a swap, a drop or a doubled letter, or a change of case. */
function typo(rng: Rng, key: string): string {
  if (key.length < 2) return `${key}x`;
  const i = rng.int(key.length - 1);
  switch (rng.int(4)) {
    case 0:
      return key.slice(0, i) + (key[i + 1] ?? '') + (key[i] ?? '') + key.slice(i + 2);
    case 1:
      return key.slice(0, i) + key.slice(i + 1);
    case 2:
      return key.slice(0, i) + (key[i] ?? '') + key.slice(i);
    default:
      return key.toUpperCase();
  }
}

/** A nested list or mapping `depth` levels deep, as flow YAML text. */
function nested(rng: Rng, depth: number): string {
  return rng.chance(0.5) ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** One object-level mutation of `doc` in place; returns its name. */
function mutateObject(rng: Rng, doc: Json, holes: Map<string, string>): string {
  const all = paths(doc);
  const pick = (): Path => (all.length > 0 ? rng.pick(all) : ['name']);
  const kind = rng.weighted<string>([
    [6, 'wrong-type'],
    [3, 'unknown-key'],
    [3, 'typo-key'],
    [4, 'missing-key'],
    [2, 'huge-number'],
    [2, 'nan'],
    [2, 'deep'],
    [2, 'list-map'],
    [2, 'count'],
    [1, 'empty-section'],
  ]);
  switch (kind) {
    case 'wrong-type':
      setAt(doc, pick(), rng.pick(ODD_VALUES));
      break;
    case 'unknown-key':
    case 'typo-key': {
      const maps = all.filter((p) => {
        const at = parentOf(doc, [...p, '_']);
        return at !== null && !Array.isArray(at.parent);
      });
      const target = maps.length > 0 && rng.chance(0.8) ? rng.pick(maps) : [];
      let obj: Json = doc;
      for (const p of target) obj = (obj as Record<string | number, Json>)[p] ?? null;
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) break;
      const keys = Object.keys(obj);
      const key =
        kind === 'typo-key' && keys.length > 0
          ? typo(rng, rng.pick(keys))
          : rng.chance(0.5)
            ? rng.pick(ODD_KEYS)
            : `k${rng.u32().toString(36)}`;
      // An own property even for __proto__ (assignment would set the prototype).
      Object.defineProperty(obj, key, {
        value: rng.pick(ODD_VALUES),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      break;
    }
    case 'missing-key': {
      const p = pick();
      const at = parentOf(doc, p);
      if (!at) break;
      if (Array.isArray(at.parent)) at.parent.splice(Number(at.key), 1);
      else Reflect.deleteProperty(at.parent as Record<string, Json>, at.key);
      break;
    }
    case 'huge-number': {
      // Some as text: YAML numbers beyond what JSON or a double holds.
      const hole = `@@hole${holes.size}@@`;
      holes.set(
        hole,
        rng.pick([
          '1' + '0'.repeat(400),
          '1e400',
          '-1e400',
          '9007199254740993',
          '0.0000000000000000000001',
          '1_000',
          '0o777',
          '0b101',
          '+12',
          '1e-400',
        ]),
      );
      setAt(doc, pick(), hole);
      break;
    }
    case 'nan':
      setAt(doc, pick(), rng.pick(['NaN', 'nan', '.nan', '.NaN', '.inf', '-.Inf', 'Infinity']));
      break;
    case 'deep': {
      const hole = `@@hole${holes.size}@@`;
      holes.set(hole, nested(rng, rng.pick([10, 100, 1000, 5000])));
      setAt(doc, pick(), hole);
      break;
    }
    case 'list-map': {
      const p = pick();
      const at = parentOf(doc, p);
      if (!at) break;
      const v = (at.parent as Record<string | number, Json>)[at.key] ?? null;
      setAt(doc, p, Array.isArray(v) ? Object.fromEntries(v.map((x, i) => [String(i), x])) : [v]);
      break;
    }
    case 'count': {
      const specs = (doc as Record<string, Json>).specs;
      if (Array.isArray(specs) && specs.length > 0) {
        const s = rng.pick(specs);
        if (s !== null && typeof s === 'object' && !Array.isArray(s))
          s.count = rng.pick<Json>([100_001, 1e9, -1, 1.5, '2', 2 ** 31, 0]);
      }
      break;
    }
    default: {
      const top = rng.pick(['node_types', 'specs', 'nova_flavors', 'hypervisors', 'physnet_mappings', 'scheduler']);
      (doc as Record<string, Json>)[top] = rng.pick<Json>([null, '', [], {}, 0, [null], [[]]]);
    }
  }
  return kind;
}

/** Lines of `text` that hold a `key: value` (for duplicate keys and tabs). */
function keyLines(lines: readonly string[]): number[] {
  return lines.flatMap((l, i) => (/^\s*[A-Za-z_][\w-]*:/.test(l) && !/^\s*-/.test(l) ? [i] : []));
}

/** One text-level mutation; returns its name and the new bytes. */
function mutateText(rng: Rng, bytes: Buffer): { kind: string; bytes: Buffer } {
  const text = bytes.toString('utf8');
  const lines = text.split('\n');
  const kind = rng.weighted<string>([
    [3, 'alias-bomb'],
    [4, 'duplicate-key'],
    [4, 'invalid-utf8'],
    [2, 'unknown-alias'],
    [2, 'tag'],
    [2, 'tab'],
    [3, 'truncate'],
    [3, 'stray-syntax'],
    [1, 'documents'],
    [1, 'control-char'],
    [1, 'huge-string'],
    [1, 'merge-key'],
  ]);
  const at = (): number => rng.int(lines.length);
  switch (kind) {
    case 'alias-bomb': {
      // A billion laughs, bounded: nine levels of nine aliases (the parser must refuse to expand it).
      const levels = rng.range(4, 9);
      const bomb = ['lol0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      for (let i = 1; i < levels; i++)
        bomb.push(`lol${i}: &l${i} [${Array.from({ length: 9 }, () => `*l${i - 1}`).join(',')}]`);
      const target = rng.pick(['node_types', 'specs', 'ironic_bomb', 'physnet_mappings']);
      return { kind, bytes: Buffer.from(`${bomb.join('\n')}\n${text}\n${target}: *l${levels - 1}\n`) };
    }
    case 'duplicate-key': {
      const ks = keyLines(lines);
      if (ks.length === 0) return { kind, bytes: Buffer.from(`name: a\nname: b\n${text}`) };
      const i = rng.pick(ks);
      const line = lines[i] ?? '';
      const dup = line.includes(': ') ? line : `${line} {}`;
      return { kind, bytes: Buffer.from([...lines.slice(0, i + 1), dup, ...lines.slice(i + 1)].join('\n')) };
    }
    case 'invalid-utf8': {
      const bad = rng.pick([
        [0xff],
        [0xfe, 0xff],
        [0xc0, 0xaf],
        [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80],
        [0xe2, 0x82],
        [0x80],
      ]);
      const pos = rng.int(bytes.length + 1);
      return { kind, bytes: Buffer.concat([bytes.subarray(0, pos), Buffer.from(bad), bytes.subarray(pos)]) };
    }
    case 'unknown-alias': {
      const i = rng.pick(keyLines(lines).length > 0 ? keyLines(lines) : [0]);
      lines[i] = (lines[i] ?? '').replace(/:.*$/, ': *nowhere');
      return { kind, bytes: Buffer.from(lines.join('\n')) };
    }
    case 'tag': {
      const i = rng.pick(keyLines(lines).length > 0 ? keyLines(lines) : [0]);
      const tag = rng.pick([
        '!!binary',
        '!!python/object/apply:os.system',
        '!custom',
        '!!set',
        '!!omap',
        '!!timestamp',
        '!!float',
        '!<tag:x>',
      ]);
      lines[i] = (lines[i] ?? '').replace(/:\s*/, `: ${tag} `);
      return { kind, bytes: Buffer.from(lines.join('\n')) };
    }
    case 'tab': {
      const i = at();
      lines[i] = (lines[i] ?? '').replace(/^ +/, '\t');
      return { kind, bytes: Buffer.from(lines.join('\n')) };
    }
    case 'truncate':
      return { kind, bytes: bytes.subarray(0, rng.int(bytes.length)) };
    case 'stray-syntax': {
      const i = at();
      const line = lines[i] ?? '';
      const pos = rng.int(line.length + 1);
      lines[i] =
        line.slice(0, pos) +
        rng.pick([':', '- ', '{', '}', '[', '"', "'", '&', '*', '|', '>', '%', '@', '`', '? ', ': :']) +
        line.slice(pos);
      return { kind, bytes: Buffer.from(lines.join('\n')) };
    }
    case 'documents':
      return { kind, bytes: Buffer.from(`${text}\n---\nname: second\n`) };
    case 'control-char': {
      const pos = rng.int(text.length + 1);
      return {
        kind,
        bytes: Buffer.from(
          text.slice(0, pos) + rng.pick(['\u0000', '\u0007', '\u001b[31m', '\ufeff', '\u2028']) + text.slice(pos),
        ),
      };
    }
    case 'huge-string':
      return { kind, bytes: Buffer.from(`${text}\nname: ${'n'.repeat(rng.pick([1000, 100_000, 1_000_000]))}\n`) };
    default:
      return {
        kind,
        bytes: Buffer.from(
          `base: &base {memory_mb: 1024, vcpus: [1]}\n${text}\nnode_types: {<<: *base, t: {<<: [*base, *base]}}\n`,
        ),
      };
  }
}

/**
 * Mutant number `index` of `bases`: the base's name replaced by `cluster` (so nothing it could
 * create carries a name another cluster uses), then 1-3 mutations, object-level or text-level.
 */
export function mutant(rng: Rng, bases: readonly BaseSpec[], cluster: string, index: number): Mutant {
  const base = rng.pick(bases);
  const doc = structuredClone(base.doc) as Json;
  (doc as Record<string, Json>).name = cluster;
  const mutations: string[] = [];
  const holes = new Map<string, string>();
  const n = rng.range(1, 3);
  const objectLevel = rng.chance(0.6);
  if (objectLevel) for (let i = 0; i < n; i++) mutations.push(mutateObject(rng, doc, holes));
  let text = stringify(doc, { lineWidth: 0 });
  for (const [hole, raw] of holes) text = text.replace(hole, raw);
  let bytes: Buffer = Buffer.from(text);
  if (!objectLevel || rng.chance(0.2))
    for (let i = objectLevel ? 1 : n; i > 0; i--) {
      const m = mutateText(rng, bytes);
      mutations.push(m.kind);
      bytes = m.bytes;
    }
  return {
    file: `${String(index).padStart(5, '0')}-${base.name.slice(0, 40)}-${mutations.join('+')}.yaml`,
    base: base.name,
    mutations,
    bytes,
  };
}
