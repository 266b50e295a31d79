/** RMCP+ cryptography: RAKP HMACs, session keys, integrity trailers and AES-CBC-128 payloads. */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A cipher suite tenks offers: RAKP-HMAC + HMAC integrity + AES-CBC-128. */
export interface CipherSuite {
  id: 3 | 17;
  /** Authentication algorithm number (1 RAKP-HMAC-SHA1, 3 RAKP-HMAC-SHA256). */
  auth: number;
  /** Integrity algorithm number (1 HMAC-SHA1-96, 4 HMAC-SHA256-128). */
  integrity: number;
  /** Confidentiality algorithm number (1 AES-CBC-128). */
  confidentiality: number;
  hash: 'sha1' | 'sha256';
  /** Length of the RAKP4 ICV and of the session integrity AuthCode. */
  icvLength: number;
}

/**
 * Suites 3 and 17 only. Suites 0-2 are not offered: 0 has no authentication at all, 1 and 2 have
 * no confidentiality (passwords' HMACs and every command travel in clear), so offering them would
 * let any client downgrade a session.
 */
export const SUITES: Readonly<Record<3 | 17, CipherSuite>> = {
  3: { id: 3, auth: 1, integrity: 1, confidentiality: 1, hash: 'sha1', icvLength: 12 },
  17: { id: 17, auth: 3, integrity: 4, confidentiality: 1, hash: 'sha256', icvLength: 16 },
};

/** The suite with these algorithm numbers, or null. */
export function suiteFor(auth: number, integrity: number, confidentiality: number): CipherSuite | null {
  for (const s of Object.values(SUITES))
    if (s.auth === auth && s.integrity === integrity && s.confidentiality === confidentiality) return s;
  return null;
}

/** HMAC of the concatenated parts. */
export function hmac(hash: 'sha1' | 'sha256', key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac(hash, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Kuid: the password as a key (HMAC zero-pads it itself). */
export function userKey(password: string): Buffer {
  return Buffer.from(password, 'utf8');
}

/** The values both sides of RAKP know once RAKP1 has arrived. */
export interface RakpContext {
  suite: CipherSuite;
  /** Remote console session ID, wire (LE) bytes. */
  sidm: Buffer;
  /** BMC session ID, wire (LE) bytes. */
  sidc: Buffer;
  rm: Buffer;
  rc: Buffer;
  guid: Buffer;
  /** RAKP1 role byte as sent (privilege | 0x10 name-only lookup bit). */
  rolem: number;
  username: Buffer;
}

function nameField(c: RakpContext): Buffer {
  return Buffer.concat([Buffer.from([c.rolem, c.username.length]), c.username]);
}

/** RAKP2 key exchange auth code: H_Kuid(SIDm | SIDc | Rm | Rc | GUIDc | ROLEm | ULEN | UNAME). */
export function rakp2AuthCode(c: RakpContext, kuid: Buffer): Buffer {
  return hmac(c.suite.hash, kuid, c.sidm, c.sidc, c.rm, c.rc, c.guid, nameField(c));
}

/** RAKP3 auth code the console sends: H_Kuid(Rc | SIDm | ROLEm | ULEN | UNAME). */
export function rakp3AuthCode(c: RakpContext, kuid: Buffer): Buffer {
  return hmac(c.suite.hash, kuid, c.rc, c.sidm, nameField(c));
}

/** SIK = H_Kg(Rm | Rc | ROLEm | ULEN | UNAME), Kg = Kuid without a BMC key. */
export function sessionIntegrityKey(c: RakpContext, kg: Buffer): Buffer {
  return hmac(c.suite.hash, kg, c.rm, c.rc, nameField(c));
}

/** RAKP4 ICV: H_SIK(Rm | SIDc | GUIDc), truncated. */
export function rakp4Icv(c: RakpContext, sik: Buffer): Buffer {
  return hmac(c.suite.hash, sik, c.rm, c.sidc, c.guid).subarray(0, c.suite.icvLength);
}

/** K1 / K2 = H_SIK(20 x 0x01 / 0x02); the constant is 20 bytes even for SHA-256. */
export function additionalKey(suite: CipherSuite, sik: Buffer, n: 1 | 2): Buffer {
  return hmac(suite.hash, sik, Buffer.alloc(20, n));
}

/** Constant-time comparison of two MACs. */
export function macEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** IV | AES-CBC-128(K2[0..15], IV, message | 01 02 .. N | N). */
export function encrypt(k2: Buffer, message: Buffer, iv: Buffer = randomBytes(16)): Buffer {
  const n = (16 - ((message.length + 1) % 16)) % 16;
  const pad = Buffer.alloc(n + 1);
  for (let i = 0; i < n; i++) pad[i] = i + 1;
  pad[n] = n;
  const c = createCipheriv('aes-128-cbc', k2.subarray(0, 16), iv).setAutoPadding(false);
  return Buffer.concat([iv, c.update(Buffer.concat([message, pad])), c.final()]);
}

/** Reverses {@link encrypt}; null when the payload is malformed. */
export function decrypt(k2: Buffer, payload: Buffer): Buffer | null {
  if (payload.length < 32 || (payload.length - 16) % 16 !== 0) return null;
  const d = createDecipheriv('aes-128-cbc', k2.subarray(0, 16), payload.subarray(0, 16)).setAutoPadding(false);
  const plain = Buffer.concat([d.update(payload.subarray(16)), d.final()]);
  const n = plain[plain.length - 1] ?? 255;
  if (n > 15 || n + 1 > plain.length) return null;
  return plain.subarray(0, plain.length - n - 1);
}
