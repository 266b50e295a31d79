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

function volumeHash(v: DesiredVolume): string {
  return createHash('sha256')
    .update(canonicalJson({ source: v.source, format: v.format }))
    .digest('hex')
    .slice(0, 12);
}

/** The labels of a desired node. */
export function desiredLabels(n: DesiredNode): Record<string, string> {
  const labels: Record<string, string> = { [FINGERPRINT_LABEL]: n.fingerprint };
  for (const v of n.volumes) labels[`${VOLUME_LABEL_PREFIX}${v.name}`] = volumeHash(v);
  return labels;
}
