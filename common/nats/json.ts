/** JSON payloads on NATS. */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a value as a JSON payload. */
export function encodeJson(v: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(v));
}

/** Decodes a JSON payload; null when it is not JSON (never throws). */
export function decodeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data)) as unknown;
  } catch {
    return null;
  }
}
