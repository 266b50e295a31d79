/** Connects to NATS the same way everywhere: reconnect forever, status changes logged, errors as TenksError. */
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { TenksError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { NatsSettings } from './config.js';

/** Options of {@link connectNats}. */
export interface ConnectNatsOptions {
  /** Connection name shown by the server (`tenks-agent hv1`). */
  name: string;
  /** Give up the first connection after this long. Default 10 s. */
  timeoutMs?: number;
  /** Keep trying to reach a server at start instead of failing (daemons). Default false. */
  waitOnFirstConnect?: boolean;
  log: Logger;
}

/** A NATS connection; later disconnects are retried forever and logged. */
export async function connectNats(s: NatsSettings, o: ConnectNatsOptions): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: s.servers,
    name: o.name,
    timeout: o.timeoutMs ?? 10_000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    waitOnFirstConnect: o.waitOnFirstConnect ?? false,
    pingInterval: 10_000,
    // Async stack traces on every request error cost seconds of CPU at 10,000 KV writes.
    noAsyncTraces: true,
  };
  if (s.tls)
    opts.tls = {
      caFile: s.tls.caFile,
      ...(s.tls.certFile !== null ? { certFile: s.tls.certFile } : {}),
      ...(s.tls.keyFile !== null ? { keyFile: s.tls.keyFile } : {}),
    };
  if (s.user !== null) {
    opts.user = s.user;
    if (s.password !== null) opts.pass = s.password;
  }
  if (s.token !== null) opts.token = s.token;
  if (s.credsFile !== null) opts.authenticator = credsAuthenticator(await readFile(s.credsFile));
  let nc: NatsConnection;
  try {
    nc = await connect(opts);
  } catch (e) {
    throw new TenksError('UNAVAILABLE', `cannot connect to NATS at ${s.servers.join(', ')}: ${(e as Error).message}`, {
      cause: e,
      hint: 'is nats-server running with JetStream (-js)? check nats.servers',
    });
  }
  o.log.info('NATS connected', { server: nc.getServer(), name: o.name });
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === 'disconnect') o.log.warn('NATS disconnected', { server: st.server });
      else if (st.type === 'reconnect') o.log.info('NATS reconnected', { server: st.server });
      else if (st.type === 'error') o.log.warn('NATS error', { error: String(st.error) });
    }
  })().catch(() => undefined);
  return nc;
}
