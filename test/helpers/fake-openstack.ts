/**
 * A small in-memory cloud over HTTP on 127.0.0.1:0 for tests that enrol without a real OpenStack:
 * Ironic (`/ironic`, API 1.82), Nova (`/nova/v2.1`, 2.93), Glance (`/glance`) and Placement
 * (`/placement`), no authentication (clouds.yaml `auth_type: none` with endpoint overrides, see
 * {@link FakeCloud.cloudsYaml}). Only the calls tenks' REST adapters make (coordinator/openstack/)
 * are answered. Provision-state changes complete at once and never touch a BMC, so nodes may name
 * any BMC address (an upstream file's `ipmi_address: 192.168.33.4`, say); passwords in driver_info
 * are answered as `******`, as Ironic does.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NovaFlavor } from '../../coordinator/openstack/index.js';

type Json = Record<string, unknown>;

/** An Ironic node as the fake keeps it. */
export type FakeIronicNode = Json & { uuid: string; name: string | null; provision_state: string };

/** A Nova flavor as the fake keeps it: as the adapter reads it. */
export type FakeFlavor = NovaFlavor;

/** The running fake cloud. */
export interface FakeCloud {
  url: string;
  nodes: Map<string, FakeIronicNode>;
  ports: Map<string, Json & { uuid: string; node_uuid: string }>;
  flavors: Map<string, FakeFlavor>;
  /** Glance images by name → id. */
  images: Map<string, string>;
  /** Every request, `METHOD /path`. */
  requests: string[];
  /** A clouds.yaml with this cloud as `name`. */
  cloudsYaml(name: string): string;
  close(): Promise<void>;
}

const AFTER: Record<string, string> = {
  manage: 'manageable',
  provide: 'available',
  inspect: 'manageable',
  active: 'active',
  deleted: 'available',
  abort: 'manageable',
};

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Applies JSON patch ops (add, replace, remove) to `target`, as Ironic does to nodes and ports. */
function applyPatch(target: Json, ops: unknown): void {
  if (!Array.isArray(ops)) throw new Error('a JSON patch is a list');
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.path !== 'string') throw new Error('bad patch op');
    const parts = raw.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (last === undefined) throw new Error('empty patch path');
    let at: Json = target;
    for (const p of parts) {
      const next = at[p];
      if (!isObject(next)) at[p] = {};
      at = at[p] as Json;
    }
    if (raw.op === 'remove') Reflect.deleteProperty(at, last);
    else at[last] = raw.value;
  }
}

function hidePasswords(n: Json): Json {
  const info = isObject(n.driver_info) ? { ...n.driver_info } : {};
  for (const k of Object.keys(info)) if (k.endsWith('password')) info[k] = '******';
  return { ...n, driver_info: info };
}

/** Starts the fake cloud; `images` are Glance's (name → id). */
export async function startFakeCloud(o: { images?: Record<string, string> } = {}): Promise<FakeCloud> {
  const nodes = new Map<string, FakeIronicNode>();
  const ports = new Map<string, Json & { uuid: string; node_uuid: string }>();
  const flavors = new Map<string, FakeFlavor>();
  const images = new Map(Object.entries(o.images ?? {}));
  const requests: string[] = [];

  const findNode = (ident: string): FakeIronicNode | undefined =>
    nodes.get(ident) ?? [...nodes.values()].find((n) => n.name === ident);
  const ironicError = (status: number, faultstring: string): [number, Json] => [
    status,
    { error_message: JSON.stringify({ faultstring, faultcode: 'Client', debuginfo: null }) },
  ];
  const flavorView = (f: FakeFlavor): Json => ({
    id: f.id,
    name: f.name,
    ram: f.ram,
    vcpus: f.vcpus,
    disk: f.disk,
    'os-flavor-access:is_public': f.isPublic,
    extra_specs: f.extraSpecs,
  });

  const ironic = (method: string, path: string, q: URLSearchParams, body: unknown): [number, unknown] => {
    if (path === '/' || path === '')
      return [
        200,
        {
          name: 'OpenStack Ironic API',
          default_version: { id: 'v1', status: 'CURRENT', min_version: '1.1', version: '1.82' },
          versions: [{ id: 'v1', status: 'CURRENT', min_version: '1.1', version: '1.82' }],
        },
      ];
    if (path === '/v1/nodes' && method === 'GET')
      return [200, { nodes: [...nodes.values()].map((n) => ({ uuid: n.uuid })) }];
    if (path === '/v1/nodes/detail' && method === 'GET')
      return [200, { nodes: [...nodes.values()].map(hidePasswords) }];
    if (path === '/v1/nodes' && method === 'POST') {
      const b = isObject(body) ? body : {};
      const name = typeof b.name === 'string' ? b.name : null;
      if (name !== null && findNode(name)) return ironicError(409, `A node with name ${name} already exists.`);
      const node: FakeIronicNode = {
        driver_info: {},
        properties: {},
        extra: {},
        traits: [],
        ...b,
        uuid: typeof b.uuid === 'string' ? b.uuid : randomUUID(),
        name,
        provision_state: 'enroll',
        target_provision_state: null,
        power_state: 'power off',
        target_power_state: null,
        maintenance: false,
        last_error: null,
        conductor_group: typeof b.conductor_group === 'string' ? b.conductor_group : '',
      };
      nodes.set(node.uuid, node);
      return [201, hidePasswords(node)];
    }
    const nm = /^\/v1\/nodes\/([^/]+)(\/.*)?$/.exec(path);
    if (nm) {
      const node = findNode(decodeURIComponent(nm[1] ?? ''));
      if (!node) return ironicError(404, `Node ${nm[1] ?? ''} could not be found.`);
      const sub = nm[2] ?? '';
      if (sub === '' && method === 'GET') return [200, hidePasswords(node)];
      if (sub === '' && method === 'PATCH') {
        applyPatch(node, body);
        return [200, hidePasswords(node)];
      }
      if (sub === '' && method === 'DELETE') {
        nodes.delete(node.uuid);
        for (const [id, p] of ports) if (p.node_uuid === node.uuid) ports.delete(id);
        return [204, null];
      }
      if (sub === '/traits' && method === 'PUT') {
        node.traits = isObject(body) && Array.isArray(body.traits) ? body.traits : [];
        return [204, null];
      }
      if (sub === '/states/provision' && method === 'PUT') {
        const target = isObject(body) && typeof body.target === 'string' ? body.target : '';
        const next = AFTER[target];
        if (next === undefined) return ironicError(400, `unknown provision target ${target}`);
        node.provision_state = next;
        return [202, null];
      }
      if (sub === '/states/power' && method === 'PUT') {
        const target = isObject(body) && typeof body.target === 'string' ? body.target : '';
        node.power_state = target.includes('off') ? 'power off' : 'power on';
        return [202, null];
      }
      if (sub === '/maintenance') {
        node.maintenance = method === 'PUT';
        return [202, null];
      }
    }
    if (path === '/v1/ports/detail' && method === 'GET') {
      const of = q.get('node_uuid');
      return [200, { ports: [...ports.values()].filter((p) => of === null || p.node_uuid === of) }];
    }
    if (path === '/v1/ports' && method === 'POST') {
      const b = isObject(body) ? body : {};
      const port = {
        pxe_enabled: true,
        extra: {},
        local_link_connection: {},
        ...b,
        uuid: randomUUID(),
        node_uuid: String(b.node_uuid),
      };
      ports.set(port.uuid, port);
      return [201, port];
    }
    const pm = /^\/v1\/ports\/([^/]+)$/.exec(path);
    if (pm) {
      const port = ports.get(decodeURIComponent(pm[1] ?? ''));
      if (!port) return ironicError(404, `Port ${pm[1] ?? ''} could not be found.`);
      if (method === 'PATCH') {
        applyPatch(port, body);
        return [200, port];
      }
      if (method === 'DELETE') {
        ports.delete(port.uuid);
        return [204, null];
      }
    }
    return ironicError(404, `no route ${method} ${path}`);
  };

  const nova = (method: string, path: string, body: unknown): [number, unknown] => {
    if (path === '/' || path === '')
      return [200, { version: { id: 'v2.1', status: 'CURRENT', version: '2.93', min_version: '2.1' } }];
    if (path === '/flavors' && method === 'GET')
      return [200, { flavors: [...flavors.values()].slice(0, 1).map(flavorView) }];
    if (path === '/flavors/detail' && method === 'GET')
      return [200, { flavors: [...flavors.values()].map(flavorView) }];
    if (path === '/flavors' && method === 'POST') {
      const f = isObject(body) && isObject(body.flavor) ? body.flavor : {};
      const flavor: FakeFlavor = {
        id: randomUUID(),
        name: String(f.name),
        ram: Number(f.ram),
        vcpus: Number(f.vcpus),
        disk: Number(f.disk),
        isPublic: f['os-flavor-access:is_public'] !== false,
        extraSpecs: {},
      };
      flavors.set(flavor.id, flavor);
      return [200, { flavor: flavorView(flavor) }];
    }
    const m = /^\/flavors\/([^/]+)(?:\/os-extra_specs(?:\/([^/]+))?)?$/.exec(path);
    const flavor = m ? flavors.get(decodeURIComponent(m[1] ?? '')) : undefined;
    if (m && !flavor) return [404, { itemNotFound: { code: 404, message: 'Flavor could not be found.' } }];
    if (m && flavor) {
      const isSpecs = path.includes('/os-extra_specs');
      if (!isSpecs && method === 'DELETE') {
        flavors.delete(flavor.id);
        return [202, null];
      }
      if (isSpecs && method === 'GET') return [200, { extra_specs: flavor.extraSpecs }];
      if (isSpecs && method === 'POST') {
        const specs = isObject(body) && isObject(body.extra_specs) ? body.extra_specs : {};
        for (const [k, v] of Object.entries(specs)) flavor.extraSpecs[k] = String(v);
        return [200, { extra_specs: flavor.extraSpecs }];
      }
      if (isSpecs && method === 'DELETE' && m[2] !== undefined) {
        Reflect.deleteProperty(flavor.extraSpecs, decodeURIComponent(m[2]));
        return [200, null];
      }
    }
    return [404, { itemNotFound: { code: 404, message: `no route ${method} ${path}` } }];
  };

  const glance = (path: string, q: URLSearchParams): [number, unknown] => {
    if (path === '/v2/images') {
      const name = q.get('name');
      const id = name === null ? undefined : images.get(name);
      return [200, { images: id === undefined ? [] : [{ id, name }] }];
    }
    const m = /^\/v2\/images\/([^/]+)$/.exec(path);
    if (m) return [...images.values()].includes(m[1] ?? '') ? [200, { id: m[1] }] : [404, { message: 'not found' }];
    return [404, { message: 'no route' }];
  };

  const placement = (path: string): [number, unknown] =>
    path === '/resource_providers' ? [200, { resource_providers: [{ uuid: randomUUID(), name: 'fake' }] }] : [404, {}];

  const handle = (req: IncomingMessage, res: ServerResponse, text: string): void => {
    const u = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    requests.push(`${method} ${u.pathname}`);
    let body: unknown = null;
    try {
      body = text === '' ? null : (JSON.parse(text) as unknown);
    } catch {
      body = null;
    }
    const [service, rest] = ((): [string, string] => {
      const m = /^\/(ironic|nova\/v2\.1|glance|placement)(\/.*)?$/.exec(u.pathname);
      return [m?.[1] ?? '', m?.[2] ?? '/'];
    })();
    let out: [number, unknown];
    try {
      if (service === 'ironic') out = ironic(method, rest, u.searchParams, body);
      else if (service === 'nova/v2.1') out = nova(method, rest, body);
      else if (service === 'glance') out = glance(rest, u.searchParams);
      else if (service === 'placement') out = placement(rest);
      else out = [404, { message: `no service at ${u.pathname}` }];
    } catch (e) {
      out = [400, { message: (e as Error).message }];
    }
    const [status, json] = out;
    if (json === null) {
      res.writeHead(status);
      res.end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(json));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    nodes,
    ports,
    flavors,
    images,
    requests,
    cloudsYaml: (name) =>
      [
        'clouds:',
        `  ${name}:`,
        '    auth_type: none',
        `    baremetal_endpoint_override: ${url}/ironic`,
        `    compute_endpoint_override: ${url}/nova/v2.1`,
        `    image_endpoint_override: ${url}/glance`,
        `    placement_endpoint_override: ${url}/placement`,
        '',
      ].join('\n'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
