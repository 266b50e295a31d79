/**
 * OpenStack's error answers: the human message in each service's error body, the tenks code of an
 * HTTP status, and the TenksError that carries both with a hint.
 */
import { TenksError, type ErrorCode } from '../../common/index.js';

/** `s` on one line, at most `n` characters. */
export function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

function stringField(o: unknown, key: string): string | null {
  if (typeof o !== 'object' || o === null) return null;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/**
 * The human message of an OpenStack error body, or null when there is none:
 * - Ironic: `{"error_message": "{\"faultstring\": \"...\", ...}"}` (JSON inside a JSON string; for
 *   406 the inner object has `title` and `description` instead), or `error_message` as an object or
 *   plain string;
 * - Nova: `{"itemNotFound": {"code": 404, "message": "..."}}` (badRequest, conflictingRequest, forbidden, ...);
 * - Keystone: `{"error": {"message": "...", "title": "..."}}`;
 * - Placement: `{"errors": [{"title": "...", "detail": "..."}]}`;
 * - plain text or HTML (Glance, proxies): the text, without tags.
 */
export function openStackErrorMessage(body: string, contentType?: string): string | null {
  const text = body.trim();
  if (text === '') return null;
  let json: unknown;
  if (text.startsWith('{') || text.startsWith('[') || contentType?.includes('json') === true) {
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      json = undefined;
    }
  }
  if (json === undefined) {
    const plain = text
      .replace(/<head[\s\S]*?<\/head>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/&nbsp;/g, ' ');
    const c = clip(plain, 500);
    return c === '' ? null : c;
  }
  const m = messageOfJson(json);
  return m === null ? null : clip(m, 1000);
}

function messageOfJson(json: unknown): string | null {
  if (typeof json !== 'object' || json === null) return typeof json === 'string' ? json : null;
  const o = json as Record<string, unknown>;
  if ('error_message' in o) {
    const em = o.error_message;
    if (typeof em === 'string') {
      try {
        const inner = JSON.parse(em) as unknown;
        // Ironic's own faults carry faultstring; webob's (406, 405) carry title and description.
        return (
          stringField(inner, 'faultstring') ??
          stringField(inner, 'message') ??
          stringField(inner, 'description') ??
          stringField(inner, 'title') ??
          em
        );
      } catch {
        return em;
      }
    }
    return stringField(em, 'faultstring') ?? stringField(em, 'message') ?? stringField(em, 'description');
  }
  if (Array.isArray(o.errors)) {
    const parts = o.errors.map((e) => stringField(e, 'detail') ?? stringField(e, 'title')).filter((s) => s !== null);
    if (parts.length > 0) return parts.join('; ');
  }
  const direct = stringField(o, 'faultstring') ?? stringField(o, 'message') ?? stringField(o, 'description');
  if (direct !== null) return direct;
  if (typeof o.error === 'object' && o.error !== null) {
    return stringField(o.error, 'message') ?? stringField(o.error, 'title');
  }
  if (typeof o.error === 'string') return o.error;
  // Nova: one key naming the fault, holding {code, message}.
  const values = Object.values(o);
  if (values.length === 1) return stringField(values[0], 'message') ?? stringField(values[0], 'details');
  return null;
}

/** The tenks code of an HTTP error status. */
export function codeOfStatus(status: number): ErrorCode {
  if (status === 400 || status === 413 || status === 422) return 'INVALID_SPEC';
  if (status === 401 || status === 403) return 'PERMISSION';
  if (status === 404) return 'NOT_FOUND';
  if (status === 405 || status === 406 || status === 501) return 'UNSUPPORTED';
  if (status === 409 || status === 412) return 'CONFLICT';
  if (status === 408 || status === 429 || status >= 500) return 'UNAVAILABLE';
  return 'INTERNAL';
}

/** What {@link httpStatusError} needs. */
export interface StatusErrorInput {
  service: string;
  endpoint: string;
  status: number;
  /** The service's message, or null. */
  message: string | null;
  method: string;
  path: string;
  /** The microversion sent, quoted for 406. */
  microversion: string | null;
}

const HINTS: Partial<Record<ErrorCode, (i: StatusErrorInput) => string>> = {
  PERMISSION: (i) =>
    i.status === 401
      ? "check the cloud's credentials in clouds.yaml (or OS_* variables)"
      : `the user lacks a role ${i.service} wants for this (often admin)`,
  UNSUPPORTED: (i) =>
    i.status === 406
      ? `${i.service} does not accept API version ${i.microversion ?? '(none sent)'}; the service is older than expected`
      : `${i.service} does not offer ${i.method} ${i.path}`,
  UNAVAILABLE: (i) => `${i.service} is failing or overloaded; look at its logs`,
  CONFLICT: () => 'another operation holds or changed the object; try again when it is done',
};

/** A TenksError for an HTTP error answer: `ironic at http://h:6385: <message> (GET /v1/nodes/x: 404)`. */
export function httpStatusError(i: StatusErrorInput): TenksError {
  const code = codeOfStatus(i.status);
  const hint = HINTS[code]?.(i);
  return new TenksError(
    code,
    `${i.service} at ${i.endpoint}: ${i.message ?? `HTTP ${i.status}`} (${i.method} ${i.path}: ${i.status})`,
    hint === undefined ? {} : { hint },
  );
}
