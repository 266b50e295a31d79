/**
 * Which failed agent calls are tried again, and why. One table, keyed by tenks error code: every
 * other decision in the executor follows it.
 */
import { abortError, type ErrorCode, onAbort, isTenksError, TenksError } from '../../common/index.js';

/** Whether a code is worth another attempt, with the reason beside it. */
export const RETRY: Readonly<Record<ErrorCode, { retry: boolean; why: string }>> = {
  UNAVAILABLE: { retry: true, why: 'the agent or libvirtd is restarting or briefly unreachable' },
  TIMEOUT: { retry: true, why: 'a deadline passed; every action is idempotent, so running it again is safe' },
  CONFLICT: {
    retry: false,
    why: 'someone else holds or changed the object; the next apply plans from what is there then',
  },
  NOT_FOUND: { retry: false, why: 'the thing is gone; trying again finds it gone again' },
  ALREADY_EXISTS: { retry: false, why: 'a name clash (e.g. a foreign domain) needs a person' },
  INVALID_SPEC: { retry: false, why: 'the request is wrong and stays wrong' },
  CAPACITY: { retry: false, why: 'the host is full; waiting does not free it' },
  PERMISSION: { retry: false, why: 'certificates or credentials do not become valid by waiting' },
  CANCELLED: { retry: false, why: 'the operation was cancelled' },
  UNSUPPORTED: { retry: false, why: 'the host cannot do it' },
  INTERNAL: { retry: false, why: 'a bug or an unexpected failure: repeating it hides it' },
};

/** Retry settings. */
export interface RetryPolicy {
  attempts: number;
  /** First delay; doubled each attempt, up to 10 s. */
  backoffMs: number;
}

/**
 * Runs `task`, again after a backoff while it fails with a retryable code and attempts remain.
 * `onRetry` hears each failure that will be retried; `wake`, when given, resolves when what was
 * unavailable is back, which cuts an UNAVAILABLE backoff short (it is aborted when the wait ends).
 */
export async function withRetry<T>(
  task: () => Promise<T>,
  policy: RetryPolicy,
  signal: AbortSignal,
  onRetry: (e: TenksError, attempt: number) => void,
  wake?: (signal: AbortSignal) => Promise<void>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw abortError(signal);
    try {
      return await task();
    } catch (e) {
      const err = isTenksError(e)
        ? e
        : new TenksError('INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
      if (isAborted(signal)) throw abortError(signal);
      if (!RETRY[err.code].retry || attempt >= policy.attempts) throw err;
      onRetry(err, attempt);
      const delay = Math.min(policy.backoffMs * 2 ** (attempt - 1), 10_000);
      // An unreachable agent that comes back ends the wait at once (`wake`), not at the next backoff.
      const stopWake = new AbortController();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          off();
          stopWake.abort();
          resolve();
        };
        const t = setTimeout(done, delay);
        const off = onAbort(signal, done);
        if (wake && err.code === 'UNAVAILABLE') wake(stopWake.signal).then(done, () => undefined);
      });
    }
  }
}

/** Read through a call, so a check after an await is not narrowed away by one before it. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
