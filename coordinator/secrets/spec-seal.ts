/** Cluster specs as the coordinator stores them: every secret (common/spec/secrets.ts) sealed in place. */
import { replaceSpecSecrets } from '../../common/spec/index.js';
import { isSealed, type SecretBox } from './secret-box.js';

/**
 * `specYaml` with the text of every secret replaced by its sealed form. What is sealed is the text
 * as written (quotes, block scalar lines), so {@link unsealSpec} gives back the spec byte for byte.
 * Values that merely look sealed are sealed again: opening undoes exactly one sealing.
 */
export function sealSpec(box: SecretBox, specYaml: string, source?: string): string {
  return replaceSpecSecrets(specYaml, (s) => JSON.stringify(box.seal(s.source)), source);
}

/**
 * The spec as submitted. Secrets stored before sealing existed (plain text) stay as they are.
 * PERMISSION when a secret was sealed under another key.
 */
export function unsealSpec(box: SecretBox, specYaml: string, source?: string): string {
  if (specYaml === '') return '';
  return replaceSpecSecrets(specYaml, (s) => (isSealed(s.value) ? box.open(s.value) : null), source);
}
