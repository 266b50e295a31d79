/**
 * Keystone v3: a token for the cloud's credentials (password, application credential or token),
 * reused until two minutes before it expires (keystoneauth's margin) and fetched again when a
 * service answers 401; and the service catalog, where endpoints are looked up by service type,
 * interface and region.
 */
import { TenksError, untilAborted, type Logger } from '../../common/index.js';
import type { CloudAuth, DomainRef, EndpointInterface, KeystoneScope, UserRef } from './cloud-config.js';
import { headerValue, ServiceClient, type Credentials } from './service-client.js';
import type { Transport } from './transport.js';

/** The auth types that go through Keystone. */
export type KeystoneAuth = Extract<CloudAuth, { authUrl: string }>;

/** One endpoint of a catalog entry. */
export interface CatalogEndpoint {
  interface: string;
  /** Region id (or the older `region` name); null when the endpoint has none. */
  region: string | null;
  url: string;
}

/** One service of the catalog. */
export interface CatalogService {
  type: string;
  name: string | null;
  endpoints: CatalogEndpoint[];
}

/** A token is renewed when it has less than this left, as keystoneauth does. */
const MIN_TOKEN_LIFE_MS = 120_000;

/** `http://ks:5000` → `http://ks:5000/v3`; `.../v3/` and `.../v3` stay; `.../v2.0` becomes `.../v3`. */
export function identityV3Url(authUrl: string): string {
  const u = authUrl.replace(/\/+$/, '');
  if (u.endsWith('/v3')) return u;
  return `${u.replace(/\/v2\.0$/, '')}/v3`;
}

function domainBody(d: DomainRef): Record<string, string> {
  return 'id' in d ? { id: d.id } : { name: d.name };
}

function userBody(u: UserRef): Record<string, unknown> {
  return 'id' in u ? { id: u.id } : { name: u.name, domain: domainBody(u.domain) };
}

function scopeBody(s: KeystoneScope): Record<string, unknown> {
  switch (s.kind) {
    case 'project':
      return {
        project:
          'id' in s.project ? { id: s.project.id } : { name: s.project.name, domain: domainBody(s.project.domain) },
      };
    case 'domain':
      return { domain: domainBody(s.domain) };
    case 'system':
      return { system: { all: true } };
  }
}

/** The body of POST /v3/auth/tokens. Holds the secret: never log it. */
export function authRequestBody(a: KeystoneAuth): unknown {
  switch (a.type) {
    case 'password':
      return {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { ...userBody(a.user), password: a.password.reveal() } },
          },
          scope: scopeBody(a.scope),
        },
      };
    case 'token':
      return {
        auth: { identity: { methods: ['token'], token: { id: a.token.reveal() } }, scope: scopeBody(a.scope) },
      };
    case 'v3applicationcredential': {
      // An application credential carries its own project scope; Keystone refuses another one.
      const credential =
        'id' in a.credential
          ? { id: a.credential.id, secret: a.secret.reveal() }
          : { name: a.credential.name, user: userBody(a.credential.user), secret: a.secret.reveal() };
      return { auth: { identity: { methods: ['application_credential'], application_credential: credential } } };
    }
  }
}

function parseCatalog(raw: unknown): CatalogService[] {
  if (!Array.isArray(raw)) return [];
  const out: CatalogService[] = [];
  for (const s of raw as unknown[]) {
    if (typeof s !== 'object' || s === null) continue;
    const svc = s as Record<string, unknown>;
    if (typeof svc.type !== 'string' || !Array.isArray(svc.endpoints)) continue;
    const endpoints: CatalogEndpoint[] = [];
    for (const e of svc.endpoints as unknown[]) {
      if (typeof e !== 'object' || e === null) continue;
      const ep = e as Record<string, unknown>;
      if (typeof ep.url !== 'string' || typeof ep.interface !== 'string') continue;
      const region = typeof ep.region_id === 'string' ? ep.region_id : typeof ep.region === 'string' ? ep.region : null;
      endpoints.push({ interface: ep.interface, region, url: ep.url.replace(/\/+$/, '') });
    }
    out.push({ type: svc.type, name: typeof svc.name === 'string' ? svc.name : null, endpoints });
  }
  return out;
}

/**
 * The URL of `type` in `catalog` for `iface` and (when given) `region`; null when the catalog has
 * no such endpoint. Without a region the first endpoint of the interface wins, as keystoneauth's
 * `url_for` does.
 */
export function catalogEndpoint(
  catalog: readonly CatalogService[],
  type: string,
  iface: EndpointInterface,
  region: string | null,
): string | null {
  for (const svc of catalog) {
    if (svc.type !== type) continue;
    const hit = svc.endpoints.find((e) => e.interface === iface && (region === null || e.region === region));
    if (hit) return hit.url;
  }
  return null;
}

/** Options of a {@link KeystoneSession}. */
export interface KeystoneSessionOptions {
  auth: KeystoneAuth;
  transport: Transport;
  timeoutMs: number;
  log: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

interface Token {
  id: string;
  expiresAtMs: number;
  issuedAtMs: number;
  catalog: CatalogService[];
}

/** A Keystone v3 token and catalog for one cloud; the {@link Credentials} of its services. */
export class KeystoneSession implements Credentials {
  private readonly client: ServiceClient;
  private current: Token | null = null;
  private pending: Promise<Token> | null = null;
  private readonly now: () => number;

  constructor(private readonly o: KeystoneSessionOptions) {
    this.client = new ServiceClient({
      service: 'keystone',
      endpoint: identityV3Url(o.auth.authUrl),
      transport: o.transport,
      credentials: null,
      timeoutMs: o.timeoutMs,
      log: o.log,
    });
    this.now = o.now ?? Date.now;
  }

  /** The identity endpoint (with `/v3`). */
  get endpoint(): string {
    return this.client.endpoint;
  }

  async headers(signal: AbortSignal | undefined): Promise<Record<string, string>> {
    return { 'X-Auth-Token': (await this.token(signal)).id };
  }

  rejected(sent: Record<string, string>): boolean {
    if (this.current && this.current.id === sent['X-Auth-Token']) this.current = null;
    return true;
  }

  /** The catalog of the current token (authenticating when needed). */
  async catalog(signal?: AbortSignal): Promise<CatalogService[]> {
    return (await this.token(signal)).catalog;
  }

  private fresh(t: Token): boolean {
    // A token living less than the margin would be renewed on every call: keep it half its life.
    const margin = Math.min(MIN_TOKEN_LIFE_MS, (t.expiresAtMs - t.issuedAtMs) / 2);
    return t.expiresAtMs - this.now() > margin;
  }

  private async token(signal: AbortSignal | undefined): Promise<Token> {
    if (this.current && this.fresh(this.current)) return this.current;
    // One authentication at a time; concurrent callers share it, so no one caller's signal may
    // cancel it (its deadline bounds it), but each caller stops waiting when its own signal fires.
    this.pending ??= this.authenticate().finally(() => {
      this.pending = null;
    });
    this.current = await untilAborted(this.pending, signal);
    return this.current;
  }

  private async authenticate(): Promise<Token> {
    const issuedAtMs = this.now();
    const res = await this.client.request('POST', '/auth/tokens', {
      body: authRequestBody(this.o.auth),
      ok: [200, 201],
    });
    const id = headerValue(res.headers, 'x-subject-token');
    if (!id) {
      throw new TenksError('UNAVAILABLE', `keystone at ${this.client.endpoint}: no X-Subject-Token in the answer`, {
        hint: 'is auth_url really Keystone?',
      });
    }
    const token = (res.json as { token?: Record<string, unknown> } | null)?.token ?? {};
    const expires = typeof token.expires_at === 'string' ? Date.parse(token.expires_at) : NaN;
    this.o.log.debug('keystone token issued', { authType: this.o.auth.type, expiresAt: token.expires_at });
    return {
      id,
      issuedAtMs,
      // No expiry given: assume an hour, Keystone's default.
      expiresAtMs: Number.isFinite(expires) ? expires : issuedAtMs + 3_600_000,
      catalog: parseCatalog(token.catalog),
    };
  }
}
