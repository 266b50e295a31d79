/**
 * Request bodies: read as JSON within a size limit, or drained unread before the answer goes out
 * (so keep-alive connections stay usable and no unread bytes reset the connection).
 */
import type { IncomingMessage } from 'node:http';
import { MessageId, RedfishError } from './errors.js';

/** Largest request body read; a larger one is answered 413 (after it is drained). */
const MAX_BODY_BYTES = 1 << 20;
/** How much of an unread body is drained before answering, and for how long; beyond, the answer goes anyway. */
const DRAIN_BYTES = 64 * 1024 * 1024;
const DRAIN_MS = 10_000;

/** Reads and discards what is left of a request body, within {@link DRAIN_BYTES} and {@link DRAIN_MS}. */
export function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let size = 0;
    const done = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > DRAIN_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MS);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}

/**
 * The request body as JSON (null when empty). Reads with listeners rather than an async iterator:
 * leaving the iterator early destroys the request and its socket, and the 413 would never be sent.
 */
export async function readBody(req: IncomingMessage): Promise<unknown> {
  const raw = await new Promise<Buffer>((resolve, reject) => {
    if (req.readableEnded) {
      resolve(Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onEarlyEnd);
      req.off('close', onEarlyEnd);
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        stop();
        reject(new RedfishError(413, 'request body larger than 1 MiB', MessageId.TOO_LARGE));
      } else chunks.push(c);
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    // The client went away before the end of its body ('aborted'): its fault, and nobody is left
    // to answer, so not a server failure.
    const onEarlyEnd = (): void => {
      stop();
      reject(new RedfishError(400, 'the request body ended early', MessageId.MALFORMED_JSON));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onEarlyEnd);
    req.once('close', onEarlyEnd);
  });
  const text = raw.toString('utf8');
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RedfishError(400, 'the request body is not valid JSON', MessageId.MALFORMED_JSON);
  }
}

/** `body` as a JSON object; 400 naming `what` when it is anything else. */
export function jsonObject(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RedfishError(400, `${what}: the body must be a JSON object`, MessageId.MALFORMED_JSON);
  return body as Record<string, unknown>;
}
