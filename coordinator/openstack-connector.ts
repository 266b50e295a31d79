/**
 * How the coordinator reaches clouds for enrolment: a spec's `cloud`, else the config's
 * `openstack.cloud`, else whatever OpenStack tools would pick (OS_CLOUD, OS_* variables, a
 * clouds.yaml with one cloud). Connections (tokens, negotiated versions) are kept a few minutes.
 */
import { isTenksError, TenksError, type Logger } from '../common/index.js';
import type { CoordinatorConfig } from './config.js';
import type { OpenStackConnector } from './enrolment/index.js';
import { connectCloud, loadCloudConfig, type CloudConfig, type OpenStackConnection } from './openstack/index.js';

/** How long a connection is reused before connecting again. */
const REUSE_MS = 5 * 60_000;

/** Where a cloud's name comes from, for the hint of a name that is not found. */
const CLOUD_NAMED_IN = "the spec's cloud, or openstack.cloud in the coordinator config";

/**
 * The cloud's configuration; null when no cloud is named and none is found (enrolment is simply not
 * configured). A named cloud that is not found is INVALID_SPEC naming `cloud`.
 */
async function findCloud(name: string | null, env: NodeJS.ProcessEnv, log: Logger): Promise<CloudConfig | null> {
  try {
    return await loadCloudConfig(name, { env, log });
  } catch (e) {
    if (!(isTenksError(e) && e.code === 'NOT_FOUND')) throw e;
    if (name === null) return null;
    throw new TenksError('INVALID_SPEC', e.message, {
      cause: e,
      field: 'cloud',
      hint: `add cloud '${name}' to the coordinator's clouds.yaml (openstack.clouds_file), or fix ${CLOUD_NAMED_IN}`,
    });
  }
}

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
    const conn = findCloud(name, env, log).then((found) =>
      found === null ? null : connectCloud(found, { log, timeoutMs: config.timeoutMs, ...(signal ? { signal } : {}) }),
    );
    cache.set(key, { atMs: Date.now(), conn });
    // Neither a failure nor "not configured" is kept: the next call looks again.
    conn.then(
      (c) => {
        if (c === null) cache.delete(key);
      },
      () => cache.delete(key),
    );
    return conn;
  };
}
