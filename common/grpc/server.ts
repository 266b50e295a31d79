import { setMaxListeners } from 'node:events';
import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { TenksError } from '../errors.js';
import type { Logger } from '../logger.js';
import { toWireError } from './errors.js';

/** Context a handler gets: an AbortSignal that fires when the client cancels or its deadline passes. */
export interface CallContext {
  signal: AbortSignal;
  /** Address of the peer, for logs. */
  peer: string;
  /** The first value of a request metadata key, or null. */
  header(key: string): string | null;
}

function contextOf(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): {
  ctx: CallContext;
  done: () => void;
} {
  const ac = new AbortController();
  // One call fans out into many awaited steps that each listen for the abort.
  setMaxListeners(0, ac.signal);
  const onCancel = (): void => {
    ac.abort(new TenksError('CANCELLED', 'the client cancelled the call'));
  };
  call.once('cancelled', onCancel);
  let timer: NodeJS.Timeout | undefined;
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() - Date.now() : deadline - Date.now();
  if (Number.isFinite(ms) && ms > 0) {
    timer = setTimeout(() => {
      ac.abort(new TenksError('TIMEOUT', 'the call deadline passed'));
    }, ms);
    timer.unref();
  }
  return {
    ctx: {
      signal: ac.signal,
      peer: call.getPeer(),
      header: (key) => {
        const v = call.metadata.get(key)[0];
        return typeof v === 'string' ? v : null;
      },
    },
    done: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}

/** Adapts an async handler to grpc-js: errors become tenks wire errors, never UNKNOWN. */
export function unary<Req, Res>(
  log: Logger,
  method: string,
  handler: (req: Req, ctx: CallContext) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    const { ctx, done } = contextOf(call);
    const t0 = performance.now();
    let pending: Promise<Res>;
    try {
      pending = handler(call.request, ctx);
    } catch (e) {
      // A handler that throws before returning its promise: grpc-js would answer UNKNOWN.
      pending = Promise.reject(e instanceof Error ? e : new TenksError('INTERNAL', String(e)));
    }
    pending
      .then(
        (res) => {
          done();
          log.debug('call', { method, ms: Math.round((performance.now() - t0) * 10) / 10 });
          callback(null, res);
        },
        (e: unknown) => {
          done();
          const wire = toWireError(e);
          if (wire.code === status.INTERNAL)
            log.error('call failed', {
              method,
              error: wire.details,
              cause: e instanceof Error && e.cause instanceof Error ? e.cause.message : undefined,
            });
          else log.debug('call refused', { method, code: wire.code, error: wire.details });
          callback(wire, null);
        },
      )
      .catch((e: unknown) => {
        // The reply itself failed (the call is gone, the message would not encode): nobody to tell.
        log.warn('call reply failed', { method, peer: ctx.peer, error: String(e) });
      });
  };
}

/** Adapts an async generator to a server-streaming handler; the generator's `finally` runs on cancel. */
export function serverStream<Req, Res>(
  log: Logger,
  method: string,
  handler: (req: Req, ctx: CallContext) => AsyncIterable<Res>,
): (call: ServerWritableStream<Req, Res>) => void {
  return (call) => {
    const { ctx, done } = contextOf(call);
    const run = async (): Promise<void> => {
      for await (const item of handler(call.request, ctx)) {
        if (ctx.signal.aborted) break;
        if (!call.write(item)) await drained(call, ctx.signal);
      }
    };
    run()
      .then(
        () => {
          done();
          call.end();
        },
        (e: unknown) => {
          done();
          if (ctx.signal.aborted) return;
          const wire = toWireError(e);
          log.debug('stream failed', { method, error: wire.details });
          call.emit('error', wire);
        },
      )
      .catch((e: unknown) => {
        log.warn('stream end failed', { method, peer: ctx.peer, error: String(e) });
      });
  };
}

/** Resolves when `call` can take more, or when `signal` aborts (a cancelled call never drains). */
function drained(call: ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const finish = (): void => {
      call.removeListener('drain', finish);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    call.once('drain', finish);
    signal.addEventListener('abort', finish, { once: true });
  });
}

/** Marks an object literal of handlers as a grpc-js implementation. */
export function implementation<T extends UntypedServiceImplementation>(impl: T): T {
  return impl;
}
