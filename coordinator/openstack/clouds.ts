/**
 * Which OpenStack cloud to talk to and how, found the way openstacksdk and the `openstack` CLI find
 * it: `clouds.yaml` (with `secure.yaml` merged in) on the usual search path, a cloud chosen by name,
 * `OS_CLOUD`, the `OS_*` environment variables, or the file's only cloud. Raw dictionaries are
 * compiled once into a {@link CloudConfig}; errors name the file and the key path
 * (`/etc/openstack/clouds.yaml: clouds.lab.auth.auth_url: required for auth_type password`) and
 * never a value, so secrets cannot leak through them.
 *
 * Honoured keys (per cloud, `-` and `_` alike; auth plugin options inside `auth:` or beside it):
 * - `auth_type` (`auth_plugin`): `password`/`v3password`, `v3applicationcredential`
 *   (`application_credential`), `token`/`v3token` (Keystone token), `admin_token`
 *   (`token_endpoint`), `http_basic`, `none`. Without one: `admin_token` when there is a token and an
 *   endpoint but no auth_url, `token` with a token and an auth_url, `v3applicationcredential` with an
 *   application credential, else `password` (openstacksdk's default).
 * - `auth`: `auth_url`, `username`/`user_id`, `password`, `user_domain_name`/`_id`,
 *   `project_name`/`project_id` (`tenant_*`), `project_domain_name`/`_id`, `domain_name`/`_id`
 *   (both domains when project-scoped, else the scope), `default_domain_name`/`_id`,
 *   `system_scope`, `application_credential_id`/`_name`/`_secret`, `token` (`auth_token`),
 *   `endpoint` (`url`).
 * - `region_name`, `regions` (names or `{name, values}`), `interface` (`endpoint_type`),
 *   `identity_api_version` (3 only), `api_timeout` (seconds).
 * - Per service (`baremetal`, `compute`, `placement`, `image`): `<service>_endpoint_override`
 *   (else `<service>_endpoint`) beats the catalog; `<service>_interface`, `<service>_region_name`,
 *   `<service>_api_version`.
 * - TLS: `cacert`, `cert` + `key`, `verify: false` or `insecure: true` (insecure wins).
 *
 * Files: `$OS_CLIENT_CONFIG_FILE`, then `clouds.{yaml,yml,json}` in {@link cloudSearchDirs}; the
 * first found wins. `secure.*` is searched the same way (`$OS_CLIENT_SECURE_FILE` first) and
 * merged over it, key by key. A file we may not read is skipped, as openstacksdk does; a syntax
 * error is not (openstacksdk skips those too, silently choosing another file or none).
 *
 * Environment: `OS_CLOUD` chooses a cloud; otherwise any other `OS_*` variable makes a cloud named
 * `envvars` (`OS_CLOUD_NAME`), each variable a key (`OS_AUTH_URL` → `auth_url`,
 * `OS_BAREMETAL_ENDPOINT_OVERRIDE` → `baremetal_endpoint_override`, `OS_INSECURE`, `OS_CACERT`,
 * ...). `OS_REGION_NAME` also picks the region of a file cloud. File clouds do not take other
 * `OS_*` values (openstacksdk does not merge them either; only the `openstack` CLI does).
 *
 * Without Keystone there is no catalog: a service's endpoint is its override, else `auth.endpoint`
 * for one service only: baremetal for `none` and `http_basic` (standalone Ironic, as bifrost
 * configures openstacksdk), compute for `admin_token` (a noauth2 Nova reached with
 * `X-Auth-Token: admin:admin`). Using one endpoint for every service, as keystoneauth would, sends
 * Placement and Glance calls to Ironic or Nova.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { TenksError, type FieldError } from '../../common/index.js';
import { compileAuth } from './cloud-auth.js';
import {
  SERVICE_TYPES,
  type CloudConfig,
  type CloudLookupOptions,
  type EndpointInterface,
  type ServiceSettings,
  type ServiceType,
} from './cloud-config.js';
import {
  cloudSearchDirs,
  environmentCloud,
  fieldError,
  FILE_SUFFIXES,
  firstFile,
  isDict,
  mergeDicts,
  nonEmpty,
  normalizeKeys,
  type Dict,
  type FoundFile,
} from './clouds-yaml.js';
import { compileUrl, RawCloud } from './raw-cloud.js';

/** Options for {@link loadCloudConfig}. */
export type LoadCloudOptions = CloudLookupOptions;

/**
 * Finds and compiles one cloud: `name` if given, else `OS_CLOUD`, else the OS_* variables, else the
 * only cloud of clouds.yaml. NOT_FOUND names the cloud and where it looked; INVALID_SPEC names the
 * file and key; UNSUPPORTED for auth types and features tenks does not implement.
 */
export async function loadCloudConfig(name: string | null, o: LoadCloudOptions): Promise<CloudConfig> {
  const env = o.env ?? process.env;
  const cwd = o.cwd ?? process.cwd();
  const dirs = o.searchDirs ?? cloudSearchDirs(env, cwd);
  const candidates = (base: string, envKey: string): { path: string; explicit: string | null }[] => {
    const list: { path: string; explicit: string | null }[] = [];
    const override = env[envKey];
    if (override) list.push({ path: isAbsolute(override) ? override : resolve(cwd, override), explicit: envKey });
    for (const d of dirs) for (const s of FILE_SUFFIXES) list.push({ path: join(d, base + s), explicit: null });
    return list;
  };
  const main = await firstFile(candidates('clouds', 'OS_CLIENT_CONFIG_FILE'), o.log);
  const secure = await firstFile(candidates('secure', 'OS_CLIENT_SECURE_FILE'), o.log);
  const clouds = (f: FoundFile | null): Dict => {
    if (!f) return {};
    const c = f.doc.clouds;
    if (c === undefined || c === null) return {};
    if (!isDict(c)) throw fieldError(f.path, 'clouds', 'must be a mapping of cloud names to clouds');
    for (const [n, v] of Object.entries(c))
      if (!isDict(v)) throw fieldError(f.path, `clouds.${n}`, 'must be a mapping');
    return c;
  };
  const fileClouds = clouds(main);
  const secureClouds = clouds(secure);
  const names = [...new Set([...Object.keys(fileClouds), ...Object.keys(secureClouds)])];
  const envCloud = environmentCloud(env);
  const envName = env.OS_CLOUD_NAME ?? 'envvars';
  if (envCloud && names.includes(envName)) {
    throw new TenksError(
      'INVALID_SPEC',
      `${main?.path ?? secure?.path ?? 'clouds.yaml'} defines a cloud named '${envName}', the name of the cloud made of OS_* variables`,
      { hint: 'rename that cloud, or set OS_CLOUD_NAME to another name' },
    );
  }
  const where = (): string => {
    const files = [main?.path, secure?.path].filter((p): p is string => p !== undefined);
    if (files.length > 0) return `${files.join(' and ')} (clouds: ${names.length > 0 ? names.join(', ') : 'none'})`;
    return `no clouds.yaml found; searched ${dirs.map((d) => join(d, 'clouds.{yaml,yml,json}')).join(', ')}`;
  };

  let chosen = name ?? nonEmpty(env.OS_CLOUD);
  if (chosen === null) {
    if (envCloud) chosen = envName;
    else if (names.length === 1) chosen = names[0] ?? null;
    else if (names.length === 0) {
      throw new TenksError('NOT_FOUND', `no OpenStack cloud configured: no OS_* variables, and ${where()}`, {
        hint: 'write a clouds.yaml and set OS_CLOUD (or pass the cloud name), or set OS_AUTH_URL and friends',
      });
    } else {
      throw new TenksError('INVALID_SPEC', `several clouds are defined and none is chosen: ${where()}`, {
        hint: 'set OS_CLOUD or pass the cloud name',
      });
    }
  }
  if (chosen === null) throw new TenksError('INTERNAL', 'no cloud chosen');

  let raw: RawCloud;
  if (envCloud && chosen === envName) {
    raw = new RawCloud(envName, normalizeKeys(envCloud), 'environment', true);
  } else {
    const f = fileClouds[chosen];
    const s = secureClouds[chosen];
    if (!isDict(f) && !isDict(s)) {
      throw new TenksError('NOT_FOUND', `cloud '${chosen}' not found: ${where()}`, {
        hint: 'check the name (OS_CLOUD or the cloud option), or add the cloud to clouds.yaml',
      });
    }
    const merged = mergeDicts(isDict(f) ? f : {}, isDict(s) ? s : {});
    const source = [isDict(f) ? main?.path : undefined, isDict(s) ? secure?.path : undefined]
      .filter((p): p is string => p !== undefined)
      .join(' + ');
    raw = new RawCloud(chosen, merged, source, false);
  }
  const config = compileCloud(raw, nonEmpty(env.OS_REGION_NAME));
  o.log.debug('openstack cloud chosen', { cloud: config.name, source: config.source, authType: config.auth.type });
  return config;
}

function compileRegions(r: RawCloud, selected: string | null): { region: string | null; values: Dict } {
  const regions = r.top.regions;
  const first = (s: string | null): string | null => nonEmpty(s?.split(',')[0]?.trim());
  const wanted = first(selected) ?? first(r.str('region_name'));
  if (regions === undefined || regions === null) return { region: wanted, values: {} };
  if (!Array.isArray(regions)) throw r.error('regions', false, 'must be a list of region names or {name, values}');
  const list = regions.map((x: unknown, i): { name: string; values: Dict } => {
    if (typeof x === 'string') return { name: x, values: {} };
    if (isDict(x) && typeof x.name === 'string' && (x.values === undefined || isDict(x.values))) {
      return { name: x.name, values: x.values ?? {} };
    }
    throw r.error(`regions[${i}]`, false, 'must be a region name or {name, values}');
  });
  if (wanted === null) return { region: list[0]?.name ?? null, values: list[0]?.values ?? {} };
  const hit = list.find((x) => x.name === wanted);
  if (!hit) {
    throw r.error(
      'region_name',
      false,
      `'${wanted}' is not one of the cloud's regions (${list.map((x) => x.name).join(', ')})`,
    );
  }
  return { region: hit.name, values: hit.values };
}

function compileInterface(r: RawCloud, key: string): EndpointInterface | null {
  const v = r.str(key);
  if (v === null) return null;
  const i = v.toLowerCase().replace(/url$/, '');
  if (i === 'public' || i === 'internal' || i === 'admin') return i;
  throw r.error(key, false, 'must be public, internal or admin');
}

/** Service type keys: the official type and os-service-types' aliases (with `-` as `_`). */
const SERVICE_KEYS: Readonly<Record<ServiceType, readonly string[]>> = {
  baremetal: ['baremetal', 'bare_metal'],
  compute: ['compute'],
  placement: ['placement'],
  image: ['image'],
};

function compileServices(r: RawCloud, defaultInterface: EndpointInterface, region: string | null) {
  const pick = (st: ServiceType, key: string): { key: string; value: string | null } => {
    for (const alias of SERVICE_KEYS[st]) {
      const k = `${alias}_${key}`;
      const v = r.str(k);
      if (v !== null) return { key: k, value: v };
    }
    return { key: `${st}_${key}`, value: null };
  };
  const out = {} as Record<ServiceType, ServiceSettings>;
  for (const st of SERVICE_TYPES) {
    const override = pick(st, 'endpoint_override');
    const legacy = pick(st, 'endpoint');
    const ep = override.value !== null ? override : legacy;
    const iface = pick(st, 'interface').value !== null ? pick(st, 'interface') : pick(st, 'endpoint_type');
    const version = pick(st, 'api_version');
    out[st] = {
      endpointOverride: compileUrl(r, ep.key, ep.value, false),
      interface: (iface.value === null ? null : compileInterface(r, iface.key)) ?? defaultInterface,
      regionName: pick(st, 'region_name').value ?? region,
      apiVersion: version.value,
    };
  }
  return out;
}

function compileCloud(base: RawCloud, selectedRegion: string | null): CloudConfig {
  for (const k of ['profile', 'cloud'] as const) {
    if (base.top[k] !== undefined) {
      throw new TenksError('UNSUPPORTED', `${base.source}: ${base.path(k, false)}: vendor profiles are not supported`, {
        field: base.path(k, false),
        hint: "write the profile's auth_url, region and endpoints into the cloud itself",
      });
    }
  }
  const { region, values } = compileRegions(base, selectedRegion);
  const r =
    Object.keys(values).length > 0
      ? new RawCloud(base.name, mergeDicts(base.top, normalizeKeys(values)), base.source, base.fromEnv)
      : base;
  const identity = r.str('identity_api_version');
  if (identity !== null && !/^3(\.\d+)?$/.test(identity)) {
    throw r.error('identity_api_version', false, `Keystone v${identity} is not supported; tenks speaks v3`);
  }
  const iface = compileInterface(r, r.str('interface') !== null ? 'interface' : 'endpoint_type') ?? 'public';
  const insecure = r.bool('insecure');
  const verify = r.bool('verify');
  const cert = r.str('cert');
  const key = r.str('key');
  if (key !== null && cert === null) throw r.error('cert', false, 'required with key');
  let apiTimeoutMs: number | null = null;
  const timeout = r.str('api_timeout');
  if (timeout !== null) {
    const s = Number(timeout);
    if (!Number.isFinite(s) || s <= 0) throw r.error('api_timeout', false, 'must be a number of seconds above 0');
    apiTimeoutMs = Math.round(s * 1000);
  }
  const problems: FieldError[] = [];
  for (const st of SERVICE_TYPES) {
    const v = r.str(`${st}_api_version`);
    if (v !== null && !/^\d+(\.\d+)?$/.test(v) && v !== 'latest') {
      problems.push({ field: r.path(`${st}_api_version`, false), message: 'must be a version like 1 or 1.46' });
    }
  }
  const first = problems[0];
  if (first) throw fieldError(r.source, first.field, first.message);
  return {
    name: r.name,
    source: r.source,
    auth: compileAuth(r),
    regionName: region,
    services: compileServices(r, iface, region),
    tls: { caFile: r.str('cacert'), certFile: cert, keyFile: key, verify: insecure !== true && verify !== false },
    apiTimeoutMs,
  };
}
