/**
 * The HTTP(S) connections of one cloud: an undici pool with the cloud's TLS settings, its deadlines
 * and the caller's AbortSignal. Failures below HTTP become {@link TransportError}s named by a
 * Node-style code, so callers decide retries without knowing undici.
 */
import { Agent, type Dispatcher } from 'undici';
import { abortError, onAbort } from '../../common/index.js';

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

/** Response headers, lower-case names; repeated ones as lists. */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A response as read off the wire. */
export interface RawResponse {
  status: number;
  headers: ResponseHeaders;
  body: Buffer;
}

/** The HTTP methods the OpenStack clients send. */
export type HttpMethod = Dispatcher.HttpMethod;

/** One HTTP request on the transport. */
export interface SendRequest {
  method: HttpMethod;
  url: URL;
  headers: Record<string, string>;
  body: Buffer | null;
  /** How long the request may take in all, from connecting to the end of the answer. */
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
  ) {
    super(message, options);
  }
}

/** Largest response body accepted. Node lists of thousands of nodes stay far below it. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Connections kept to one service endpoint. */
const CONNECTIONS_PER_ORIGIN = 16;

/** Options of a {@link Transport}. */
export interface TransportOptions {
  tls: TlsMaterial;
  /** How long connecting (TCP and TLS handshake) may take; undici's default is 10 s. */
  connectTimeoutMs: number;
}

/** The connection pool of one cloud (HTTP and HTTPS, with its TLS settings). */
export class Transport {
  private agent: Agent | null = null;

  constructor(private readonly opts: TransportOptions) {}

  /**
   * undici checks a kept-alive connection for the server's close before it reuses it, and drops
   * idle ones before servers commonly do (4 s, or the server's own Keep-Alive hint less 1 s): a
   * request is not lost to a connection closed under it, and none is sent twice.
   */
  private pool(): Agent {
    const { tls, connectTimeoutMs } = this.opts;
    this.agent ??= new Agent({
      connections: CONNECTIONS_PER_ORIGIN,
      maxResponseSize: MAX_BODY_BYTES,
      connect: {
        timeout: connectTimeoutMs,
        rejectUnauthorized: tls.verify,
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.cert ? { cert: tls.cert } : {}),
        ...(tls.key ? { key: tls.key } : {}),
      },
    });
    return this.agent;
  }

  /** Sends one request. Rejects with a TransportError, or the abort error when `signal` fires. */
  async send(r: SendRequest): Promise<RawResponse> {
    if (r.signal?.aborted) throw abortError(r.signal);
    // undici's own headers and body timeouts fire on a tick of about a second (a 200 ms deadline
    // took 1,000 ms): the deadline is our own, and covers connecting and the whole answer.
    const request = new AbortController();
    const deadline = setTimeout(() => {
      request.abort();
    }, r.timeoutMs);
    const unsubscribe = onAbort(r.signal, () => {
      request.abort();
    });
    try {
      const res = await this.pool().request({
        origin: r.url.origin,
        path: `${r.url.pathname}${r.url.search}`,
        method: r.method,
        headers: r.headers,
        body: r.body,
        signal: request.signal,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body };
    } catch (e) {
      if (r.signal?.aborted) throw abortError(r.signal);
      if (request.signal.aborted)
        throw new TransportError(`no answer within ${r.timeoutMs} ms`, 'ETIMEDOUT', { cause: e });
      throw this.transportError(e);
    } finally {
      clearTimeout(deadline);
      unsubscribe();
    }
  }

  /** Closes the connections; requests after this open new ones. */
  close(): void {
    const agent = this.agent;
    this.agent = null;
    agent?.destroy().catch(() => undefined);
  }

  private transportError(e: unknown): TransportError {
    const err = e as Partial<NodeJS.ErrnoException>;
    const code = err.code ?? 'EIO';
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new TransportError(`no answer within ${this.opts.connectTimeoutMs} ms`, 'ETIMEDOUT', { cause: e });
      case 'UND_ERR_SOCKET':
        return new TransportError(err.message ?? 'connection closed', 'ECONNRESET', { cause: e });
      case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
        return new TransportError(`response larger than ${MAX_BODY_BYTES} bytes`, 'EMSGSIZE', { cause: e });
      default:
        return new TransportError(err.message ?? String(e), code, { cause: e });
    }
  }
}
