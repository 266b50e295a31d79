import {
  credentials,
  Metadata,
  type CallOptions,
  type ChannelCredentials,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { TenksError } from '../errors.js';
import { abortError, onAbort } from '../semaphore.js';
import { fromWireError } from './errors.js';
import { clientCredentials, isLoopbackHost, splitHostPort, type TlsFiles } from './tls.js';

/** How to reach a daemon. */
export interface DialOptions {
  /** `host:port`. */
  address: string;
  /** mTLS identity, or null for plaintext (loopback only). */
  tls: TlsFiles | null;
  /** TLS server name to verify when it differs from the host in `address`. */
  serverName?: string;
}

/** Credentials for a dial: mTLS, or plaintext only to a loopback address. */
export async function dialCredentials(o: DialOptions): Promise<ChannelCredentials> {
  if (o.tls) return clientCredentials(o.tls);
  const { host } = splitHostPort(o.address);
  if (!isLoopbackHost(host))
    throw new TenksError('PERMISSION', `refusing plaintext gRPC to non-loopback address ${o.address}`, {
      hint: 'give TLS files (--ca, --cert, --key)',
    });
  return credentials.createInsecure();
}

/**
 * Reconnect backoff of a channel. grpc-js's default grows to 120 s, longer than any retry budget
 * here: a daemon that restarted would stay unreachable through that channel for minutes. Between
 * tenks daemons a reconnect attempt is one TCP handshake, so trying every second costs nothing.
 */
export const RECONNECT_BACKOFF = { initialMs: 200, maxMs: 1_000 } as const;

/** Channel options for a dial. */
export function channelOptions(o: DialOptions): Record<string, string | number> {
  return {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF.initialMs,
    'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF.maxMs,
    ...(o.serverName === undefined
      ? {}
      : { 'grpc.ssl_target_name_override': o.serverName, 'grpc.default_authority': o.serverName }),
  };
}

/** Options of one unary call. */
export interface UnaryOptions {
  /** Deadline from now. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Request metadata to send (e.g. a fencing token). */
  headers?: Readonly<Record<string, string>>;
}

/** Starts one call of a generated client: `(md, opts, cb) => client.getHostInfo(req, md, opts, cb)`. */
export type Starter<Res> = (
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, res: Res) => void,
) => ClientUnaryCall;

/**
 * Runs one unary call with a deadline and cancellation, restoring tenks errors from the trailers.
 * Usage: `unaryCall(peer, (md, opts, cb) => client.getHostInfo(req, md, opts, cb), { timeoutMs })`.
 */
export function unaryCall<Res>(peer: string, start: Starter<Res>, o: UnaryOptions): Promise<Res> {
  if (o.signal?.aborted) return Promise.reject(abortError(o.signal));
  return new Promise<Res>((resolve, reject) => {
    let call: ClientUnaryCall | null = null;
    const off = onAbort(o.signal, () => call?.cancel());
    const md = new Metadata();
    for (const [k, v] of Object.entries(o.headers ?? {})) md.set(k, v);
    call = start(md, { deadline: Date.now() + o.timeoutMs }, (err, res) => {
      off();
      if (err) {
        if (o.signal?.aborted) reject(abortError(o.signal));
        else reject(fromWireError(err, peer));
      } else resolve(res);
    });
  });
}
