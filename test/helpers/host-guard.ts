/**
 * The host check of a test tier: a snapshot before the tier, one after, and a failure listing
 * every difference that matters: anything that existed before and was changed or removed, and
 * anything that appeared and is still there (a leak). What legitimately changes on a lab host is
 * named in {@link HOST_IGNORE} with the reason; what moves by itself (pool free space, volume
 * allocation, counters) is not recorded at all (see the host-snapshot-* collectors).
 */
import { takeSnapshot, type FileRoot, type HostSnapshot } from './host-snapshot.js';
import {
  diffProblems,
  diffSnapshots,
  persistent,
  type DiffLine,
  type HostDiff,
  type IgnoreRule,
} from './host-snapshot-diff.js';

/**
 * The files a tier must leave alone: a quickstart lab's configuration, state and pid files. Its
 * JetStream store (/var/lib/tenks/nats, written on every heartbeat) and its logs (/var/log/tenks,
 * appended by the live daemons) change by themselves and are not recorded.
 */
export const HOST_FILE_ROOTS: readonly FileRoot[] = [
  { dir: '/etc/tenks' },
  { dir: '/var/lib/tenks', exclude: ['/var/lib/tenks/nats'] },
  { dir: '/run/tenks' },
];

/** Changes that are expected on a lab host whatever a tier does, each with why. */
export const HOST_IGNORE: readonly IgnoreRule[] = [
  {
    otherRun: true,
    reason:
      'processes started under another mocha or tsx run than this one (another engineer, a bench), and their sockets: that run answers for them (libvirt and network objects have no owner to tell, so tiers take the host lock)',
  },
  {
    kinds: ['link'],
    names: ['virbr0', 'virbr0-nic'],
    reason:
      "libvirt's own bridge, made and removed by libvirtd with its `default` network (whose start or stop is still seen as a change of `network default`)",
  },
  {
    kinds: ['process'],
    pattern: /capabilities\.monitor\.sock/,
    reason: 'the QEMU that libvirtd starts to probe capabilities (after QEMU or /dev/kvm changed); it exits by itself',
  },
  {
    kinds: ['file'],
    names: ['/run/tenks/kvm-probe.json'],
    changes: ['appeared', 'changed'],
    reason:
      "tenks-agent's per-boot cache of whether KVM guests run here (engine: auto), written by any agent on qemu:///system on a KVM host: a fact about the host, the same for every lab",
  },
  {
    kinds: ['file'],
    names: ['/run/tenks'],
    changes: ['appeared'],
    reason: 'the directory of that cache, made by the first agent that writes it on a host without a quickstart lab',
  },
];

/** How often, and how far apart, a difference is looked at again before it counts. */
const SETTLE = { samples: 3, intervalMs: 2000 } as const;

/** What a tier's after-check found: the differences, and the other test runs seen meanwhile. */
export interface SettledDiff {
  diff: HostDiff;
  /** Other test or bench runs that had processes on the host in the snapshots compared. */
  otherRuns: string[];
}

/** Differences between `before` and the host now that persist over a few seconds. */
export async function settledDiff(
  before: HostSnapshot,
  ignore: readonly IgnoreRule[] = HOST_IGNORE,
): Promise<SettledDiff> {
  const runs = new Set<string>();
  const snap = async (): Promise<HostSnapshot> => {
    const s = await takeSnapshot({ files: HOST_FILE_ROOTS });
    for (const i of s.items) if (i.otherRun !== undefined) runs.add(i.otherRun);
    return s;
  };
  for (const i of before.items) if (i.otherRun !== undefined) runs.add(i.otherRun);
  let diff = diffSnapshots(before, await snap(), { ignore });
  // Short-lived things (a client's UDP socket, ipmitool, a QEMU being reaped) come and go: only
  // what is still different a few seconds later counts.
  for (let i = 1; i < SETTLE.samples && diffProblems(diff).length > 0; i++) {
    await new Promise((r) => setTimeout(r, SETTLE.intervalMs));
    diff = persistent(diff, diffSnapshots(before, await snap(), { ignore }));
  }
  return { diff, otherRuns: [...runs].sort() };
}

/** The snapshot a tier starts from. */
export function hostSnapshot(): Promise<HostSnapshot> {
  return takeSnapshot({ files: HOST_FILE_ROOTS });
}

/** A failure message listing each problem, or null when there is none. */
export function hostProblems(what: string, found: SettledDiff): string | null {
  const problems: DiffLine[] = diffProblems(found.diff);
  if (problems.length === 0) return null;
  return [
    `${what}: ${problems.length} difference(s) on the host (something that existed before was changed or removed, or something that appeared is still there):`,
    ...problems.map((p) => `  ${p.text}`),
    ...(found.otherRuns.length === 0
      ? []
      : [
          "other test runs had processes on this host meanwhile, without the host lock; their domains, pools and links cannot be told from this tier's:",
          ...found.otherRuns.map((r) => `  ${r}`),
        ]),
  ].join('\n');
}
