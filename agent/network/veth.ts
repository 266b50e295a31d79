import type { HostView } from './host-view.js';
import { ipLine, type LinkInfo } from './ip-links.js';

/** A veth pair as tenks wants it. */
export interface VethPair {
  a: string;
  b: string;
  /** Aliases (tenks marks) of each end. */
  aliasA: string;
  aliasB: string;
  /** Whether neither end gets an IPv6 link-local address ({@link ipLine.quiet}). */
  quiet: boolean;
}

/**
 * `ip -batch` lines that make the veth pair `a`–`b` with its aliases, both ends up; none when the
 * pair exists. A leftover end (or an end whose peer is another link) is deleted first.
 */
export function vethPairLines(links: ReadonlyMap<string, LinkInfo>, pair: VethPair): string[] {
  const { a, b } = pair;
  const la = links.get(a);
  if (la && links.has(b) && la.link === b) return [];
  const lines: string[] = [];
  if (la) lines.push(ipLine.del(a));
  else if (links.has(b)) lines.push(ipLine.del(b));
  lines.push(ipLine.addVeth(a, b), ipLine.alias(a, pair.aliasA), ipLine.alias(b, pair.aliasB));
  if (pair.quiet) lines.push(ipLine.quiet(a), ipLine.quiet(b));
  lines.push(ipLine.up(a), ipLine.up(b));
  return lines;
}

/**
 * The host as it is once the lines of {@link vethPairLines} have run: when they rebuild the pair,
 * its new ends are in no bridge yet, and links on the old ends (VLANs) went with them. Whatever
 * is checked after a rebuild must be checked against this view, or the new ends stay unplugged.
 */
export function afterVethLines(v: HostView, pair: Pick<VethPair, 'a' | 'b'>, lines: readonly string[]): HostView {
  if (lines.length === 0) return v;
  const gone = new Set([pair.a, pair.b]);
  const links = new Map([...v.links].filter(([name, l]) => !gone.has(name) && !(l.link !== null && gone.has(l.link))));
  return { ...v, links };
}
