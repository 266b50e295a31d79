/**
 * Nova's flavor API. From compute microversion 2.61 flavors carry their extra specs, so a listing
 * is one request per page; against an older Nova (or one whose version document cannot be read)
 * the base 2.1 API is used and each flavor's `os-extra_specs` is read separately.
 */
import { TenksError } from '../../common/index.js';
import { ServiceClient, type ServiceEndpoint } from './service-client.js';
import { compareMicroversions, parseMicroversion } from './microversion.js';
import type { NovaApi, NovaFlavor } from './types.js';

/** The compute microversion from which flavor bodies include `extra_specs`. */
export const NOVA_EXTRA_SPECS_MICROVERSION = '2.61';

/**
 * The oldest compute API tenks works with: 2.1, the API every Nova since Liberty serves, with the
 * flavor calls tenks makes (`flavors/detail?is_public=None`, `os-flavor-access:is_public`,
 * `os-extra_specs`). A Nova whose version document names no microversion at all (the legacy v2.0
 * compatibility endpoint) serves the same calls.
 */
export const NOVA_MIN_MICROVERSION = '2.1';

/** Options of a {@link NovaClient}; `endpoint` is the compute endpoint (`http://nova:8774/v2.1`, perhaps with a project id after it). */
export interface NovaClientOptions extends ServiceEndpoint {
  /** `compute_api_version` (caps the microversion), or null. */
  configuredVersion: string | null;
}

const dict = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function stringSpecs(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(dict(v))) out[k] = typeof x === 'string' ? x : String(x);
  return out;
}

/** A Nova flavor body as {@link NovaFlavor} (extra specs from the body, if it has them). */
export function toNovaFlavor(raw: unknown, extraSpecs?: Record<string, string>): NovaFlavor {
  const o = dict(raw);
  const id = typeof o.id === 'string' ? o.id : typeof o.id === 'number' ? String(o.id) : null;
  if (id === null) throw new TenksError('INTERNAL', 'nova answered a flavor without an id');
  return {
    id,
    name: typeof o.name === 'string' ? o.name : '',
    ram: typeof o.ram === 'number' ? o.ram : 0,
    vcpus: typeof o.vcpus === 'number' ? o.vcpus : 0,
    disk: typeof o.disk === 'number' ? o.disk : 0,
    isPublic: o['os-flavor-access:is_public'] !== false,
    extraSpecs: extraSpecs ?? stringSpecs(o.extra_specs),
  };
}

/** The version document's URL for a compute endpoint: its `/v2.1` (or `/v2`) prefix. */
function versionRoot(endpoint: string): string {
  const u = new URL(endpoint);
  const m = /^(.*?\/v2(?:\.1)?)(?:\/.*)?$/.exec(u.pathname);
  return m?.[1] !== undefined ? `${u.origin}${m[1]}` : endpoint;
}

/** The client at the chosen microversion, and what the version document said. */
interface Negotiated {
  http: ServiceClient;
  /** Flavor bodies carry their extra specs (2.61 and later). */
  specsInline: boolean;
  /** The newest version the server offers, or null when its document names none. */
  max: string | null;
}

/** {@link NovaApi} over Nova's REST API. */
export class NovaClient implements NovaApi {
  private readonly o: NovaClientOptions;
  private client: Promise<Negotiated> | null = null;

  constructor(o: NovaClientOptions) {
    this.o = o;
  }

  /** A client of `endpoint` (default the compute endpoint) sending `headers`. */
  private base(headers: Record<string, string>, endpoint = this.o.endpoint): ServiceClient {
    const { transport, credentials, timeoutMs, log } = this.o;
    return new ServiceClient({ service: 'nova', endpoint, transport, credentials, timeoutMs, log, headers });
  }

  /** The compute endpoint. */
  get endpoint(): string {
    return this.o.endpoint;
  }

  /** The client at the chosen microversion, decided on first use from Nova's version document. */
  private async http(signal?: AbortSignal): Promise<Negotiated> {
    this.client ??= this.negotiate(signal).catch((e: unknown) => {
      this.client = null;
      throw e;
    });
    return this.client;
  }

  private async negotiate(signal?: AbortSignal): Promise<Negotiated> {
    const plain = this.base({});
    let max: string | null = null;
    try {
      const root = this.base({}, versionRoot(this.o.endpoint));
      const v = dict(dict(await root.get('/', { signal })).version);
      max = typeof v.version === 'string' && parseMicroversion(v.version) ? v.version : null;
    } catch (e) {
      if (signal?.aborted) throw e;
      this.o.log.debug('nova version document unreadable, using the base API', { error: (e as Error).message });
    }
    const configured = this.o.configuredVersion;
    const capped =
      configured !== null &&
      parseMicroversion(configured) !== null &&
      compareMicroversions(configured, NOVA_EXTRA_SPECS_MICROVERSION) < 0;
    if (max === null || compareMicroversions(max, NOVA_EXTRA_SPECS_MICROVERSION) < 0 || capped) {
      return { http: plain, specsInline: false, max };
    }
    return {
      http: this.base({ 'OpenStack-API-Version': `compute ${NOVA_EXTRA_SPECS_MICROVERSION}` }),
      specsInline: true,
      max,
    };
  }

  /**
   * Checks the API is new enough (UNSUPPORTED, naming what Nova offers and what tenks needs) and
   * lists one flavor, which needs the credentials: UNAVAILABLE or PERMISSION naming the endpoint.
   */
  async probe(signal?: AbortSignal): Promise<void> {
    const { http, max } = await this.http(signal);
    if (max !== null && compareMicroversions(max, NOVA_MIN_MICROVERSION) < 0)
      throw new TenksError(
        'UNSUPPORTED',
        `nova at ${this.o.endpoint} offers compute API versions up to ${max}; tenks needs at least ${NOVA_MIN_MICROVERSION} (flavors and their extra specs)`,
        { hint: 'upgrade nova, or point the cloud at a newer one' },
      );
    await http.get('/flavors', { query: { limit: 1 }, signal });
  }

  async listFlavors(signal?: AbortSignal): Promise<NovaFlavor[]> {
    const { http, specsInline } = await this.http(signal);
    const raw: unknown[] = [];
    let query: Record<string, string> = { is_public: 'None' };
    const seen = new Set<string>();
    for (;;) {
      const json = dict(await http.get('/flavors/detail', { query, signal }));
      const page = Array.isArray(json.flavors) ? (json.flavors as unknown[]) : [];
      raw.push(...page);
      const next = Array.isArray(json.flavors_links)
        ? (json.flavors_links as unknown[]).map(dict).find((l) => l.rel === 'next')
        : undefined;
      const href = typeof next?.href === 'string' ? next.href : null;
      const marker = href === null ? null : new URL(href, http.endpoint).searchParams.get('marker');
      if (marker === null || page.length === 0 || seen.has(marker)) break;
      seen.add(marker);
      query = { ...Object.fromEntries(new URL(href ?? '', http.endpoint).searchParams), is_public: 'None' };
    }
    if (specsInline) return raw.map((f) => toNovaFlavor(f));
    const out: NovaFlavor[] = [];
    // A few at a time: an old Nova answers one request per flavor here.
    for (let i = 0; i < raw.length; i += 8) {
      const batch = raw.slice(i, i + 8).map(async (f) => {
        const id = toNovaFlavor(f).id;
        const specs = dict(await http.get(`/flavors/${encodeURIComponent(id)}/os-extra_specs`, { signal }));
        return toNovaFlavor(f, stringSpecs(specs.extra_specs));
      });
      out.push(...(await Promise.all(batch)));
    }
    return out;
  }

  async createFlavor(
    f: { name: string; ram: number; vcpus: number; disk: number; isPublic: boolean },
    signal?: AbortSignal,
  ): Promise<NovaFlavor> {
    const { http } = await this.http(signal);
    const res = await http.request('POST', '/flavors', {
      body: {
        flavor: { name: f.name, ram: f.ram, vcpus: f.vcpus, disk: f.disk, 'os-flavor-access:is_public': f.isPublic },
      },
      signal,
    });
    const flavor = toNovaFlavor(dict(res.json).flavor);
    return { ...flavor, extraSpecs: {} };
  }

  async deleteFlavor(id: string, signal?: AbortSignal): Promise<void> {
    const { http } = await this.http(signal);
    await http.request('DELETE', `/flavors/${encodeURIComponent(id)}`, { signal });
  }

  async setExtraSpecs(id: string, specs: Record<string, string>, signal?: AbortSignal): Promise<void> {
    if (Object.keys(specs).length === 0) return;
    const { http } = await this.http(signal);
    await http.request('POST', `/flavors/${encodeURIComponent(id)}/os-extra_specs`, {
      body: { extra_specs: specs },
      signal,
    });
  }

  async deleteExtraSpec(id: string, key: string, signal?: AbortSignal): Promise<void> {
    const { http } = await this.http(signal);
    await http.request('DELETE', `/flavors/${encodeURIComponent(id)}/os-extra_specs/${encodeURIComponent(key)}`, {
      signal,
    });
  }
}
