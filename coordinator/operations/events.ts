/** Publishes an operation's progress events on NATS (fire and forget: events are for watching). */
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeJson, opEventsSubject, type Logger, type OpEvent } from '../../common/index.js';

/** Where events go. */
export interface EventSink {
  publish(e: OpEvent): void;
  /** The subject of an operation's events. */
  subject(opId: string): string;
}

/** Events on NATS subjects `<prefix>.<op id>.events`. */
export class NatsEventSink implements EventSink {
  private failing = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  subject(opId: string): string {
    return opEventsSubject(opId, this.prefix);
  }

  publish(e: OpEvent): void {
    try {
      this.nc.publish(this.subject(e.op), encodeJson(e));
      this.failing = false;
    } catch (err) {
      // Never let watching break doing: the operation record still has every result.
      if (!this.failing) this.log.warn('progress event not published', { error: String(err) });
      this.failing = true;
    }
  }
}
