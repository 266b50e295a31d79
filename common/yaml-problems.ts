/**
 * Problems of a YAML document that the YAML library reports by throwing (aliases) or by a process
 * warning (collection keys) rather than in `doc.errors`, found by walking the document so each can
 * name the field it is at.
 */
import {
  isAlias,
  isCollection,
  isPair,
  isScalar,
  isSeq,
  visit,
  type Document,
  type LineCounter,
  type Node,
} from 'yaml';

/** A problem at a path of the document (`[]`: the root). */
export interface YamlProblem {
  path: (string | number)[];
  message: string;
}

/** How many alias expansions the library allows (its `maxAliasCount` default). */
const MAX_ALIAS_COUNT = 100;

type Ancestors = readonly unknown[];

/** The field path of `node`, from the ancestors `visit` gives. */
function pathOf(ancestors: Ancestors, node: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length; i++) {
    const a = chain[i];
    const child = chain[i + 1];
    if (isPair(a)) out.push(isScalar(a.key) ? String(a.key.value) : '?');
    else if (isSeq(a) && child !== undefined) out.push(a.items.indexOf(child));
  }
  return out;
}

function where(node: { range?: [number, number, number] | null }, lines: LineCounter): string {
  const at = lines.linePos(node.range?.[0] ?? 0);
  return `line ${at.line}, column ${at.col}`;
}

/** Mapping keys that are lists or mappings (JavaScript objects cannot have them). */
export function collectionKeys(doc: Document, lines: LineCounter): YamlProblem[] {
  const out: YamlProblem[] = [];
  visit(doc, {
    Pair: (_key, pair, ancestors) => {
      if (!isCollection(pair.key)) return;
      out.push({
        path: pathOf(ancestors, pair).slice(0, -1),
        message: `a key here is a ${isSeq(pair.key) ? 'list' : 'mapping'} (${where(pair.key, lines)}): keys must be plain values`,
      });
    },
  });
  return out;
}

/**
 * The alias the library refused to expand: the first with no anchor before it, or the one at which
 * expansions multiply past the library's limit (the same count it keeps: an anchor's uses times
 * the expansions inside it).
 */
export function aliasProblem(doc: Document, lines: LineCounter): YamlProblem | null {
  const anchored: Node[] = [];
  const counts = new Map<Node, { uses: number; inner: number }>();
  let found: YamlProblem | null = null;
  const sourceOf = (alias: Node & { source: string }): Node | undefined => {
    let src: Node | undefined;
    for (const n of anchored) if (n.anchor === alias.source) src = n;
    return src;
  };
  const innerCount = (n: unknown): number => {
    if (isAlias(n)) {
      const src = sourceOf(n);
      const c = src ? counts.get(src) : undefined;
      return c ? c.uses * c.inner : 0;
    }
    if (isCollection(n)) return Math.max(0, ...n.items.map(innerCount));
    if (isPair(n)) return Math.max(innerCount(n.key), innerCount(n.value));
    return 1;
  };
  visit(doc, {
    Node: (_key, node, ancestors) => {
      if (!isAlias(node)) {
        if (node.anchor !== undefined) anchored.push(node);
        return undefined;
      }
      const src = sourceOf(node);
      if (!src) {
        found = {
          path: pathOf(ancestors, node),
          message: `alias *${node.source} refers to no anchor (&${node.source} must come before it; ${where(node, lines)})`,
        };
        return visit.BREAK;
      }
      let c = counts.get(src);
      if (!c) counts.set(src, (c = { uses: 0, inner: 0 }));
      c.uses++;
      if (c.inner === 0) c.inner = innerCount(src);
      if (c.uses * c.inner > MAX_ALIAS_COUNT) {
        found = {
          path: pathOf(ancestors, node),
          message: `alias *${node.source} expands the document too far (aliases of aliases multiply, as in a YAML "billion laughs"; ${where(node, lines)})`,
        };
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}
