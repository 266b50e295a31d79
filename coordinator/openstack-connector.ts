/**
 * How the coordinator reaches clouds for enrolment: a spec's `cloud`, else the config's
 * `openstack.cloud`, else whatever OpenStack tools would pick (OS_CLOUD, OS_* variables, a
 * clouds.yaml with one cloud). Connections (tokens, negotiated versions) are kept a few minutes.
 */
import { isTenksError, type Logger } from '../common/index.js';
import type { CoordinatorConfig } from './config.js';
import type { OpenStackConnector } from './enrolment/index.js';
import { connectOpenStack, type OpenStackConnection } from './openstack/index.js';

/** How long a connection is reused before connecting again. */
const REUSE_MS = 5 * 60_000;

/** A connector for the coordinator's config; null results mean "no cloud configured anywhere". */
export function openStackConnector(config: CoordinatorConfig['openstack'], log: Logger): OpenStackConnector {
  const cache = new Map<string, { atMs: number; conn: Promise<OpenStackConnection | null> }>();
  const env: NodeJS.ProcessEnv =
    config.cloudsFile !== null ? { ...process.env, OS_CLIENT_CONFIG_FILE: config.cloudsFile } : process.env;
  return async (cloud, signal) => {
    const name = cloud ?? config.cloud;
    const key = name ?? '';
    const hit = cache.get(key);
    if (hit && Date.now() - hit.atMs < REUSE_MS) return hit.conn;
    const conn = connectOpenStack(
      { cloud: name },
      { env, log, timeoutMs: config.timeoutMs, ...(signal ? { signal } : {}) },
    ).catch((e: unknown) => {
      // Nothing named and nothing found: enrolment is simply not configured.
      if (name === null && isTenksError(e) && e.code === 'NOT_FOUND') return null;
      throw e;
    });
    cache.set(key, { atMs: Date.now(), conn });
    conn.catch(() => cache.delete(key));
    return conn;
  };
}
