import { XMLParser } from 'fast-xml-parser';

/** Escapes text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', "'": 'apos', '"': 'quot' }[c] ?? ''};`);
}

/** Reverses {@link xmlEscape} (and numeric character references). */
export function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|amp|apos|quot|#\d+|#x[0-9a-fA-F]+);/g, (_m, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'apos':
        return "'";
      case 'quot':
        return '"';
      default:
        return String.fromCodePoint(e.startsWith('#x') ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    }
  });
}

/**
 * Parses an XML document into plain objects: an element is an object of its attributes (`@name`,
 * apart from child elements of the same name) and child elements, or a string when it has neither;
 * text stays text (never a number); namespace prefixes are dropped. Elements named in `lists` are
 * always arrays, however many there are.
 * Malformed input gives whatever the parser made of it (readers check every field they use).
 *
 * Callers cast the result to the fields they read, all optional.
 */
export function parseXml(xml: string, lists: readonly string[] = []): unknown {
  return new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    // Entities are decoded here, numeric character references too: libxml2 writes characters of
    // re-serialised metadata (what libvirt returns) as those.
    processEntities: false,
    tagValueProcessor: (_name, value) => xmlUnescape(value),
    attributeValueProcessor: (_name, value) => xmlUnescape(value),
    isArray: (name) => lists.includes(name),
  }).parse(xml);
}

/**
 * One node of a document parsed in order: text (`#text`), a CDATA section (`#cdata`), or an
 * element (its name → its child nodes, `:@` → its attributes).
 */
type OrderedNode = Record<string, unknown>;

/** Writes nodes parsed in order (with entities left as they were) back as XML. */
function writeOrdered(nodes: readonly OrderedNode[]): string {
  return nodes
    .map((n) => {
      if ('#text' in n) return String(n['#text']);
      if ('#cdata' in n) return `<![CDATA[${writeOrdered(n['#cdata'] as OrderedNode[])}]]>`;
      const name = Object.keys(n).find((k) => k !== ':@') ?? '';
      // A value read from an apostrophe-quoted attribute may hold a '"'.
      const attrs = Object.entries((n[':@'] ?? {}) as Record<string, unknown>)
        .map(([k, v]) => ` ${k}="${String(v).replaceAll('"', '&quot;')}"`)
        .join('');
      const children = n[name] as OrderedNode[];
      return children.length === 0 ? `<${name}${attrs}/>` : `<${name}${attrs}>${writeOrdered(children)}</${name}>`;
    })
    .join('');
}

/**
 * `xml` without the child elements `names` of the element at `path` (element names from the
 * root, `['domain', 'os']`). Everything else is written back as it was read: text and attribute
 * values untouched (entities included), attributes double-quoted.
 */
export function withoutChildElements(xml: string, path: readonly string[], names: readonly string[]): string {
  const doc = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    cdataPropName: '#cdata',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: false,
  }).parse(xml) as OrderedNode[];
  let level: OrderedNode[] | undefined = doc;
  for (const name of path) level = level?.find((n) => name in n)?.[name] as OrderedNode[] | undefined;
  if (level !== undefined) {
    const kept = level.filter((n) => !names.some((name) => name in n));
    level.splice(0, level.length, ...kept);
  }
  return writeOrdered(doc);
}
