/**
 * Secrets at rest: the coordinator's AES-256-GCM key (a file every coordinator on one NATS shares),
 * and cluster specs stored with their secrets sealed under it.
 */
export { openSecretBox } from './key-file.js';
export { isSealed, SecretBox, SEALED_PREFIX } from './secret-box.js';
export { sealSpec, unsealSpec } from './spec-seal.js';
