/**
 * Where a cluster spec holds secrets, found in its YAML text. The coordinator seals them before the
 * spec is stored and redacts them from what it reports; both go through `replaceSpecSecrets`, which
 * changes only the secret values' own text, so the rest of the spec (comments, order, quoting)
 * stays as the user wrote it.
 */
import { isAlias, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { fieldPath } from '../config.js';
import { invalidSpec } from '../errors.js';

/** The spec fields the schema documents as secrets: the BMC passwords of every node. */
export const SECRET_SPEC_FIELDS = ['ipmi_password', 'redfish_password'] as const;

/**
 * Keys the schema does not know ride along in a spec (upstream Tenks and Ansible variables at the
 * top level, in node types and volumes); those whose name says they hold a secret are treated as one.
 */
const SECRET_KEY_NAME = /password|passwd|passphrase|secret|token|credential/i;

/** True when the value under mapping key `key` is a secret, at any depth of a spec. */
export function isSecretKey(key: string): boolean {
  return (SECRET_SPEC_FIELDS as readonly string[]).includes(key) || SECRET_KEY_NAME.test(key);
}

/** Text put in place of a secret a reader is not allowed to see. */
export const REDACTED = '<redacted>';

/** One secret value in the text of a spec. */
export interface SpecSecret {
  /** Where it is (`ipmi_password`, `x.auth[0]`); for a value reached through an alias, the alias's path. */
  path: string;
  /** Its value as parsed (a string for every valid spec). */
  value: unknown;
  /** Its text as written: quotes and a block scalar's header and lines included, no trailing line break. */
  source: string;
}

interface Span extends SpecSecret {
  start: number;
  end: number;
}

function secretSpans(text: string, sourceName: string): Span[] {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw invalidSpec(
      doc.errors.map((e) => ({
        field: `${sourceName}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}`,
        message: e.message.split('\n')[0] ?? e.message,
      })),
    );
  const spans = new Map<Node, Span>();
  const resolving = new Set<Node>();
  const walk = (node: unknown, path: (string | number)[], secret: boolean): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : null;
        walk(pair.value, [...path, key ?? '?'], secret || (key !== null && isSecretKey(key)));
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        walk(item, [...path, i], secret);
      });
    } else if (isAlias(node)) {
      if (!secret) return;
      // The value lives at its anchor, which may sit anywhere: hide it there.
      const target = node.resolve(doc);
      if (!target || resolving.has(target)) return;
      resolving.add(target);
      walk(target, path, true);
      resolving.delete(target);
    } else if (isScalar(node) && secret && node.value !== null && node.range && !spans.has(node)) {
      const start = node.range[0];
      let end = node.range[1];
      // A block scalar's range ends after its last line break; that break belongs to the document.
      while (end > start && (text[end - 1] === '\n' || text[end - 1] === '\r')) end--;
      if (end > start)
        spans.set(node, { path: fieldPath('', path), value: node.value, source: text.slice(start, end), start, end });
    }
  };
  walk(doc.contents, [], false);
  return [...spans.values()].sort((a, b) => a.start - b.start);
}

/** Every secret of a spec, in text order. Throws INVALID_SPEC when the text is not YAML. */
export function specSecrets(text: string, sourceName = 'cluster spec'): SpecSecret[] {
  return secretSpans(text, sourceName).map(({ path, value, source }) => ({ path, value, source }));
}

/**
 * The spec text with each secret's text replaced by what `replace` returns (YAML text for that
 * value; null leaves it as it is), called in text order. Everything else stays as written. Throws INVALID_SPEC when the
 * text is not YAML.
 */
export function replaceSpecSecrets(
  text: string,
  replace: (secret: SpecSecret) => string | null,
  sourceName = 'cluster spec',
): string {
  const spans = secretSpans(text, sourceName);
  const replacements = spans.map((s) => replace({ path: s.path, value: s.value, source: s.source }));
  let out = text;
  // From the end, so the offsets of the spans still to do stay valid.
  for (let i = spans.length - 1; i >= 0; i--) {
    const s = spans[i] as Span;
    const next = replacements[i];
    if (next !== null && next !== undefined) out = out.slice(0, s.start) + next + out.slice(s.end);
  }
  return out;
}

/** The spec text with every secret shown as {@link REDACTED}. */
export function redactSpecSecrets(text: string, sourceName?: string): string {
  return replaceSpecSecrets(text, () => REDACTED, sourceName);
}
