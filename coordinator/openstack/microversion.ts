/**
 * API microversions ("1.82", "2.61"): parsing, ordering and the choice of the version to send,
 * which is the highest version both sides know, provided it is not below what tenks needs.
 */
import { TenksError } from '../../common/index.js';

/** A parsed `major.minor` microversion. */
export interface Microversion {
  major: number;
  minor: number;
}

/** Parses `"1.82"`; null for anything else (including `latest`). */
export function parseMicroversion(s: string): Microversion | null {
  const m = /^(\d+)\.(\d+)$/.exec(s.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]) };
}

function mustParse(s: string, what: string): Microversion {
  const v = parseMicroversion(s);
  if (!v) throw new TenksError('INTERNAL', `${what} '${s}' is not a major.minor version`);
  return v;
}

/** Negative when a < b, 0 when equal, positive when a > b. Both must be `major.minor`. */
export function compareMicroversions(a: string, b: string): number {
  const x = mustParse(a, 'microversion');
  const y = mustParse(b, 'microversion');
  return x.major !== y.major ? x.major - y.major : x.minor - y.minor;
}

/** What a service offers and what tenks wants from it. */
export interface MicroversionNeeds {
  /** Service name for messages (`ironic`). */
  service: string;
  /** Endpoint for messages. */
  endpoint: string;
  /** The server's oldest version. */
  serverMin: string;
  /** The server's newest version. */
  serverMax: string;
  /** The newest version tenks knows (it sends no newer one). */
  known: string;
  /** The oldest version tenks works with. */
  required: string;
  /** Why `required` is required, for the message (`conductor_group`). */
  requiredFor: string;
  /** A version the cloud config asks for (`baremetal_api_version`), or null. It caps the choice. */
  configured: string | null;
  /** Config key of `configured`, for messages. */
  configuredKey: string;
}

/**
 * The version to send: min(server max, known, configured). UNSUPPORTED, naming both versions, when
 * the server's newest is older than `required`; INVALID_SPEC when the configured cap is below it.
 */
export function chooseMicroversion(n: MicroversionNeeds): string {
  if (compareMicroversions(n.serverMax, n.required) < 0) {
    throw new TenksError(
      'UNSUPPORTED',
      `${n.service} at ${n.endpoint} offers API versions ${n.serverMin} to ${n.serverMax}; tenks needs at least ` +
        `${n.required} (${n.requiredFor}) and uses up to ${n.known}`,
      { hint: `upgrade ${n.service}, or point the cloud at a newer one` },
    );
  }
  let chosen = compareMicroversions(n.serverMax, n.known) < 0 ? n.serverMax : n.known;
  if (n.configured !== null) {
    if (compareMicroversions(n.configured, n.required) < 0) {
      throw new TenksError(
        'INVALID_SPEC',
        `${n.configuredKey} ${n.configured} is older than ${n.required}, the oldest ${n.service} API version tenks ` +
          `works with (${n.requiredFor})`,
        { field: n.configuredKey, hint: `remove ${n.configuredKey} or set it to ${n.required} or newer` },
      );
    }
    if (compareMicroversions(n.configured, chosen) < 0) chosen = n.configured;
  }
  if (compareMicroversions(chosen, n.serverMin) < 0) {
    throw new TenksError(
      'UNSUPPORTED',
      `${n.service} at ${n.endpoint} offers API versions ${n.serverMin} to ${n.serverMax}, none of them at or below ${chosen}`,
    );
  }
  return chosen;
}
