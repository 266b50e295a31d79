/**
 * Where a Redfish request goes. Resources register their routes here: services below the service
 * root (`/redfish/v1/SessionService/...`), the few requests served without credentials (the service
 * root, a login), and the resources of one node inside the node collections (`/redfish/v1/Systems/
 * <uuid>/BIOS/...`). The router reads the path, authenticates the caller, lists and resolves the
 * nodes the caller's credentials open (a node named instead of its UUID is redirected there) and
 * hands the resource the node's {@link NodeView}.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Caller } from './authentication.js';
import { collection, type NodeView } from './documents.js';
import { allow, missing, ok, type Reply } from './reply.js';

/** One request as the resources see it. */
export interface RedfishRequest {
  method: string;
  /** Path segments after `/redfish/v1`, percent-decoded, without empty ones. */
  parts: readonly string[];
  /** The query string with its `?`, or empty. */
  query: string;
  headers: IncomingHttpHeaders;
  /** The body as JSON (null when empty), read once. */
  body: () => Promise<unknown>;
}

/** What the router is given of a request. */
export interface IncomingRequest {
  method: string;
  /** The request target as sent (origin-form or absolute-form). */
  target: string;
  headers: IncomingHttpHeaders;
  body: () => Promise<unknown>;
}

/** Serves a request below `/redfish/v1/<service>`; `rest` are the segments after the service name. */
export type ServiceHandler = (req: RedfishRequest, rest: readonly string[], caller: Caller) => Reply | Promise<Reply>;

/** Serves a request without credentials. */
export type AnonymousHandler = (req: RedfishRequest, rest: readonly string[]) => Reply | Promise<Reply>;

/** Serves a resource of one node; `rest` are the segments after the resource name. */
export type NodeHandler = (req: RedfishRequest, view: NodeView, rest: readonly string[]) => Reply | Promise<Reply>;

/** How a collection with one member per node is described. */
export interface NodeCollectionOptions {
  /** The collection's schema type (`ComputerSystemCollection`). */
  type: string;
  /** What a path below a member names when no resource is registered for it (completes "no ..."). */
  unknown: (view: NodeView, rest: readonly string[]) => string;
}

/** What the router needs from the service. */
export interface RouterOptions {
  /** The caller of a request; throws 401 when there is none. */
  authenticate: (headers: IncomingHttpHeaders) => Caller;
  /** The UUID of the node named `name`, or null. */
  uuidOf: (name: string) => string | null;
  /** What a node's resources are built from. */
  nodeView: (uuid: string) => Promise<NodeView>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The URL of a request target: origin-form (`/path?query`) is read as a path even when it starts
 * with `//` (which the URL parser would take for a host), absolute-form as a URL. Anything else,
 * or an absolute URL that does not parse, names no resource.
 */
function requestUrl(target: string): URL {
  try {
    return target.startsWith('/') ? new URL(`http://localhost${target}`) : new URL(target);
  } catch {
    throw missing(`resource at ${target}`);
  }
}

/** The percent-decoded segments of a path below `/redfish/v1`; 404 for bad percent-encoding. */
function segments(path: string): string[] {
  return path
    .slice('/redfish/v1'.length)
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw missing(`resource at ${path} ('${p}' is not valid percent-encoding)`);
      }
    });
}

/** The routes of the Redfish service. */
export class RedfishRouter {
  private readonly open: { service: string; matches: (req: RedfishRequest) => boolean; handle: AnonymousHandler }[] =
    [];
  private readonly services = new Map<string, ServiceHandler>();
  private readonly collections = new Map<string, NodeCollectionOptions & { resources: Map<string, NodeHandler> }>();

  constructor(private readonly o: RouterOptions) {}

  /**
   * Serves the requests to `/redfish/v1/<service>/...` that `matches` takes without credentials
   * (service `''` is the service root itself). Checked in registration order, before authentication.
   */
  anonymous(service: string, matches: (req: RedfishRequest) => boolean, handle: AnonymousHandler): void {
    this.open.push({ service, matches, handle });
  }

  /** Serves `/redfish/v1/<name>` and everything below it, for an authenticated caller. */
  service(name: string, handle: ServiceHandler): void {
    this.taken(name);
    this.services.set(name, handle);
  }

  /** Declares `/redfish/v1/<name>`: a collection with one member per node the caller's credentials open. */
  nodeCollection(name: string, o: NodeCollectionOptions): void {
    this.taken(name);
    this.collections.set(name, { ...o, resources: new Map() });
  }

  /**
   * Serves `/redfish/v1/<collection>/<node>/<resource>/...` of the nodes the caller may see;
   * resource `''` is the member itself.
   */
  nodeResource(collectionName: string, resource: string, handle: NodeHandler): void {
    const c = this.collections.get(collectionName);
    if (!c) throw new Error(`no node collection ${collectionName} to add ${resource} to`);
    if (c.resources.has(resource)) throw new Error(`${collectionName}/${resource} is served twice`);
    c.resources.set(resource, handle);
  }

  private taken(name: string): void {
    if (this.services.has(name) || this.collections.has(name)) throw new Error(`/redfish/v1/${name} is served twice`);
  }

  /** The reply to a request; throws a Redfish error (or what a resource threw) when there is none. */
  async route(incoming: IncomingRequest): Promise<Reply> {
    const url = requestUrl(incoming.target);
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/redfish') return ok({ v1: '/redfish/v1/' });
    if (path !== '/redfish/v1' && !path.startsWith('/redfish/v1/')) throw missing(`resource at ${path}`);
    const req: RedfishRequest = {
      method: incoming.method,
      parts: segments(path),
      query: url.search,
      headers: incoming.headers,
      body: incoming.body,
    };
    const [top = '', ...rest] = req.parts;
    for (const route of this.open) if (route.service === top && route.matches(req)) return route.handle(req, rest);
    const caller = this.o.authenticate(req.headers);
    const service = this.services.get(top);
    if (service) return service(req, rest, caller);
    if (this.collections.has(top)) return this.node(req, top, caller);
    throw missing(`resource /redfish/v1/${req.parts.join('/')}`);
  }

  /** A node collection, or a resource of one of its members. */
  private async node(req: RedfishRequest, name: string, caller: Caller): Promise<Reply> {
    const c = this.collections.get(name);
    if (!c) throw missing(`resource /redfish/v1/${name}`);
    const [, id, ...rest] = req.parts;
    if (id === undefined) {
      allow('GET,HEAD', req.method);
      const members = [...caller.nodes].sort().map((u) => `/redfish/v1/${name}/${u}`);
      return ok(collection(`/redfish/v1/${name}`, c.type, `${name} Collection`, members));
    }
    const uuid = UUID.test(id) ? id.toLowerCase() : this.o.uuidOf(id);
    if (uuid === null || !caller.nodes.has(uuid)) throw missing(`${name.replace(/s$/, '')} '${id}'`);
    if (uuid !== id) {
      // A node addressed by name: send the client to its UUID (it re-sends the request there).
      const location = `/redfish/v1/${[name, uuid, ...rest].map(encodeURIComponent).join('/')}${req.query}`;
      return { status: 307, body: null, headers: { Location: location } };
    }
    const view = await this.o.nodeView(uuid);
    const [resource = '', ...below] = rest;
    const handle = c.resources.get(resource);
    if (!handle) throw missing(c.unknown(view, rest));
    return handle(req, view, below);
  }
}
