/**
 * JSON over HTTP(S) to OpenStack services: one connection pool per cloud with its TLS settings, a
 * deadline per request, the caller's AbortSignal, auth headers with one re-authentication on 401,
 * a few short retries of idempotent requests on connection errors and 503, and OpenStack error
 * bodies turned into TenksErrors that carry the service's own message.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { abortError, type ErrorCode, type Logger, TenksError } from '../../common/index.js';

/** TLS material of a cloud, read from its files. */
export interface TlsMaterial {
  /** CA bundle (PEM) replacing the system CAs, or null. */
  ca: Buffer | null;
  /** Client certificate and key (PEM), or null. */
  cert: Buffer | null;
  key: Buffer | null;
  /** False to accept any server certificate (`insecure: true`). */
  verify: boolean;
}

/** A response as read off the wire. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Largest response body accepted. Node lists of thousands of nodes stay far below it. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** One HTTP request on the transport. */
export interface SendRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Buffer | null;
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

/** A request's failure below HTTP (connect, TLS, deadline). */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    message: string,
    /** `ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, `ETIMEDOUT` (our deadline), ... */
    readonly code: string,
    options?: { cause?: unknown },
    /** True when the request went out on a kept-alive connection the server may have just closed. */
    readonly reusedSocket = false,
  ) {
    super(message, options);
  }
}

/** The connection pools of one cloud (HTTP and HTTPS, with its TLS settings). */
export class Transport {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  private readonly https: HttpsAgent;

  constructor(tls: TlsMaterial) {
    this.https = new HttpsAgent({
      keepAlive: true,
      maxSockets: 16,
      rejectUnauthorized: tls.verify,
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
    });
  }

  /** Sends one request. Rejects with a TransportError, or the abort reason when `signal` fires. */
  send(r: SendRequest): Promise<RawResponse> {
    return new Promise<RawResponse>((resolvePromise, reject) => {
      if (r.signal?.aborted) {
        reject(abortError(r.signal));
        return;
      }
      const isHttps = r.url.protocol === 'https:';
      const headers: Record<string, string> = { ...r.headers };
      if (r.body) headers['Content-Length'] = String(r.body.length);
      const options = { method: r.method, headers, agent: isHttps ? this.https : this.http };
      let settled = false;
      /** Why we destroyed the request ourselves, if we did. */
      let ours: TransportError | null = null;
      let answered = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        r.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const req = (isHttps ? httpsRequest : httpRequest)(r.url, options, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            ours = new TransportError(`response larger than ${MAX_BODY_BYTES} bytes`, 'EMSGSIZE');
            req.destroy(ours);
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          finish(() => {
            resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
        });
        res.on('error', (e) => {
          finish(() => {
            // The answer had begun, so the request reached the server: never a stale-socket resend.
            reject(ours ?? toTransportError(e, false));
          });
        });
        // A connection cut mid-answer may end the response with neither 'end' nor 'error'.
        res.on('close', () => {
          if (res.complete) return;
          finish(() => {
            reject(ours ?? new TransportError('connection closed mid-answer', 'ECONNRESET'));
          });
        });
      });
      const timer = setTimeout(() => {
        ours = new TransportError(`no answer within ${r.timeoutMs} ms`, 'ETIMEDOUT');
        req.destroy(ours);
      }, r.timeoutMs);
      const onAbort = (): void => {
        finish(() => {
          req.destroy();
          reject(abortError(r.signal));
        });
      };
      r.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (e) => {
        finish(() => {
          reject(ours ?? toTransportError(e, req.reusedSocket && !answered));
        });
      });
      req.end(r.body ?? undefined);
    });
  }

  /** Closes idle connections; requests after this open new ones. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

function toTransportError(e: unknown, reusedSocket: boolean): TransportError {
  if (e instanceof TransportError) return e;
  const err = e as NodeJS.ErrnoException;
  return new TransportError(err.message, err.code ?? 'EIO', { cause: e }, reusedSocket);
}

/** Connection failures after which a request may be sent again: nothing or nothing useful reached the server. */
const RETRYABLE_TRANSPORT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

/** Node's TLS verification error codes: a certificate problem, not an outage. */
function isTlsError(code: string): boolean {
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT)|ERR_TLS|ERR_SSL|HOSTNAME_MISMATCH/.test(code) || code === 'EPROTO'
  );
}

/** Supplies the auth headers of requests. */
export interface Credentials {
  /** The headers to send (`X-Auth-Token`, `Authorization`); may authenticate first. */
  headers(signal: AbortSignal | undefined): Promise<Record<string, string>>;
  /** The service answered 401 to `sent`: forget them. True when fresh ones may succeed. */
  rejected(sent: Record<string, string>): boolean;
}

/** Options of a {@link ServiceClient}. */
export interface ServiceClientOptions {
  /** Name in messages: `ironic`, `nova`, `placement`, `glance`, `keystone`. */
  service: string;
  /** Base URL; request paths are appended to it. */
  endpoint: string;
  transport: Transport;
  credentials: Credentials | null;
  /** Deadline of one attempt. */
  timeoutMs: number;
  log: Logger;
  /** Headers sent on every request (microversion). */
  headers?: Record<string, string>;
  /**
   * Failures worth sending again whatever the method, because the server refused them without
   * acting (Ironic's NodeLocked 409). Tried up to 5 more times, 0.5 s doubling to 4 s.
   */
  retryRefused?: (status: number, message: string) => boolean;
  /** Delays between retries of idempotent requests (connection errors, 503). Default 0.25 s, 0.75 s. */
  retryDelaysMs?: readonly number[];
}

/** One request to a service. */
export interface ServiceRequest {
  /** Query parameters; null and undefined values are left out. */
  query?: Record<string, string | number | boolean | null | undefined>;
  /** JSON body. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Statuses that are not errors; default any 2xx. */
  ok?: readonly number[];
}

/** A successful response with its JSON (or null for an empty body). */
export interface ServiceResponse {
  status: number;
  headers: IncomingHttpHeaders;
  json: unknown;
}

const REFUSED_DELAYS_MS = [500, 1000, 2000, 4000, 4000];

/** JSON requests to one OpenStack service endpoint. */
export class ServiceClient {
  readonly service: string;
  readonly endpoint: string;
  private readonly o: ServiceClientOptions;

  constructor(o: ServiceClientOptions) {
    this.o = o;
    this.service = o.service;
    this.endpoint = o.endpoint.replace(/\/+$/, '');
  }

  /** The URL of `path` (absolute path under the endpoint) with `query`. */
  url(path: string, query?: ServiceRequest['query']): URL {
    const u = new URL(this.endpoint + (path.startsWith('/') ? path : `/${path}`));
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== null && v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  /** Sends a request; rejects with a TenksError (see {@link httpStatusError}) unless the status is ok. */
  async request(method: string, path: string, r: ServiceRequest = {}): Promise<ServiceResponse> {
    const url = this.url(path, r.query);
    const body = r.body === undefined ? null : Buffer.from(JSON.stringify(r.body));
    const idempotent = method === 'GET' || method === 'HEAD';
    const idempotentDelays = this.o.retryDelaysMs ?? [250, 750];
    let transportRetries = 0;
    let refusedRetries = 0;
    let reauthenticated = false;
    let staleRetried = false;
    for (;;) {
      const auth = this.o.credentials ? await this.o.credentials.headers(r.signal) : {};
      const headers: Record<string, string> = {
        Accept: 'application/json',
        'User-Agent': 'tenks-coordinator',
        ...(body ? { 'Content-Type': 'application/json' } : {}),
        ...this.o.headers,
        ...r.headers,
        ...auth,
      };
      const started = Date.now();
      let res: RawResponse;
      try {
        res = await this.o.transport.send({
          method,
          url,
          headers,
          body,
          timeoutMs: this.o.timeoutMs,
          signal: r.signal,
        });
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
        if (e.reusedSocket && e.code === 'ECONNRESET' && !staleRetried) {
          // The server closed an idle kept-alive connection as we reused it: the request never
          // reached it, so sending it again is safe whatever the method.
          staleRetried = true;
          continue;
        }
        const delay = idempotentDelays[transportRetries];
        if (idempotent && RETRYABLE_TRANSPORT.has(e.code) && delay !== undefined) {
          transportRetries++;
          this.o.log.debug('openstack request failed, retrying', { service: this.service, method, path, code: e.code });
          await sleep(delay, r.signal);
          continue;
        }
        throw this.transportFailure(e, method, url);
      }
      this.o.log.debug('openstack request', {
        service: this.service,
        method,
        path: url.pathname,
        status: res.status,
        ms: Date.now() - started,
      });
      const ok = r.ok ? r.ok.includes(res.status) : res.status >= 200 && res.status < 300;
      if (ok)
        return { status: res.status, headers: res.headers, json: parseJsonBody(res, this.service, this.endpoint) };
      const message = openStackErrorMessage(res.body.toString('utf8'), headerValue(res.headers, 'content-type'));
      if (res.status === 401 && this.o.credentials && !reauthenticated && this.o.credentials.rejected(auth)) {
        reauthenticated = true;
        this.o.log.debug('openstack token rejected, authenticating again', { service: this.service });
        continue;
      }
      const refusedDelay = REFUSED_DELAYS_MS[refusedRetries];
      if (this.o.retryRefused?.(res.status, message ?? '') && refusedDelay !== undefined) {
        refusedRetries++;
        this.o.log.debug('openstack request refused, retrying', { service: this.service, method, status: res.status });
        await sleep(refusedDelay, r.signal);
        continue;
      }
      const delay = idempotentDelays[transportRetries];
      if (idempotent && res.status === 503 && delay !== undefined) {
        transportRetries++;
        await sleep(delay, r.signal);
        continue;
      }
      throw httpStatusError({
        service: this.service,
        endpoint: this.endpoint,
        status: res.status,
        message,
        method,
        path: url.pathname,
        microversion: headers[MICROVERSION_HEADER_OF[this.service] ?? ''] ?? null,
      });
    }
  }

  /** GET and return the JSON body. */
  async get(path: string, r: ServiceRequest = {}): Promise<unknown> {
    return (await this.request('GET', path, r)).json;
  }

  private transportFailure(e: TransportError, method: string, url: URL): TenksError {
    const at = `${this.service} at ${this.endpoint}`;
    if (isTlsError(e.code)) {
      return new TenksError('PERMISSION', `${at}: TLS: ${e.message} (${e.code})`, {
        cause: e,
        hint: "set the cloud's cacert to the CA that signed the service's certificate (or insecure: true, for a lab only)",
      });
    }
    return new TenksError('UNAVAILABLE', `${at}: ${method} ${url.pathname}: ${e.message} (${e.code})`, {
      cause: e,
      hint: `is ${this.service} running and reachable from here? Check the catalog or <service>_endpoint_override`,
    });
  }
}

/** The microversion request header of each service name, to quote it in 406 messages. */
const MICROVERSION_HEADER_OF: Readonly<Record<string, string>> = {
  ironic: 'X-OpenStack-Ironic-API-Version',
  nova: 'OpenStack-API-Version',
  placement: 'OpenStack-API-Version',
};

/** A header's value (the first one when repeated). */
export function headerValue(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function parseJsonBody(res: RawResponse, service: string, endpoint: string): unknown {
  if (res.body.length === 0) return null;
  const text = res.body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const type = headerValue(res.headers, 'content-type') ?? 'no content type';
    throw new TenksError(
      'UNAVAILABLE',
      `${service} at ${endpoint}: the answer is not JSON (${type}): ${clip(text, 120)}`,
      {
        cause: e,
        hint: 'is the endpoint really that service (and not a proxy or login page)?',
      },
    );
  }
}

/** Waits `ms`; rejects with the abort error when `signal` fires first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolvePromise, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolvePromise();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function clip(s: string, n: number): string {
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
