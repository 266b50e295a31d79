/**
 * The Ironic API (v1) over REST, at a microversion negotiated once from the endpoint's root
 * document and sent on every request. Lists follow Ironic's `next` links; provision-state waits poll.
 */
import { TenksError } from '../../common/index.js';
import { headerValue, pause, ServiceClient, type ServiceEndpoint } from './service-client.js';
import { chooseMicroversion, compareMicroversions, parseMicroversion } from './microversion.js';
import type { IronicApi, IronicNode, IronicPort, JsonPatchOp } from './types.js';

/** The newest Ironic API version tenks knows: 1.82 (node `shard`, Ironic 21.4 / 2023.1). */
export const IRONIC_KNOWN_MICROVERSION = '1.82';

/**
 * The oldest Ironic API version tenks works with: 1.46 (Ironic 11.1, Rocky) adds the node's
 * `conductor_group`, which `ironic_config.conductor_group` sets. It also covers what enrolment uses
 * from older versions: resource_class (1.21), the `*_interface` fields (1.31), storage_interface
 * (1.33), port physical_network (1.34), traits (1.37), rescue_interface (1.38), bios_interface (1.40).
 */
export const IRONIC_MIN_MICROVERSION = '1.46';

/** What {@link IRONIC_MIN_MICROVERSION} is needed for, in messages. */
export const IRONIC_MIN_MICROVERSION_REASON = 'conductor_group on nodes';

/** Header carrying the microversion. */
export const IRONIC_VERSION_HEADER = 'X-OpenStack-Ironic-API-Version';

/** The versions an Ironic endpoint offers. */
export interface IronicVersions {
  min: string;
  max: string;
}

function versionRange(v: unknown): IronicVersions | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.version !== 'string' || parseMicroversion(o.version) === null) return null;
  const min = typeof o.min_version === 'string' && parseMicroversion(o.min_version) ? o.min_version : '1.1';
  return { min, max: o.version };
}

/**
 * The versions of Ironic's root document (`default_version`, else the highest of `versions[]`), or
 * of the `X-OpenStack-Ironic-API-Minimum/Maximum-Version` headers; null when neither is there.
 */
export function parseIronicVersions(
  json: unknown,
  headers: Record<string, string | string[] | undefined>,
): IronicVersions | null {
  if (typeof json === 'object' && json !== null) {
    const o = json as Record<string, unknown>;
    const d = versionRange(o.default_version);
    if (d) return d;
    if (Array.isArray(o.versions)) {
      const all = o.versions.map(versionRange).filter((x): x is IronicVersions => x !== null);
      all.sort((a, b) => compareMicroversions(b.max, a.max));
      if (all[0]) return all[0];
    }
  }
  const max = headerValue(headers, 'x-openstack-ironic-api-maximum-version');
  const min = headerValue(headers, 'x-openstack-ironic-api-minimum-version');
  if (max && parseMicroversion(max)) return { min: min && parseMicroversion(min) ? min : '1.1', max };
  return null;
}

/** Options of {@link IronicClient.connect}; `endpoint` is the catalog or override URL, with or without `/v1`. */
export interface IronicConnectOptions extends ServiceEndpoint {
  /** `baremetal_api_version` (caps the microversion), or null. */
  configuredVersion: string | null;
  /** Interval of {@link IronicClient.waitForProvisionState} polls; default 500 ms. */
  pollIntervalMs?: number;
  /** Page size of lists; default 500. */
  pageSize?: number;
  signal?: AbortSignal;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const dict = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** An Ironic node body as {@link IronicNode}, with defaults for fields older microversions lack. */
export function toIronicNode(raw: unknown): IronicNode {
  const o = dict(raw);
  const uuid = str(o.uuid);
  if (uuid === null) throw new TenksError('INTERNAL', 'ironic answered a node without a uuid');
  const node: IronicNode = {
    uuid,
    name: str(o.name),
    driver: str(o.driver) ?? '',
    driver_info: dict(o.driver_info),
    properties: dict(o.properties),
    resource_class: str(o.resource_class),
    traits: Array.isArray(o.traits) ? o.traits.filter((t): t is string => typeof t === 'string') : [],
    provision_state: str(o.provision_state) ?? 'enroll',
    target_provision_state: str(o.target_provision_state),
    power_state: str(o.power_state),
    target_power_state: str(o.target_power_state),
    maintenance: o.maintenance === true,
    last_error: str(o.last_error),
    conductor_group: str(o.conductor_group) ?? '',
    shard: str(o.shard),
    extra: dict(o.extra),
  };
  for (const [k, v] of Object.entries(o)) {
    if (k.endsWith('_interface') && (typeof v === 'string' || v === null)) node[k as `${string}_interface`] = v;
  }
  return node;
}

/** An Ironic port body as {@link IronicPort}. */
export function toIronicPort(raw: unknown): IronicPort {
  const o = dict(raw);
  const uuid = str(o.uuid);
  if (uuid === null) throw new TenksError('INTERNAL', 'ironic answered a port without a uuid');
  const llc: Record<string, string> = {};
  for (const [k, v] of Object.entries(dict(o.local_link_connection))) if (typeof v === 'string') llc[k] = v;
  return {
    uuid,
    address: str(o.address) ?? '',
    node_uuid: str(o.node_uuid) ?? '',
    physical_network: str(o.physical_network),
    local_link_connection: llc,
    pxe_enabled: o.pxe_enabled !== false,
    extra: dict(o.extra),
  };
}

/** Provision states that mean the last transition failed. */
function isFailedState(state: string): boolean {
  return state.endsWith(' failed') || state === 'error';
}

/** Ironic refuses a request on a node another operation holds: nothing happened, so it may be sent again. */
function isNodeLocked(status: number, message: string): boolean {
  return status === 409 && /\bis locked\b|NodeLocked/i.test(message);
}

/** {@link IronicApi} over Ironic's REST API. */
export class IronicClient implements IronicApi {
  readonly microversion: string;
  /** What the server offers. */
  readonly serverVersions: IronicVersions;
  private readonly client: ServiceClient;
  /** The root document's client (no microversion header), for version discovery. */
  private readonly discovery: ServiceClient;
  private readonly configuredVersion: string | null;
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;

  private constructor(
    client: ServiceClient,
    discovery: ServiceClient,
    microversion: string,
    versions: IronicVersions,
    o: IronicConnectOptions,
  ) {
    this.client = client;
    this.discovery = discovery;
    this.configuredVersion = o.configuredVersion;
    this.microversion = microversion;
    this.serverVersions = versions;
    this.pollIntervalMs = o.pollIntervalMs ?? 500;
    this.pageSize = o.pageSize ?? 500;
  }

  /**
   * Reads the endpoint's versions and picks the microversion: the lowest of the server's newest,
   * {@link IRONIC_KNOWN_MICROVERSION} and `baremetal_api_version`. UNSUPPORTED when the server's
   * newest is below {@link IRONIC_MIN_MICROVERSION}; UNAVAILABLE when the endpoint is not Ironic.
   */
  static async connect(o: IronicConnectOptions): Promise<IronicClient> {
    const root = o.endpoint.replace(/\/+$/, '').replace(/\/v1$/, '');
    const { transport, credentials, timeoutMs, log } = o;
    const base = { service: 'ironic', endpoint: root, transport, credentials, timeoutMs, log };
    const discovery = new ServiceClient(base);
    const { versions, microversion } = await negotiate(discovery, o.configuredVersion, o.signal);
    o.log.debug('ironic microversion chosen', { endpoint: root, microversion, serverMax: versions.max });
    const client = new ServiceClient({
      ...base,
      headers: { [IRONIC_VERSION_HEADER]: microversion },
      retryRefused: isNodeLocked,
    });
    return new IronicClient(client, discovery, microversion, versions, o);
  }

  /** The endpoint (without `/v1`). */
  get endpoint(): string {
    return this.client.endpoint;
  }

  /**
   * Version discovery again (UNSUPPORTED when the server no longer offers what tenks needs) and one
   * node (`limit=1`), which needs the credentials: UNAVAILABLE or PERMISSION naming the endpoint.
   */
  async probe(signal?: AbortSignal): Promise<void> {
    const { versions } = await negotiate(this.discovery, this.configuredVersion, signal);
    if (compareMicroversions(versions.max, this.microversion) < 0)
      throw new TenksError(
        'UNSUPPORTED',
        `ironic at ${this.endpoint} now offers API versions ${versions.min} to ${versions.max}, below ${this.microversion}, the version this connection chose`,
        { hint: 'the server was downgraded or replaced; try again in a few minutes, when tenks connects anew' },
      );
    await this.client.get('/v1/nodes', { query: { limit: 1, fields: 'uuid' }, signal });
  }

  supports(v: string): boolean {
    return parseMicroversion(v) !== null && compareMicroversions(this.microversion, v) >= 0;
  }

  private async list(
    path: string,
    key: string,
    query: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<unknown[]> {
    const out: unknown[] = [];
    let q: Record<string, string> = { ...query, limit: String(this.pageSize) };
    const seen = new Set<string>();
    for (;;) {
      const json = dict(await this.client.get(path, { query: q, signal }));
      const page = json[key];
      if (!Array.isArray(page))
        throw new TenksError('INTERNAL', `ironic at ${this.endpoint}: ${path} answered no '${key}' list`);
      out.push(...(page as unknown[]));
      const next = str(json.next);
      if (next === null || page.length === 0) return out;
      // Follow the marker, not the link's host: behind a proxy Ironic may not know its public URL.
      const params = new URL(next, this.endpoint).searchParams;
      const marker = params.get('marker');
      if (marker === null || seen.has(marker)) return out;
      seen.add(marker);
      // Keep our filters: Ironic's next links drop some of them (node_uuid on ports).
      q = { ...query, limit: String(this.pageSize), ...Object.fromEntries(params) };
    }
  }

  async listNodes(signal?: AbortSignal): Promise<IronicNode[]> {
    return (await this.list('/v1/nodes/detail', 'nodes', {}, signal)).map(toIronicNode);
  }

  async getNode(ident: string, signal?: AbortSignal): Promise<IronicNode | null> {
    const res = await this.client.request('GET', nodePath(ident), { signal, ok: [200, 404] });
    return res.status === 404 ? null : toIronicNode(res.json);
  }

  async createNode(body: Record<string, unknown>, signal?: AbortSignal): Promise<IronicNode> {
    return toIronicNode((await this.client.request('POST', '/v1/nodes', { body, signal })).json);
  }

  async patchNode(ident: string, ops: JsonPatchOp[], signal?: AbortSignal): Promise<IronicNode> {
    return toIronicNode((await this.client.request('PATCH', nodePath(ident), { body: ops, signal })).json);
  }

  async setTraits(ident: string, traits: string[], signal?: AbortSignal): Promise<void> {
    await this.client.request('PUT', `${nodePath(ident)}/traits`, { body: { traits }, signal });
  }

  async setProvisionState(
    ident: string,
    target: string,
    extra?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.client.request('PUT', `${nodePath(ident)}/states/provision`, { body: { ...extra, target }, signal });
  }

  async waitForProvisionState(
    ident: string,
    states: string[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<IronicNode> {
    const deadline = Date.now() + timeoutMs;
    const wanted = states.join(' or ');
    for (;;) {
      const node = await this.getNode(ident, signal);
      if (!node)
        throw new TenksError(
          'NOT_FOUND',
          `ironic at ${this.endpoint}: node '${ident}' is gone (waiting for ${wanted})`,
        );
      const state = node.provision_state;
      const failed = isFailedState(state);
      if (states.includes(state) && (node.target_provision_state === null || failed)) return node;
      const label = `ironic at ${this.endpoint}: node ${node.name ?? node.uuid}`;
      if (failed) {
        throw new TenksError(
          'INTERNAL',
          `${label}: ${state}${node.last_error ? `: ${node.last_error}` : ''} (waiting for ${wanted})`,
          {
            hint: "see the node's last_error and the ironic-conductor log; fix the cause, then apply again",
          },
        );
      }
      if (node.target_provision_state === null) {
        // A stable state that is not the goal: nothing is under way that would take the node there.
        throw node.last_error
          ? new TenksError('INTERNAL', `${label}: back in ${state}: ${node.last_error} (waiting for ${wanted})`, {
              hint: "see the node's last_error and the ironic-conductor log; fix the cause, then apply again",
            })
          : new TenksError(
              'CONFLICT',
              `${label}: is in ${state}, with no transition under way (waiting for ${wanted})`,
              {
                hint: 'someone else may have moved the node',
              },
            );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TenksError(
          'TIMEOUT',
          `${label}: still ${state} (on the way to ${node.target_provision_state}) after ${Math.round(timeoutMs / 1000)} s, waiting for ${wanted}`,
          {
            hint: node.maintenance
              ? 'the node is in maintenance; see its maintenance_reason'
              : 'see the ironic-conductor log',
          },
        );
      }
      await pause(Math.min(this.pollIntervalMs, left), signal);
    }
  }

  async setMaintenance(ident: string, on: boolean, reason?: string, signal?: AbortSignal): Promise<void> {
    if (on) {
      await this.client.request('PUT', `${nodePath(ident)}/maintenance`, {
        body: reason === undefined ? {} : { reason },
        signal,
      });
    } else {
      await this.client.request('DELETE', `${nodePath(ident)}/maintenance`, { signal });
    }
  }

  async setPowerState(ident: string, target: string, signal?: AbortSignal): Promise<void> {
    await this.client.request('PUT', `${nodePath(ident)}/states/power`, { body: { target }, signal });
  }

  async deleteNode(ident: string, signal?: AbortSignal): Promise<void> {
    await this.client.request('DELETE', nodePath(ident), { signal });
  }

  async listPorts(nodeUuid: string, signal?: AbortSignal): Promise<IronicPort[]> {
    return (await this.list('/v1/ports/detail', 'ports', { node_uuid: nodeUuid }, signal)).map(toIronicPort);
  }

  async createPort(body: Record<string, unknown>, signal?: AbortSignal): Promise<IronicPort> {
    return toIronicPort((await this.client.request('POST', '/v1/ports', { body, signal })).json);
  }

  async patchPort(uuid: string, ops: JsonPatchOp[], signal?: AbortSignal): Promise<IronicPort> {
    return toIronicPort((await this.client.request('PATCH', portPath(uuid), { body: ops, signal })).json);
  }

  async deletePort(uuid: string, signal?: AbortSignal): Promise<void> {
    await this.client.request('DELETE', portPath(uuid), { signal });
  }
}

/**
 * Reads the root document and picks the microversion: the lowest of the server's newest,
 * {@link IRONIC_KNOWN_MICROVERSION} and `configuredVersion`.
 */
async function negotiate(
  discovery: ServiceClient,
  configuredVersion: string | null,
  signal: AbortSignal | undefined,
): Promise<{ versions: IronicVersions; microversion: string }> {
  const res = await discovery.request('GET', '/', { signal });
  const versions = parseIronicVersions(res.json, res.headers);
  if (!versions) {
    throw new TenksError('UNAVAILABLE', `ironic at ${discovery.endpoint}: the root document names no API versions`, {
      hint: 'is the baremetal endpoint really Ironic? Check the catalog or baremetal_endpoint_override',
    });
  }
  const configured = configuredVersion !== null && parseMicroversion(configuredVersion) ? configuredVersion : null;
  const microversion = chooseMicroversion({
    service: 'ironic',
    endpoint: discovery.endpoint,
    serverMin: versions.min,
    serverMax: versions.max,
    known: IRONIC_KNOWN_MICROVERSION,
    required: IRONIC_MIN_MICROVERSION,
    requiredFor: IRONIC_MIN_MICROVERSION_REASON,
    configured,
    configuredKey: 'baremetal_api_version',
  });
  return { versions, microversion };
}

function nodePath(ident: string): string {
  return `/v1/nodes/${encodeURIComponent(ident)}`;
}

function portPath(uuid: string): string {
  return `/v1/ports/${encodeURIComponent(uuid)}`;
}
