/** Operation progress events from NATS, for tenksctl: connect, subscribe, read as OpEvents, close. */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { asOpEvent, connectNats, decodeJson, type Logger, type NatsSettings, type OpEvent } from '../common/index.js';

/** How long tenksctl waits for a NATS server before following by polling instead. */
export const NATS_CONNECT_TIMEOUT_MS = 5_000;
/** How long closing waits for the connection to drain before dropping it. */
const DRAIN_TIMEOUT_MS = 2_000;

/** TLS files to use for `tls://` NATS URLs (the same CA and client certificate as for gRPC). */
export interface NatsTlsFiles {
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
}

/** Connects to NATS as a watcher (no JetStream needed). Throws UNAVAILABLE when no server answers. */
export function connectEventsNats(servers: readonly string[], tls: NatsTlsFiles, log: Logger): Promise<NatsConnection> {
  const wantsTls = servers.some((s) => s.startsWith('tls://'));
  const settings: NatsSettings = {
    servers: [...servers],
    tls: wantsTls && tls.caFile !== null ? { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile } : null,
    user: null,
    password: null,
    token: null,
    credsFile: null,
    replicas: 1,
  };
  return connectNats(settings, { name: 'tenksctl', timeoutMs: NATS_CONNECT_TIMEOUT_MS, log });
}

/** Drains the connection, or closes it when draining takes too long (e.g. while disconnected). */
export async function closeNats(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
  });
  try {
    await Promise.race([nc.drain().catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
}

/** A subscription's events; `close()` also closes the connection it owns. */
export interface EventSource extends AsyncIterable<OpEvent> {
  /** Subject subscribed to. */
  readonly subject: string;
  close(): Promise<void>;
}

async function* decode(sub: Subscription): AsyncGenerator<OpEvent> {
  for await (const m of sub) {
    const ev = asOpEvent(decodeJson(m.data));
    if (ev !== null) yield ev;
  }
}

/**
 * Subscribes to `subject` on `nc` (which the source then owns) and waits until the server has the
 * subscription, so that anything read afterwards (GetOperation) is not older than the first event.
 */
export async function subscribeOpEvents(nc: NatsConnection, subject: string): Promise<EventSource> {
  try {
    const sub = nc.subscribe(subject);
    await nc.flush();
    const events = decode(sub);
    return {
      subject,
      [Symbol.asyncIterator]: () => events,
      close: async () => {
        sub.unsubscribe();
        await closeNats(nc);
      },
    };
  } catch (e) {
    await closeNats(nc);
    throw e;
  }
}
