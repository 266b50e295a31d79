/**
 * What a Redfish route answers, and the rules every resource applies to a request before it acts:
 * the methods it allows, what is missing, and the ETag a PATCH must match.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Doc } from './documents.js';
import { errorBody, MessageId, RedfishError } from './errors.js';

/** A response before rendering. */
export interface Reply {
  status: number;
  body: Doc | null;
  headers?: Record<string, string>;
}

/** 200 with `body`. */
export function ok(body: Doc, headers?: Record<string, string>): Reply {
  return { status: 200, body, ...(headers ? { headers } : {}) };
}

/** 204: done, nothing to say. */
export const noContent: Reply = { status: 204, body: null };

/** Throws 405 unless `method` is one of `methods` (comma-separated, no spaces). */
export function allow(methods: string, method: string): void {
  if (!methods.split(',').includes(method))
    throw new RedfishError(405, `${method} is not allowed here (allowed: ${methods})`, MessageId.NOT_ALLOWED, {
      Allow: methods.replaceAll(',', ', '),
    });
}

/** The 404 of a resource that is not there (`what` completes "no ..."). */
export function missing(what: string): RedfishError {
  return new RedfishError(404, `no ${what}`, MessageId.MISSING);
}

/** Strong ETag of a rendered document. */
export function etagOf(text: string): string {
  return `"${createHash('sha1').update(text).digest('base64url')}"`;
}

/** 412 unless the request's If-Match names the current ETag of `current` (weak or strong), or is absent or `*`. */
export function checkIfMatch(headers: IncomingHttpHeaders, current: Doc): void {
  const want = headers['if-match'];
  if (typeof want !== 'string' || want.trim() === '*') return;
  const tag = etagOf(JSON.stringify(current));
  const tags = want.split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (!tags.includes(tag))
    throw new RedfishError(412, 'the resource changed: If-Match does not match its ETag', MessageId.PRECONDITION);
}

/** The reply of a failed request: the Redfish error document, with a Basic challenge on a 401. */
export function errorReply(err: RedfishError): Reply {
  return {
    status: err.status,
    body: errorBody(err) as Doc,
    headers: err.status === 401 ? { 'WWW-Authenticate': 'Basic realm="tenks BMC"', ...err.headers } : err.headers,
  };
}
