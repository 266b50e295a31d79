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
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseDocument, visit } from 'yaml';
import { invalidSpec, TenksError, type FieldError, type Logger } from '../../common/index.js';
import { Secret } from './secret.js';

/** The services tenks uses, by catalog type. */
export const SERVICE_TYPES = ['baremetal', 'compute', 'placement', 'image'] as const;
/** One of {@link SERVICE_TYPES}. */
export type ServiceType = (typeof SERVICE_TYPES)[number];

/** Catalog endpoint interface. */
export type EndpointInterface = 'public' | 'internal' | 'admin';

/** A domain by id or by name. */
export type DomainRef = { id: string } | { name: string };

/** A Keystone user by id, or by name in a domain. */
export type UserRef = { id: string } | { name: string; domain: DomainRef };

/** What a Keystone token is scoped to. */
export type KeystoneScope =
  | { kind: 'project'; project: { id: string } | { name: string; domain: DomainRef } }
  | { kind: 'domain'; domain: DomainRef }
  | { kind: 'system' };

/** How to authenticate, by auth type. */
export type CloudAuth =
  | { type: 'password'; authUrl: string; user: UserRef; password: Secret; scope: KeystoneScope }
  | {
      type: 'v3applicationcredential';
      authUrl: string;
      credential: { id: string } | { name: string; user: UserRef };
      secret: Secret;
    }
  | { type: 'token'; authUrl: string; token: Secret; scope: KeystoneScope }
  | { type: 'admin_token'; token: Secret; endpoint: string | null }
  | { type: 'http_basic'; username: string; password: Secret; endpoint: string | null }
  | { type: 'none'; endpoint: string | null };

/** The auth types tenks implements. */
export type AuthType = CloudAuth['type'];

/** Settings of one service. */
export interface ServiceSettings {
  /** `<service>_endpoint_override` (or `<service>_endpoint`): used instead of the catalog. */
  endpointOverride: string | null;
  /** Catalog interface; default the cloud's `interface`, else `public`. */
  interface: EndpointInterface;
  /** Catalog region; default the cloud's region. */
  regionName: string | null;
  /** `<service>_api_version`, e.g. `1.78` for baremetal: caps the microversion. */
  apiVersion: string | null;
}

/** TLS settings of a cloud (files are read when connecting). */
export interface CloudTls {
  /** CA bundle that signs the cloud's certificates (`cacert`); null for the system CAs. */
  caFile: string | null;
  /** Client certificate (`cert`), with `keyFile`. */
  certFile: string | null;
  keyFile: string | null;
  /** False with `verify: false` or `insecure: true`. */
  verify: boolean;
}

/** A compiled cloud. */
export interface CloudConfig {
  /** Cloud name, or `envvars` (`OS_CLOUD_NAME`) for one from OS_* variables. */
  name: string;
  /** Where it came from, for messages: a file path (`+ secure.yaml`) or `environment`. */
  source: string;
  auth: CloudAuth;
  /** The cloud's region, or null (any). */
  regionName: string | null;
  services: Record<ServiceType, ServiceSettings>;
  tls: CloudTls;
  /** `api_timeout`, or null to use the caller's default. */
  apiTimeoutMs: number | null;
}

/** Where to look, and in what environment. */
export interface CloudLookupOptions {
  /** Environment (OS_*, HOME, XDG_*); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Working directory, first on the search path; default `process.cwd()`. */
  cwd?: string;
  /** Directories to search instead of the standard ones (tests). */
  searchDirs?: readonly string[];
  log: Logger;
}

const FILE_SUFFIXES = ['.yaml', '.yml', '.json'] as const;

/**
 * The directories searched for `clouds.yaml` and `secure.yaml`, in order: the working directory,
 * `$XDG_CONFIG_HOME/openstack`, `~/.config/openstack`, each `$XDG_CONFIG_DIRS` entry
 * (`/etc/xdg`) + `/openstack`, `/etc/openstack`.
 */
export function cloudSearchDirs(env: NodeJS.ProcessEnv, cwd: string): string[] {
  const home = env.HOME ?? homedir();
  const dirs = [cwd];
  if (env.XDG_CONFIG_HOME) dirs.push(join(env.XDG_CONFIG_HOME, 'openstack'));
  dirs.push(join(home, '.config', 'openstack'));
  for (const d of (env.XDG_CONFIG_DIRS ?? '/etc/xdg').split(':')) if (d !== '') dirs.push(join(d, 'openstack'));
  dirs.push('/etc/openstack');
  return [...new Set(dirs.map((d) => resolve(cwd, d)))];
}

type Dict = Record<string, unknown>;

/** The string, or null when absent or empty (an empty variable counts as unset). */
function nonEmpty(s: string | null | undefined): string | null {
  return s === undefined || s === null || s === '' ? null : s;
}

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys with `-` become `_`, recursively (openstacksdk treats them alike). */
function normalizeKeys(d: Dict): Dict {
  const out: Dict = {};
  for (const [k, v] of Object.entries(d)) out[k.replace(/-/g, '_')] = isDict(v) ? normalizeKeys(v) : v;
  return out;
}

/**
 * A whole clouds.yaml / secure.yaml: keys are normalized, but the names of clouds (and of
 * public-clouds profiles) are kept as written, as openstacksdk looks them up verbatim.
 */
function normalizeDocument(d: Dict): Dict {
  const out = normalizeKeys(d);
  for (const [raw, v] of Object.entries(d)) {
    const key = raw.replace(/-/g, '_');
    if ((key === 'clouds' || key === 'public_clouds') && isDict(v))
      out[key] = Object.fromEntries(Object.entries(v).map(([name, c]) => [name, isDict(c) ? normalizeKeys(c) : c]));
  }
  return out;
}

/** Deep merge of mappings; `b` wins. */
function mergeDicts(a: Dict, b: Dict): Dict {
  const out: Dict = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const old = out[k];
    out[k] = isDict(v) && isDict(old) ? mergeDicts(old, v) : v;
  }
  return out;
}

/**
 * Parses clouds.yaml / secure.yaml (JSON too). Numbers keep their source text, as openstacksdk
 * turns them into strings anyway: `baremetal_api_version: 1.50` stays `1.50`, not `1.5`.
 */
function parseConfigText(text: string, path: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw invalidSpec(
      doc.errors.map((e) => ({
        field: `${path}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}`,
        message: e.message.split('\n')[0] ?? e.message,
      })),
    );
  }
  visit(doc, {
    Scalar(_key, node) {
      if ((typeof node.value === 'number' || typeof node.value === 'bigint') && node.source !== undefined) {
        node.value = node.source;
      }
    },
  });
  return doc.toJS() as unknown;
}

interface FoundFile {
  path: string;
  doc: Dict;
}

/** Reads and parses the first file of `candidates` that exists; `explicit` ones must exist. */
async function firstFile(
  candidates: readonly { path: string; explicit: string | null }[],
  log: Logger,
): Promise<FoundFile | null> {
  for (const c of candidates) {
    let text: string;
    try {
      text = await readFile(c.path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (c.explicit !== null) {
        throw new TenksError('NOT_FOUND', `${c.explicit} names '${c.path}', which cannot be read: ${code ?? 'error'}`, {
          cause: e,
          field: c.explicit,
          hint: `fix or unset ${c.explicit}`,
        });
      }
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') continue;
      if (code === 'EACCES' || code === 'EPERM') {
        // As openstacksdk does: a file we may not read is passed over, not fatal.
        log.warn('openstack config file not readable, skipped', { path: c.path });
        continue;
      }
      throw new TenksError('UNAVAILABLE', `cannot read '${c.path}': ${(e as Error).message}`, { cause: e });
    }
    const doc = parseConfigText(text, c.path);
    if (doc === null || doc === undefined) return { path: c.path, doc: {} };
    if (!isDict(doc)) throw fieldError(c.path, '(root)', "must be a mapping with a 'clouds' key");
    return { path: c.path, doc: normalizeDocument(doc) };
  }
  return null;
}

function fieldError(source: string, field: string, message: string, hint?: string): TenksError {
  return new TenksError('INVALID_SPEC', `${source}: ${field}: ${message}`, {
    field,
    details: [{ field, message }],
    ...(hint === undefined ? {} : { hint }),
  });
}

/** OS_* variables that only choose a cloud or a file, and do not make an environment cloud. */
const SELECTORS = new Set([
  'OS_CLOUD',
  'OS_REGION_NAME',
  'OS_CLIENT_CONFIG_FILE',
  'OS_CLIENT_SECURE_FILE',
  'OS_CLOUD_NAME',
]);

/** The cloud made of OS_* variables (`OS_AUTH_URL` → `auth_url`), or null when there is none. */
function environmentCloud(env: NodeJS.ProcessEnv): Dict | null {
  const keys = Object.keys(env).filter(
    // OS_TEST*, OS_STD*, OS_LOG* belong to test runners, as openstacksdk also skips them.
    (k) => k.startsWith('OS_') && !/^OS_(TEST|STD|LOG)/.test(k),
  );
  if (!keys.some((k) => !SELECTORS.has(k))) return null;
  const cloud: Dict = {};
  for (const k of keys) if (!SELECTORS.has(k) || k === 'OS_REGION_NAME') cloud[k.slice(3).toLowerCase()] = env[k];
  return cloud;
}

/** A raw cloud and how to name its keys in messages. */
class RawCloud {
  readonly auth: Dict;

  constructor(
    readonly name: string,
    readonly top: Dict,
    /** File label, or `environment`. */
    readonly source: string,
    /** True for the cloud made of OS_* variables. */
    readonly fromEnv: boolean,
  ) {
    const a = top.auth;
    if (a !== undefined && !isDict(a)) throw fieldError(source, this.path('auth', false), 'must be a mapping');
    this.auth = a ?? {};
  }

  /** The path of a key in messages: `clouds.lab.auth.auth_url`, or `OS_AUTH_URL`. */
  path(key: string, inAuth: boolean): string {
    if (this.fromEnv) return `OS_${key.toUpperCase()}`;
    return inAuth ? `clouds.${this.name}.auth.${key}` : `clouds.${this.name}.${key}`;
  }

  error(key: string, inAuth: boolean, message: string, hint?: string): TenksError {
    return fieldError(this.source, this.path(key, inAuth), message, hint);
  }

  /** A string option at the top level. */
  str(key: string): string | null {
    return this.scalar(this.top, key, false);
  }

  /** An auth plugin option: in `auth:` first, then beside it (where OS_* variables put it); aliases after. */
  authStr(key: string, ...aliases: string[]): string | null {
    for (const k of [key, ...aliases]) {
      const v = this.scalar(this.auth, k, true) ?? this.scalar(this.top, k, false);
      if (v !== null) return v;
    }
    return null;
  }

  /** Where a missing auth option is expected. */
  authPath(key: string): string {
    return this.path(key, !this.fromEnv);
  }

  missing(key: string, message: string, hint?: string): TenksError {
    return fieldError(this.source, this.authPath(key), message, hint);
  }

  private scalar(d: Dict, key: string, inAuth: boolean): string | null {
    const v = d[key];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v === 'string') return v;
    // YAML numbers (project ids, versions) count as strings, as openstacksdk stringifies them.
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    throw this.error(key, inAuth, 'must be a string');
  }

  bool(key: string): boolean | null {
    const v = this.top[key];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') {
      const s = v.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
    }
    throw this.error(key, false, 'must be true or false');
  }
}

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

const AUTH_TYPE_ALIASES: Readonly<Record<string, AuthType>> = {
  password: 'password',
  v3password: 'password',
  v3applicationcredential: 'v3applicationcredential',
  application_credential: 'v3applicationcredential',
  applicationcredential: 'v3applicationcredential',
  token: 'token',
  v3token: 'token',
  admin_token: 'admin_token',
  token_endpoint: 'admin_token',
  http_basic: 'http_basic',
  none: 'none',
  noauth: 'none',
};

function inferAuthType(r: RawCloud): AuthType {
  const token = r.authStr('token', 'auth_token');
  const authUrl = r.authStr('auth_url');
  if (token !== null) return authUrl === null && r.authStr('endpoint', 'url') !== null ? 'admin_token' : 'token';
  if (r.authStr('application_credential_secret') !== null) return 'v3applicationcredential';
  return 'password';
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

function compileUrl(r: RawCloud, key: string, value: string | null, inAuth: boolean): string | null {
  if (value === null) return null;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw r.error(key, inAuth, 'must be an http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw r.error(key, inAuth, 'must be an http(s) URL');
  return value.replace(/\/+$/, '');
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

function domainOf(r: RawCloud, prefix: 'user' | 'project', projectScoped: boolean): DomainRef | null {
  const id = r.authStr(`${prefix}_domain_id`) ?? (projectScoped ? r.authStr('domain_id') : null);
  if (id !== null) return { id };
  const name = r.authStr(`${prefix}_domain_name`) ?? (projectScoped ? r.authStr('domain_name') : null);
  if (name !== null) return { name };
  const defId = r.authStr('default_domain_id');
  if (defId !== null) return { id: defId };
  const defName = r.authStr('default_domain_name');
  return defName === null ? null : { name: defName };
}

function compileUser(r: RawCloud, projectScoped: boolean, type: string): UserRef {
  const id = r.authStr('user_id');
  if (id !== null) return { id };
  const name = r.authStr('username', 'user_name');
  if (name === null) throw r.missing('username', `required for auth_type ${type} (or user_id)`);
  const domain = domainOf(r, 'user', projectScoped);
  if (!domain) {
    throw r.missing(
      'user_domain_name',
      'required with username (or user_domain_id, domain_name)',
      'Keystone v3 looks users up by name within a domain, often `Default`',
    );
  }
  return { name, domain };
}

function compileScope(r: RawCloud): KeystoneScope {
  const projectId = r.authStr('project_id', 'tenant_id');
  if (projectId !== null) return { kind: 'project', project: { id: projectId } };
  const projectName = r.authStr('project_name', 'tenant_name');
  if (projectName !== null) {
    const domain = domainOf(r, 'project', true);
    if (!domain)
      throw r.missing('project_domain_name', 'required with project_name (or project_domain_id, domain_name)');
    return { kind: 'project', project: { name: projectName, domain } };
  }
  const domainId = r.authStr('domain_id');
  if (domainId !== null) return { kind: 'domain', domain: { id: domainId } };
  const domainName = r.authStr('domain_name');
  if (domainName !== null) return { kind: 'domain', domain: { name: domainName } };
  const system = r.authStr('system_scope');
  if (system !== null) {
    if (system !== 'all') throw r.missing('system_scope', "must be 'all'");
    return { kind: 'system' };
  }
  throw r.missing(
    'project_name',
    'a scope is required: project_name or project_id (or domain_name/domain_id, or system_scope: all)',
    'an unscoped token has no service catalog',
  );
}

function compileAuth(r: RawCloud): CloudAuth {
  const rawType = r.str('auth_type') ?? r.str('auth_plugin');
  const typeKey = r.str('auth_type') !== null ? 'auth_type' : 'auth_plugin';
  let type: AuthType;
  const explicitNull = ['auth_type', 'auth_plugin'].some((k) => k in r.top && (r.top[k] === null || r.top[k] === ''));
  // openstacksdk reads an empty or null auth_type as `none`, and an absent one as the default.
  if (rawType === null) type = explicitNull ? 'none' : inferAuthType(r);
  else {
    const t = rawType.toLowerCase();
    if (t === 'v2password' || t === 'v2token') {
      throw r.error(
        typeKey,
        false,
        `${rawType} is Keystone v2, which tenks does not speak`,
        'use password (Keystone v3)',
      );
    }
    const known = AUTH_TYPE_ALIASES[t];
    if (known === undefined) {
      throw new TenksError(
        'UNSUPPORTED',
        `${r.source}: ${r.path(typeKey, false)}: auth type '${rawType}' is not supported; tenks knows ` +
          `password, v3applicationcredential, token, admin_token, http_basic and none`,
        { field: r.path(typeKey, false) },
      );
    }
    type = known;
  }
  const secret = (key: string, ...aliases: string[]): Secret | null => {
    const v = r.authStr(key, ...aliases);
    return v === null ? null : new Secret(v);
  };
  const authUrl = (): string => {
    const v = compileUrl(r, 'auth_url', r.authStr('auth_url'), !!r.auth.auth_url);
    if (v === null) throw r.missing('auth_url', `required for auth_type ${type}`);
    return v;
  };
  const endpoint = (): string | null =>
    compileUrl(r, 'endpoint', r.authStr('endpoint', 'url'), r.auth.endpoint !== undefined);
  switch (type) {
    case 'password': {
      const url = authUrl();
      const password = secret('password');
      if (!password) throw r.missing('password', 'required for auth_type password');
      const scope = compileScope(r);
      return { type, authUrl: url, user: compileUser(r, scope.kind === 'project', type), password, scope };
    }
    case 'v3applicationcredential': {
      const url = authUrl();
      const s = secret('application_credential_secret');
      if (!s) throw r.missing('application_credential_secret', 'required for auth_type v3applicationcredential');
      const id = r.authStr('application_credential_id');
      if (id !== null) return { type, authUrl: url, credential: { id }, secret: s };
      const name = r.authStr('application_credential_name');
      if (name === null) {
        throw r.missing(
          'application_credential_id',
          'required for auth_type v3applicationcredential (or application_credential_name with username)',
        );
      }
      return { type, authUrl: url, credential: { name, user: compileUser(r, false, type) }, secret: s };
    }
    case 'token': {
      const token = secret('token', 'auth_token');
      if (!token) throw r.missing('token', 'required for auth_type token');
      // The brief form of a token with a fixed endpoint and no Keystone: what admin_token does.
      if (r.authStr('auth_url') === null && r.authStr('endpoint', 'url') !== null) {
        return { type: 'admin_token', token, endpoint: endpoint() };
      }
      return { type, authUrl: authUrl(), token, scope: compileScope(r) };
    }
    case 'admin_token': {
      const token = secret('token', 'auth_token');
      if (!token) throw r.missing('token', 'required for auth_type admin_token');
      return { type, token, endpoint: endpoint() };
    }
    case 'http_basic': {
      const username = r.authStr('username', 'user_name');
      if (username === null) throw r.missing('username', 'required for auth_type http_basic');
      const password = secret('password');
      if (!password) throw r.missing('password', 'required for auth_type http_basic');
      return { type, username, password, endpoint: endpoint() };
    }
    case 'none':
      return { type, endpoint: endpoint() };
  }
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

/** The service `auth.endpoint` stands for when there is no catalog (see the file comment). */
export function endpointServiceOf(type: AuthType): ServiceType | null {
  switch (type) {
    case 'none':
    case 'http_basic':
      return 'baremetal';
    case 'admin_token':
      return 'compute';
    default:
      return null;
  }
}
