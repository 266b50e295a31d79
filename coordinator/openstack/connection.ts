/**
 * From a cloud name to working clients: find and compile the cloud, read its TLS files,
 * authenticate (Keystone) or take the fixed credentials, resolve each service's endpoint (override,
 * else catalog, else `auth.endpoint` for the one service it stands for) and negotiate Ironic's
 * microversion. A service with no endpoint is null.
 */
import { readFile } from 'node:fs/promises';
import { TenksError, type Logger } from '../../common/index.js';
import { endpointServiceOf, SERVICE_TYPES, type CloudConfig, type ServiceType } from './cloud-config.js';
import { loadCloudConfig } from './clouds.js';
import { BasicAuth, StaticToken } from './credentials.js';
import { GlanceClient } from './glance.js';
import type { Credentials } from './service-client.js';
import { Transport, type TlsMaterial } from './transport.js';
import { IronicClient } from './ironic.js';
import { catalogEndpoint, KeystoneSession, type CatalogService } from './keystone.js';
import { NovaClient } from './nova.js';
import { PlacementClient } from './placement.js';
import type { OpenStackClients } from './types.js';

/** Default deadline of one request when the cloud sets no `api_timeout`. */
export const DEFAULT_OPENSTACK_TIMEOUT_MS = 30_000;

/** Options of {@link connectOpenStack}. */
export interface ConnectOptions {
  /** Environment (OS_*, HOME, XDG_*); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Working directory (first on the clouds.yaml search path); default `process.cwd()`. */
  cwd?: string;
  log: Logger;
  /** Deadline of one request, unless the cloud sets `api_timeout`. Default 30 s. */
  timeoutMs?: number;
  /** Cancels connecting (authentication, version discovery). */
  signal?: AbortSignal;
  /** Directories searched for clouds.yaml instead of the standard ones (tests). */
  searchDirs?: readonly string[];
  /** Interval of Ironic provision-state polls; default 500 ms. */
  ironicPollIntervalMs?: number;
  /** Page size of Ironic lists; default 500. */
  ironicPageSize?: number;
}

/** The clients of one cloud, with what they were made from. */
export interface OpenStackConnection extends OpenStackClients {
  /** The compiled cloud (secrets inside print as `******`). */
  readonly config: CloudConfig;
  /** The endpoint each service uses, or null. */
  readonly endpoints: Readonly<Record<ServiceType, string | null>>;
  /** Closes idle connections. The clients still work afterwards, opening new ones. */
  close(): void;
}

async function readTlsFile(config: CloudConfig, key: string, path: string | null): Promise<Buffer | null> {
  if (path === null) return null;
  try {
    return await readFile(path);
  } catch (e) {
    throw new TenksError('INVALID_SPEC', `${config.source}: ${key}: cannot read '${path}': ${(e as Error).message}`, {
      cause: e,
      field: key,
    });
  }
}

async function readTls(config: CloudConfig): Promise<TlsMaterial> {
  const [ca, cert, key] = await Promise.all([
    readTlsFile(config, 'cacert', config.tls.caFile),
    readTlsFile(config, 'cert', config.tls.certFile),
    readTlsFile(config, 'key', config.tls.keyFile),
  ]);
  return { ca, cert, key, verify: config.tls.verify };
}

/** Why a catalog had no endpoint for a service, when it has the service at all. */
function catalogMiss(catalog: readonly CatalogService[], type: string): string[] {
  return catalog
    .filter((s) => s.type === type)
    .flatMap((s) => s.endpoints.map((e) => `${e.interface}@${e.region ?? '(no region)'}`));
}

/**
 * Connects to one cloud: `selection.cloud`, else `OS_CLOUD`, else the OS_* variables, else the
 * only cloud of clouds.yaml (see clouds.ts for every key honoured). Authenticates at once, so bad
 * credentials fail here; negotiates Ironic's microversion (UNSUPPORTED when Ironic is too old).
 */
export async function connectOpenStack(
  selection: { cloud?: string | null },
  o: ConnectOptions,
): Promise<OpenStackConnection> {
  const config = await loadCloudConfig(selection.cloud ?? null, {
    log: o.log,
    ...(o.env === undefined ? {} : { env: o.env }),
    ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
    ...(o.searchDirs === undefined ? {} : { searchDirs: o.searchDirs }),
  });
  return connectCloud(config, o);
}

/** Connects to a cloud already found and compiled ({@link loadCloudConfig}); see {@link connectOpenStack}. */
export async function connectCloud(
  config: CloudConfig,
  o: Omit<ConnectOptions, 'env' | 'cwd' | 'searchDirs'>,
): Promise<OpenStackConnection> {
  const log = o.log.child({ cloud: config.name });
  const timeoutMs = config.apiTimeoutMs ?? o.timeoutMs ?? DEFAULT_OPENSTACK_TIMEOUT_MS;
  const transport = new Transport({ tls: await readTls(config), connectTimeoutMs: timeoutMs });
  try {
    const auth = config.auth;
    let credentials: Credentials | null = null;
    let catalog: CatalogService[] | null = null;
    switch (auth.type) {
      case 'password':
      case 'token':
      case 'v3applicationcredential': {
        const session = new KeystoneSession({ auth, transport, timeoutMs, log });
        catalog = await session.catalog(o.signal);
        credentials = session;
        break;
      }
      case 'admin_token':
        credentials = new StaticToken(auth.token);
        break;
      case 'http_basic':
        credentials = new BasicAuth(auth.username, auth.password);
        break;
      case 'none':
        break;
    }
    const endpoints = {} as Record<ServiceType, string | null>;
    for (const st of SERVICE_TYPES) {
      const s = config.services[st];
      let ep = s.endpointOverride;
      if (ep === null && catalog !== null) {
        ep = catalogEndpoint(catalog, st, s.interface, s.regionName);
        const offered = ep === null ? catalogMiss(catalog, st) : [];
        if (offered.length > 0) {
          log.warn('service in the catalog, but not at this interface and region', {
            service: st,
            interface: s.interface,
            region: s.regionName,
            offered,
          });
        }
      }
      if (ep === null && catalog === null && 'endpoint' in auth && endpointServiceOf(auth.type) === st)
        ep = auth.endpoint;
      endpoints[st] = ep;
    }
    const common = { transport, credentials, timeoutMs, log };
    const ironic =
      endpoints.baremetal === null
        ? null
        : await IronicClient.connect({
            ...common,
            endpoint: endpoints.baremetal,
            configuredVersion: config.services.baremetal.apiVersion,
            ...(o.ironicPollIntervalMs === undefined ? {} : { pollIntervalMs: o.ironicPollIntervalMs }),
            ...(o.ironicPageSize === undefined ? {} : { pageSize: o.ironicPageSize }),
            ...(o.signal === undefined ? {} : { signal: o.signal }),
          });
    const nova =
      endpoints.compute === null
        ? null
        : new NovaClient({
            ...common,
            endpoint: endpoints.compute,
            configuredVersion: config.services.compute.apiVersion,
          });
    const placement =
      endpoints.placement === null ? null : new PlacementClient({ ...common, endpoint: endpoints.placement });
    const glance = endpoints.image === null ? null : new GlanceClient({ ...common, endpoint: endpoints.image });
    log.info('openstack connected', {
      authType: auth.type,
      ...endpoints,
      ironicMicroversion: ironic?.microversion ?? null,
    });
    return {
      cloud: config.name,
      ironic,
      nova,
      placement,
      glance,
      config,
      endpoints,
      close: () => {
        transport.close();
      },
    };
  } catch (e) {
    transport.close();
    throw e;
  }
}
