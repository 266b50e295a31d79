/**
 * JSON requests to one OpenStack service endpoint over a cloud's {@link Transport}: auth headers
 * with one re-authentication on 401, the service's microversion header, a few short retries of
 * idempotent requests on connection errors and 503, and error answers turned into TenksErrors that
 * carry the service's own message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { abortError, TenksError, type Logger } from '../../common/index.js';
import { clip, httpStatusError, openStackErrorMessage } from './errors.js';
import {
  TransportError,
  type HttpMethod,
  type RawResponse,
  type ResponseHeaders,
  type Transport,
} from './transport.js';

/** Supplies the auth headers of requests. */
export interface Credentials {
  /** The headers to send (`X-Auth-Token`, `Authorization`); may authenticate first. */
  headers(signal: AbortSignal | undefined): Promise<Record<string, string>>;
  /** The service answered 401 to `sent`: forget them. True when fresh ones may succeed. */
  rejected(sent: Record<string, string>): boolean;
}

/** How a service of a cloud is reached: what every client of one is made with. */
export interface ServiceEndpoint {
  /** Base URL; request paths are appended to it. */
  endpoint: string;
  transport: Transport;
  credentials: Credentials | null;
  /** Deadline of one attempt. */
  timeoutMs: number;
  log: Logger;
}

/** Options of a {@link ServiceClient}. */
export interface ServiceClientOptions extends ServiceEndpoint {
  /** Name in messages: `ironic`, `nova`, `placement`, `glance`, `keystone`. */
  service: string;
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
  headers: ResponseHeaders;
  json: unknown;
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

const REFUSED_DELAYS_MS = [500, 1000, 2000, 4000, 4000];

/** The microversion request header of each service name, to quote it in 406 messages. */
const MICROVERSION_HEADER_OF: Readonly<Record<string, string>> = {
  ironic: 'X-OpenStack-Ironic-API-Version',
  nova: 'OpenStack-API-Version',
  placement: 'OpenStack-API-Version',
};

/** Waits `ms` (a retry's or a poll's delay); rejects with the abort error when `signal` fires first. */
export async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch {
    throw abortError(signal);
  }
}

/** JSON requests to one OpenStack service endpoint. */
export class ServiceClient {
  readonly service: string;
  readonly endpoint: string;
  private readonly opts: ServiceClientOptions;

  constructor(opts: ServiceClientOptions) {
    this.opts = opts;
    this.service = opts.service;
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
  }

  /** The URL of `path` (absolute path under the endpoint) with `query`. */
  url(path: string, query?: ServiceRequest['query']): URL {
    const u = new URL(this.endpoint + (path.startsWith('/') ? path : `/${path}`));
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== null && v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  /** Sends a request; rejects with a TenksError (see {@link httpStatusError}) unless the status is ok. */
  async request(method: HttpMethod, path: string, r: ServiceRequest = {}): Promise<ServiceResponse> {
    const { credentials, log } = this.opts;
    const url = this.url(path, r.query);
    const body = r.body === undefined ? null : Buffer.from(JSON.stringify(r.body));
    const idempotent = method === 'GET' || method === 'HEAD';
    const idempotentDelays = this.opts.retryDelaysMs ?? [250, 750];
    let transportRetries = 0;
    let refusedRetries = 0;
    let reauthenticated = false;
    for (;;) {
      const auth = credentials ? await credentials.headers(r.signal) : {};
      const headers: Record<string, string> = {
        Accept: 'application/json',
        'User-Agent': 'tenks-coordinator',
        ...(body ? { 'Content-Type': 'application/json' } : {}),
        ...this.opts.headers,
        ...r.headers,
        ...auth,
      };
      const started = Date.now();
      let res: RawResponse;
      try {
        res = await this.opts.transport.send({
          method,
          url,
          headers,
          body,
          timeoutMs: this.opts.timeoutMs,
          signal: r.signal,
        });
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
        const delay = idempotentDelays[transportRetries];
        if (idempotent && RETRYABLE_TRANSPORT.has(e.code) && delay !== undefined) {
          transportRetries++;
          log.debug('openstack request failed, retrying', { service: this.service, method, path, code: e.code });
          await pause(delay, r.signal);
          continue;
        }
        throw this.transportFailure(e, method, url);
      }
      log.debug('openstack request', {
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
      if (res.status === 401 && credentials && !reauthenticated && credentials.rejected(auth)) {
        reauthenticated = true;
        log.debug('openstack token rejected, authenticating again', { service: this.service });
        continue;
      }
      const refusedDelay = REFUSED_DELAYS_MS[refusedRetries];
      if (this.opts.retryRefused?.(res.status, message ?? '') && refusedDelay !== undefined) {
        refusedRetries++;
        log.debug('openstack request refused, retrying', { service: this.service, method, status: res.status });
        await pause(refusedDelay, r.signal);
        continue;
      }
      const delay = idempotentDelays[transportRetries];
      if (idempotent && res.status === 503 && delay !== undefined) {
        transportRetries++;
        await pause(delay, r.signal);
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

/** A header's value (the first one when repeated). */
export function headerValue(h: ResponseHeaders, name: string): string | undefined {
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
