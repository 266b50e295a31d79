/** How a cloud authenticates: its auth type (given or inferred, as openstacksdk does) and the options of each. */
import { TenksError } from '../../common/index.js';
import type { AuthType, CloudAuth, DomainRef, KeystoneScope, UserRef } from './cloud-config.js';
import { compileUrl, type RawCloud } from './raw-cloud.js';
import { Secret } from './secret.js';

/** Auth type names openstacksdk accepts, by the type tenks implements. */
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

/** The auth type (given, else inferred) and its options, each missing one named by its key. */
export function compileAuth(r: RawCloud): CloudAuth {
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
