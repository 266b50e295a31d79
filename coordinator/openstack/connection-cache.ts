/**
 * The coordinator's connections to clouds, by cloud name: a spec's `cloud`, else the config's
 * `openstack.cloud`, else whatever OpenStack tools would pick (OS_CLOUD, OS_* variables, a
 * clouds.yaml with one cloud). A connection (tokens, negotiated versions) is kept a few minutes.
 */
import { isTenksError, TenksError, type Logger } from '../../common/index.js';
import type { CloudConfig } from './cloud-config.js';
import { loadCloudConfig } from './clouds.js';
import { connectCloud, type OpenStackConnection } from './connection.js';
import type { OpenStackConnector } from './types.js';

/** The coordinator's `openstack` settings. */
export interface CloudSettings {
  /** The cloud of specs that name none; null: what OpenStack tools would pick. */
  cloud: string | null;
  /** A clouds.yaml read first (as OS_CLIENT_CONFIG_FILE), or null. */
  cloudsFile: string | null;
  /** Deadline of one request, unless the cloud sets `api_timeout`. */
  timeoutMs: number;
}

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

/** Connections for the coordinator's settings, each reused for a few minutes. */
export function cachedCloudConnector(config: CloudSettings, log: Logger): OpenStackConnector {
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
