/**
 * Labels the coordinator puts on every node it creates: the fingerprint of the VM it asked for and
 * one hash per volume source, so a re-apply knows from the agent's answer alone whether a node
 * matches, and whether a changed volume can be updated in place or needs the node replaced.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, type DesiredNode, type DesiredVolume } from '../../common/spec/index.js';

/** Label holding the VM fingerprint. */
export const FINGERPRINT_LABEL = 'tenks.dev/fingerprint';
/** Label prefix of per-volume source hashes. */
export const VOLUME_LABEL_PREFIX = 'tenks.dev/vol.';
/** Label holding the guest architecture of nodes that are not x86_64 (absent: x86_64). */
export const ARCH_LABEL = 'tenks.dev/arch';

function volumeHash(v: DesiredVolume): string {
  return createHash('sha256')
    .update(canonicalJson({ source: v.source, format: v.format }))
    .digest('hex')
    .slice(0, 12);
}

/** The labels of a desired node. */
export function desiredLabels(n: DesiredNode): Record<string, string> {
  const labels: Record<string, string> = { [FINGERPRINT_LABEL]: n.fingerprint };
  // Only away from x86_64, so the labels (and spec hash) of nodes made before architectures stay the same.
  if (n.arch !== 'x86_64') labels[ARCH_LABEL] = n.arch;
  for (const v of n.volumes) labels[`${VOLUME_LABEL_PREFIX}${v.name}`] = volumeHash(v);
  return labels;
}
