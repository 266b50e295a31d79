/** An assertion on TenksErrors for tests of any tier (it loads nothing native). */
import assert from 'node:assert/strict';
import { TenksError, type ErrorCode } from '../../common/errors.js';

/** Awaits `p`, which must reject with a TenksError of `code`; returns that error. */
export async function tenksRejects(p: Promise<unknown>, code: ErrorCode): Promise<TenksError> {
  const err = await p.then(
    () => assert.fail(`expected a ${code} error, but the call succeeded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TenksError, `expected a TenksError, got ${String(err)}`);
  assert.equal(err.code, code, `error code (message: ${err.message})`);
  return err;
}
