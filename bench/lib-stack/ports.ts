/**
 * Ports for daemons that must be told theirs before they start (every other daemon binds port 0):
 * agents' IPMI ranges, NATS cluster route ports. Taken below the kernel's ephemeral range, so no
 * port the OS hands out (bind to port 0, outgoing connections) can land on them in between.
 */
import { readFile } from 'node:fs/promises';

/** Ports bound on this host now (any address, any state), from /proc/net/{udp,udp6} or {tcp,tcp6}. */
export async function boundPorts(protocol: 'udp' | 'tcp'): Promise<Set<number>> {
  const out = new Set<number>();
  for (const f of [`/proc/net/${protocol}`, `/proc/net/${protocol}6`]) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const hex = local?.split(':')[1];
      if (hex !== undefined) out.add(parseInt(hex, 16));
    }
  }
  return out;
}

/**
 * `count` non-overlapping `protocol` port ranges of `size` ports, below the kernel's ephemeral range,
 * each with no port bound right now. Agents still skip IPMI ports taken later by someone else (they
 * try the next one).
 */
export async function freePortRanges(
  protocol: 'udp' | 'tcp',
  count: number,
  size: number,
): Promise<{ start: number; end: number }[]> {
  const eph = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
  const ephStart = eph[0] ?? 32768;
  const bound = await boundPorts(protocol);
  const ranges: { start: number; end: number }[] = [];
  let start = 10_000;
  while (ranges.length < count) {
    const end = start + size - 1;
    if (end >= ephStart)
      throw new Error(`no ${count} free ${protocol.toUpperCase()} ranges of ${size} ports below ${ephStart}`);
    let clash = -1;
    for (let p = start; p <= end; p++) if (bound.has(p)) clash = p;
    if (clash >= 0) start = clash + 1;
    else {
      ranges.push({ start, end });
      start = end + 1;
    }
  }
  return ranges;
}

/** `count` UDP port ranges of `size` ports (IPMI ranges of agents): see {@link freePortRanges}. */
export function freeUdpRanges(count: number, size: number): Promise<{ start: number; end: number }[]> {
  return freePortRanges('udp', count, size);
}
