/**
 * Helpers of the integration tests: an independent libvirt connection to check what the agent did,
 * cleanup of what a run created in the (process-wide) `test:///default` driver, and error checks.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TenksError, type ErrorCode } from '../../common/errors.js';
import { Connection } from '../../agent/native/index.js';

/** libvirt's in-memory test driver: every connection in this process shares its state. */
export const TEST_URI = 'test:///default';

/** A short random suffix, so names of one run never collide with another's. */
export function suffix(): string {
  return randomBytes(4).toString('hex');
}

/** A libvirt connection of the test's own (not the agent's), to check and clean up. */
export function openLibvirt(uri = TEST_URI): Promise<Connection> {
  return Connection.open(uri);
}

/** Names of the volumes in a pool (empty when the pool does not exist). */
export async function poolVolumeNames(conn: Connection, pool: string): Promise<string[]> {
  const p = await conn.findPool(pool);
  if (!p) return [];
  await p.refresh().catch(() => undefined);
  return (await p.volumes()).map((v) => v.name).sort();
}

/** Names of the libvirt domains whose name contains `part`. */
export async function domainNames(conn: Connection, part: string): Promise<string[]> {
  return (await conn.listDomains()).map((d) => d.name).filter((n) => n.includes(part));
}

/** Destroys and undefines every domain whose name contains `part`; deletes the pool's volumes and the pool. */
export async function cleanupLibvirt(conn: Connection, o: { domainPart: string; pool?: string }): Promise<void> {
  for (const d of await conn.listDomains()) {
    if (!d.name.includes(o.domainPart)) continue;
    if (await d.isActive().catch(() => false)) await d.destroy().catch(() => undefined);
    await d.undefine().catch(() => undefined);
  }
  if (o.pool === undefined) return;
  const p = await conn.findPool(o.pool);
  if (!p) return;
  for (const v of await p.volumes().catch(() => [])) await v.delete().catch(() => undefined);
  if (await p.isActive().catch(() => false)) await p.destroy().catch(() => undefined);
  await p.undefine().catch(() => undefined);
}

/** Awaits `p`, which must reject with a TenksError of `code`; returns that error. */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<TenksError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected a ${code} error, but the call succeeded`);
  assert.ok(
    err instanceof TenksError,
    `expected a TenksError, got ${err instanceof Error ? err.stack : JSON.stringify(err)}`,
  );
  assert.equal(err.code, code, `error code (message: ${err.message})`);
  return err;
}

/** True when the error names `field` in its field, its details or its message. */
export function namesField(err: TenksError, field: string): boolean {
  return err.field === field || err.details.some((d) => d.field === field) || err.message.includes(field);
}
