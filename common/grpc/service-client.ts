import type { ChannelCredentials, Client, ClientOptions } from '@grpc/grpc-js';
import { TenksError } from '../errors.js';
import { unaryCall, type Starter } from './client.js';

/** A generated client's constructor (`AgentServiceClient`, `CoordinatorServiceClient`). */
export type ClientConstructor<C extends Client> = new (
  address: string,
  credentials: ChannelCredentials,
  options?: Partial<ClientOptions>,
) => C;

/** Options of one call. */
export interface ServiceCallOptions {
  /** Deadline from now; default the client's. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * A generated client made promise-returning: every call has a deadline, can be cancelled, and
 * rejects with the TenksError the server sent. The wire clients of each service extend it.
 */
export class ServiceClient<C extends Client> {
  /** The generated client, for calls this class has no method for. */
  readonly raw: C;

  constructor(
    ctor: ClientConstructor<C>,
    /** Names the server in errors: `agent 127.0.0.1:7443`. */
    readonly peer: string,
    readonly address: string,
    creds: ChannelCredentials,
    channelOptions: Record<string, string | number>,
    private readonly defaultTimeoutMs: number,
  ) {
    this.raw = new ctor(address, creds, channelOptions);
  }

  /** Runs one unary call; `headers` go as request metadata. */
  protected call<Res>(
    start: Starter<Res>,
    o: ServiceCallOptions | undefined,
    headers?: Readonly<Record<string, string>>,
  ): Promise<Res> {
    return unaryCall(this.peer, start, {
      timeoutMs: o?.timeoutMs ?? this.defaultTimeoutMs,
      ...(o?.signal ? { signal: o.signal } : {}),
      ...(headers ? { headers } : {}),
    });
  }

  close(): void {
    this.raw.close();
  }
}

/**
 * The base class of one service's wire client, with its constructor:
 * `class AgentWire extends serviceClient(AgentServiceClient, 'agent')`.
 */
export function serviceClient<C extends Client>(ctor: ClientConstructor<C>, service: string) {
  return class extends ServiceClient<C> {
    constructor(
      address: string,
      creds: ChannelCredentials,
      channelOptions: Record<string, string | number> = {},
      defaultTimeoutMs = 120_000,
    ) {
      super(ctor, `${service} ${address}`, address, creds, channelOptions, defaultTimeoutMs);
    }
  };
}

/**
 * The base class of one service's client in tenks terms, over its wire client (made from the same
 * arguments): `class AgentApi extends apiClient(AgentWire)`.
 */
export function apiClient<W extends ServiceClient<Client>, A extends unknown[]>(Wire: new (...args: A) => W) {
  return class {
    /** The same calls, message for message. */
    readonly wire: W;

    constructor(...args: A) {
      this.wire = new Wire(...args);
    }

    get address(): string {
      return this.wire.address;
    }

    close(): void {
      this.wire.close();
    }
  };
}

/** `v`, or INTERNAL when the server's answer lacks the message it exists for. */
export function present<T>(v: T | undefined, peer: string, what: string): T {
  if (v === undefined) throw new TenksError('INTERNAL', `${peer} sent no ${what}`);
  return v;
}
