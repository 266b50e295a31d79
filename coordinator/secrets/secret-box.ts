/**
 * Sealing of single secret values with AES-256-GCM under the coordinator's key. A sealed value reads
 * `sealed:v1:<base64 of key id, nonce, tag, ciphertext>`: recognisable in a KV dump, and naming
 * (by a short id, not the key) which key sealed it, so a coordinator holding another key can say so.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { TenksError } from '../../common/index.js';

/** Prefix of every sealed value. */
export const SEALED_PREFIX = 'sealed:v1:';

/** Length of a key in bytes (AES-256). */
export const SECRETS_KEY_BYTES = 32;

const KEY_ID_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
// Binds a ciphertext to its purpose, so nothing else sealed under this key opens as a spec secret.
const AAD = Buffer.from('tenks spec secret v1');

/** True when `value` is a sealed value (of any key). */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(SEALED_PREFIX);
}

/** Short public id of a key: 4 bytes of a hash, enough to tell two keys apart. */
export function secretsKeyId(key: Buffer): string {
  return createHash('sha256')
    .update('tenks secrets key id')
    .update(key)
    .digest()
    .subarray(0, KEY_ID_BYTES)
    .toString('hex');
}

/** Seals and opens values under one key; `keyFile` names the key in errors. */
export class SecretBox {
  readonly keyId: string;
  readonly #key: Buffer;

  constructor(
    key: Buffer,
    readonly keyFile: string,
  ) {
    if (key.length !== SECRETS_KEY_BYTES)
      throw new TenksError('INTERNAL', `a secrets key has ${SECRETS_KEY_BYTES} bytes, not ${key.length}`);
    this.#key = Buffer.from(key);
    this.keyId = secretsKeyId(key);
  }

  /** `value` sealed (a fresh nonce each time, so equal values seal differently). */
  seal(value: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(AAD);
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    const id = Buffer.from(this.keyId, 'hex');
    return SEALED_PREFIX + Buffer.concat([id, nonce, cipher.getAuthTag(), body]).toString('base64');
  }

  /** The value `sealed` holds. PERMISSION when another key sealed it or it was altered. */
  open(sealed: string): string {
    if (!isSealed(sealed)) throw new TenksError('INTERNAL', 'not a sealed value');
    const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64');
    if (raw.length < KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES)
      throw new TenksError('INTERNAL', 'a sealed value in the stored spec is truncated');
    const id = raw.subarray(0, KEY_ID_BYTES).toString('hex');
    const hint = 'every coordinator sharing a NATS (JetStream) must use the same secrets_key_file contents';
    if (id !== this.keyId)
      throw new TenksError(
        'PERMISSION',
        `a stored secret was sealed with key ${id}, not with the key in ${this.keyFile} (key ${this.keyId})`,
        { hint },
      );
    const nonce = raw.subarray(KEY_ID_BYTES, KEY_ID_BYTES + NONCE_BYTES);
    const tag = raw.subarray(KEY_ID_BYTES + NONCE_BYTES, KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES);
    const body = raw.subarray(KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce);
      decipher.setAAD(AAD);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch (e) {
      throw new TenksError(
        'PERMISSION',
        `a stored secret does not open with the key in ${this.keyFile} (key ${this.keyId}): it was altered or sealed with another key`,
        { cause: e, hint },
      );
    }
  }
}
