/**
 * The OpenStack REST adapters against fake Keystone, Ironic, Nova, Placement and Glance servers on
 * 127.0.0.1:0 that record every request: Keystone flows and catalog selection, token reuse and
 * re-authentication, Ironic microversion negotiation, pagination, retries and provision-state
 * waits, Nova flavors and extra specs, Placement, Glance, deadlines, and TLS (a CA made with
 * openssl, a client certificate, `insecure`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nullLogger, TenksError, type LogFields, type Logger } from '../../common/index.js';
import { connectOpenStack, type OpenStackConnection } from '../../coordinator/openstack/index.js';

const execFileAsync = promisify(execFile);
const SECRET = 'pw-never-in-logs-1234';

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
}

type Reply = { status: number; json?: unknown; text?: string; headers?: Record<string, string> } | 'hang';
type Handler = (r: Recorded) => Reply;

interface Fake {
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

async function serve(handler: Handler, tls?: { cert: Buffer; key: Buffer; ca?: Buffer }): Promise<Fake> {
  const requests: Recorded[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const text = Buffer.concat(chunks).toString();
      const r: Recorded = {
        method: req.method ?? '',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: text === '' ? null : (JSON.parse(text) as unknown),
      };
      requests.push(r);
      const reply = handler(r);
      if (reply === 'hang') return;
      const body = reply.json === undefined ? (reply.text ?? '') : JSON.stringify(reply.json);
      res.writeHead(reply.status, {
        ...(reply.json === undefined ? { 'Content-Type': 'text/plain' } : { 'Content-Type': 'application/json' }),
        ...reply.headers,
      });
      res.end(body);
    });
  };
  const server = tls
    ? createHttpsServer(
        { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true } : {}) },
        onRequest,
      )
    : createHttpServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

const ironicError = (status: number, faultstring: string): Reply => ({
  status,
  json: { error_message: JSON.stringify({ faultstring, faultcode: 'Client', debuginfo: null }) },
});

interface FakeNode {
  uuid: string;
  name: string;
  provision_state: string;
  target_provision_state: string | null;
  last_error: string | null;
  maintenance: boolean;
  /** States the node steps through, one per GET, after a provision action. */
  script: { provision_state: string; target_provision_state: string | null; last_error?: string }[];
}

/** A fake Ironic: versions at `/`, nodes and ports, tokens checked by `authorize`. */
class FakeIronic {
  max = '1.82';
  nodes: FakeNode[] = [];
  ports: { uuid: string; node_uuid: string; address: string }[] = [];
  lockedReplies = 0;
  unavailableGets = 0;
  authorize: (headers: IncomingHttpHeaders) => boolean = () => true;
  /** Host put in `next` links (a proxy's idea of the public URL). */
  linkBase = 'http://ironic.public.example:6385';

  handle = (r: Recorded): Reply => {
    if (r.path === '/' && r.method === 'GET') {
      return {
        status: 200,
        json: {
          name: 'OpenStack Ironic API',
          default_version: { id: 'v1', status: 'CURRENT', min_version: '1.1', version: this.max },
          versions: [{ id: 'v1', status: 'CURRENT', min_version: '1.1', version: this.max }],
        },
        headers: { 'X-OpenStack-Ironic-API-Maximum-Version': this.max },
      };
    }
    if (!this.authorize(r.headers)) return ironicError(401, 'The request you have made requires authentication.');
    if (r.headers['x-openstack-ironic-api-version'] === undefined) return ironicError(400, 'no version header');
    const m = /^\/v1\/nodes\/([^/]+)(\/.*)?$/.exec(r.path);
    if (r.path === '/v1/nodes/detail' && r.method === 'GET') {
      if (this.unavailableGets > 0) {
        this.unavailableGets--;
        return { status: 503, text: 'Service Unavailable' };
      }
      return this.page(
        this.nodes.map((n) => this.view(n)),
        'nodes',
        r,
        '/v1/nodes/detail',
      );
    }
    if (r.path === '/v1/nodes' && r.method === 'GET') {
      const fields = (r.query.get('fields') ?? 'uuid,name').split(',');
      const short = this.nodes.map(
        (n) => Object.fromEntries(fields.map((f) => [f, this.view(n)[f]])) as { uuid: string },
      );
      return this.page(short, 'nodes', r, '/v1/nodes');
    }
    if (r.path === '/v1/ports/detail' && r.method === 'GET') {
      const node = r.query.get('node_uuid');
      return this.page(
        this.ports.filter((p) => p.node_uuid === node),
        'ports',
        r,
        '/v1/ports/detail',
      );
    }
    if (r.path === '/v1/nodes' && r.method === 'POST') {
      if (this.unavailableGets > 0)
        return ironicError(503, 'No conductor service registered which supports driver ipmi.');
      const b = r.body as { name?: string; driver?: string };
      if (b.driver !== 'ipmi') return ironicError(400, `Driver ${String(b.driver)} is not enabled.`);
      const n: FakeNode = {
        uuid: `uuid-${this.nodes.length}`,
        name: b.name ?? '',
        provision_state: 'enroll',
        target_provision_state: null,
        last_error: null,
        maintenance: false,
        script: [],
      };
      this.nodes.push(n);
      return { status: 201, json: this.view(n) };
    }
    if (r.path === '/v1/ports' && r.method === 'POST') {
      const p = { uuid: `port-${this.ports.length}`, ...(r.body as { node_uuid: string; address: string }) };
      this.ports.push(p);
      return { status: 201, json: p };
    }
    if (m) {
      const ident = decodeURIComponent(m[1] ?? '');
      const n = this.nodes.find((x) => x.uuid === ident || x.name === ident);
      if (!n) return ironicError(404, `Node ${ident} could not be found.`);
      const sub = m[2] ?? '';
      if (sub === '' && r.method === 'GET') {
        const step = n.script.shift();
        if (step) Object.assign(n, { last_error: null, ...step });
        return { status: 200, json: this.view(n) };
      }
      if (sub === '' && r.method === 'PATCH') {
        if (this.lockedReplies > 0) {
          this.lockedReplies--;
          return ironicError(
            409,
            `Node ${n.uuid} is locked by host c1, please retry after the current operation is completed.`,
          );
        }
        return { status: 200, json: this.view(n) };
      }
      if (sub === '' && r.method === 'DELETE') {
        this.nodes = this.nodes.filter((x) => x !== n);
        return { status: 204 };
      }
      if (sub === '/states/provision' && r.method === 'PUT') return { status: 202 };
      if (sub === '/states/power' && r.method === 'PUT') return { status: 202 };
      if (sub === '/traits' && r.method === 'PUT') return { status: 204 };
      if (sub === '/maintenance') {
        n.maintenance = r.method === 'PUT';
        return { status: 202 };
      }
    }
    return ironicError(404, `no route ${r.method} ${r.path}`);
  };

  private view(n: FakeNode): { uuid: string } & Record<string, unknown> {
    return {
      uuid: n.uuid,
      name: n.name,
      driver: 'ipmi',
      provision_state: n.provision_state,
      target_provision_state: n.target_provision_state,
      last_error: n.last_error,
      maintenance: n.maintenance,
      conductor_group: '',
      shard: null,
      boot_interface: 'ipxe',
    };
  }

  private page(items: { uuid: string }[], key: string, r: Recorded, path: string): Reply {
    const limit = Number(r.query.get('limit') ?? '1000');
    const marker = r.query.get('marker');
    const start = marker === null ? 0 : items.findIndex((x) => x.uuid === marker) + 1;
    const page = items.slice(start, start + limit);
    const last = page.at(-1);
    const more = start + limit < items.length && last !== undefined;
    return {
      status: 200,
      json: {
        [key]: page,
        ...(more ? { next: `${this.linkBase}${path}?limit=${limit}&marker=${last.uuid}` } : {}),
      },
    };
  }
}

/** A fake Keystone that issues `tok-N`, with a catalog. */
class FakeKeystone {
  issued: string[] = [];
  valid = new Set<string>();
  catalog: unknown[] = [];
  lifetimeMs = 3_600_000;
  password = SECRET;

  handle = (r: Recorded): Reply => {
    if (r.path !== '/v3/auth/tokens' || r.method !== 'POST')
      return { status: 404, json: { error: { message: 'nope' } } };
    const identity = (r.body as { auth: { identity: Record<string, unknown> } }).auth.identity;
    const methods = identity.methods as string[];
    const ok =
      methods[0] === 'application_credential'
        ? (identity.application_credential as { secret: string }).secret === this.password
        : (identity.password as { user: { password: string } }).user.password === this.password;
    if (!ok) {
      return {
        status: 401,
        json: {
          error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' },
        },
      };
    }
    const id = `tok-${this.issued.length + 1}`;
    this.issued.push(id);
    this.valid.add(id);
    return {
      status: 201,
      headers: { 'X-Subject-Token': id },
      json: { token: { expires_at: new Date(Date.now() + this.lifetimeMs).toISOString(), catalog: this.catalog } },
    };
  };

  authorize = (h: IncomingHttpHeaders): boolean =>
    typeof h['x-auth-token'] === 'string' && this.valid.has(h['x-auth-token']);
}

/** A fake Nova (flavors, extra specs) under /v2.1. */
class FakeNova {
  max = '2.93';
  flavors: {
    id: string;
    name: string;
    ram: number;
    vcpus: number;
    disk: number;
    public: boolean;
    specs: Record<string, string>;
  }[] = [];
  token = 'admin:admin';

  handle = (r: Recorded): Reply => {
    if (r.headers['x-auth-token'] !== this.token)
      return { status: 401, json: { unauthorized: { code: 401, message: 'no' } } };
    if (r.path === '/v2.1/' || r.path === '/v2.1') {
      return {
        status: 200,
        json: { version: { id: 'v2.1', status: 'CURRENT', version: this.max, min_version: '2.1' } },
      };
    }
    const version = /^compute (\d+\.\d+)$/.exec(String(r.headers['openstack-api-version'] ?? ''))?.[1] ?? '2.1';
    const inline = Number(version.split('.')[1]) >= 61;
    if (r.path === '/v2.1/flavors' && r.method === 'GET') {
      const limit = Number(r.query.get('limit') ?? '1000');
      return { status: 200, json: { flavors: this.flavors.slice(0, limit).map((f) => ({ id: f.id, name: f.name })) } };
    }
    if (r.path === '/v2.1/flavors/detail' && r.method === 'GET') {
      if (r.query.get('is_public') !== 'None')
        return { status: 400, json: { badRequest: { code: 400, message: 'is_public' } } };
      const limit = 2;
      const marker = r.query.get('marker');
      const start = marker === null ? 0 : this.flavors.findIndex((f) => f.id === marker) + 1;
      const page = this.flavors.slice(start, start + limit);
      const last = page.at(-1);
      return {
        status: 200,
        json: {
          flavors: page.map((f) => this.view(f, inline)),
          ...(start + limit < this.flavors.length && last
            ? {
                flavors_links: [
                  {
                    rel: 'next',
                    href: `http://nova.public:8774/v2.1/flavors/detail?is_public=None&limit=2&marker=${last.id}`,
                  },
                ],
              }
            : {}),
        },
      };
    }
    if (r.path === '/v2.1/flavors' && r.method === 'POST') {
      const b = (r.body as { flavor: Record<string, unknown> }).flavor;
      if (this.flavors.some((f) => f.name === b.name)) {
        return {
          status: 409,
          json: { conflictingRequest: { code: 409, message: `Flavor with name ${String(b.name)} already exists.` } },
        };
      }
      const f = {
        id: `f${this.flavors.length + 1}`,
        name: String(b.name),
        ram: Number(b.ram),
        vcpus: Number(b.vcpus),
        disk: Number(b.disk),
        public: b['os-flavor-access:is_public'] !== false,
        specs: {},
      };
      this.flavors.push(f);
      return { status: 200, json: { flavor: this.view(f, inline) } };
    }
    const m = /^\/v2\.1\/flavors\/([^/]+)(?:\/os-extra_specs(?:\/(.+))?)?$/.exec(r.path);
    const f = m ? this.flavors.find((x) => x.id === m[1]) : undefined;
    if (!m || !f)
      return {
        status: 404,
        json: { itemNotFound: { code: 404, message: `Flavor ${m?.[1] ?? '?'} could not be found.` } },
      };
    const specs = r.path.includes('/os-extra_specs');
    if (!specs && r.method === 'DELETE') {
      this.flavors = this.flavors.filter((x) => x !== f);
      return { status: 202 };
    }
    if (specs && r.method === 'GET') return { status: 200, json: { extra_specs: f.specs } };
    if (specs && r.method === 'POST') {
      Object.assign(f.specs, (r.body as { extra_specs: Record<string, string> }).extra_specs);
      return { status: 200, json: { extra_specs: f.specs } };
    }
    if (specs && r.method === 'DELETE' && m[2] !== undefined) {
      const key = decodeURIComponent(m[2]);
      if (!(key in f.specs))
        return { status: 404, json: { itemNotFound: { code: 404, message: `key ${key} not found` } } };
      f.specs = Object.fromEntries(Object.entries(f.specs).filter(([k]) => k !== key));
      return { status: 200 };
    }
    return { status: 404, json: { itemNotFound: { code: 404, message: 'no route' } } };
  };

  private view(f: FakeNova['flavors'][number], inline: boolean): Record<string, unknown> {
    return {
      id: f.id,
      name: f.name,
      ram: f.ram,
      vcpus: f.vcpus,
      disk: f.disk,
      'os-flavor-access:is_public': f.public,
      ...(inline ? { extra_specs: f.specs } : {}),
    };
  }
}

function placementHandler(classes: string[]): Handler {
  return (r) => {
    if (r.headers['openstack-api-version'] !== 'placement 1.4') {
      return { status: 400, json: { errors: [{ status: 400, title: 'Bad Request', detail: 'needs 1.4' }] } };
    }
    const rc = r.query.get('resources')?.split(':')[0] ?? '';
    return { status: 200, json: { resource_providers: classes.includes(rc) ? [{ uuid: 'rp1', name: 'node' }] : [] } };
  };
}

const IMAGE_ID = '0b8c6a0e-1d8c-4a70-8d2c-0b9b7c1e5f11';
const glanceHandler: Handler = (r) => {
  if (r.path === `/v2/images/${IMAGE_ID}`) return { status: 200, json: { id: IMAGE_ID, name: 'ipa.kernel' } };
  if (r.path.startsWith('/v2/images/')) return { status: 404, text: '404 Not Found\n\nNo image found' };
  const name = r.query.get('name');
  const images = [
    { id: IMAGE_ID, name: 'ipa.kernel' },
    { id: 'i2', name: 'dup' },
    { id: 'i3', name: 'dup' },
  ].filter((i) => i.name === name);
  return { status: 200, json: { images } };
};

/** Logs every line as JSON, so a test can look for secrets. */
function recordingLogger(lines: string[]): Logger {
  const mk = (base: LogFields): Logger => {
    const write = (level: string) => (message: string, fields?: LogFields) => {
      lines.push(JSON.stringify({ level, message, ...base, ...fields }));
    };
    return {
      debug: write('debug'),
      info: write('info'),
      warn: write('warn'),
      error: write('error'),
      child: (f) => mk({ ...base, ...f }),
    };
  };
  return mk({});
}

async function rejection(p: Promise<unknown>): Promise<TenksError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('OpenStack REST adapters', function () {
  let dir: string;
  let fakes: Fake[];
  let conns: OpenStackConnection[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tenks-os-'));
    fakes = [];
    conns = [];
  });

  afterEach(async () => {
    for (const c of conns) c.close();
    await Promise.all(fakes.map((f) => f.close()));
    await rm(dir, { recursive: true, force: true });
  });

  async function fake(handler: Handler, tls?: { cert: Buffer; key: Buffer; ca?: Buffer }): Promise<Fake> {
    const f = await serve(handler, tls);
    fakes.push(f);
    return f;
  }

  async function connect(cloudsYaml: string, o: { log?: Logger; cloud?: string } = {}): Promise<OpenStackConnection> {
    await writeFile(join(dir, 'clouds.yaml'), cloudsYaml);
    const c = await connectOpenStack(
      { cloud: o.cloud ?? 'lab' },
      { env: {}, cwd: dir, searchDirs: [dir], log: o.log ?? nullLogger, timeoutMs: 5000, ironicPollIntervalMs: 20 },
    );
    conns.push(c);
    return c;
  }

  /** Keystone with a catalog pointing at the given fakes, and a password cloud. */
  async function keystoneCloud(
    services: { ironic?: Fake; nova?: Fake; placement?: Fake; glance?: Fake },
    extra = '',
  ): Promise<{ ks: FakeKeystone; ksFake: Fake; yaml: string }> {
    const ks = new FakeKeystone();
    const ksFake = await fake(ks.handle);
    const entry = (type: string, f: Fake | undefined, suffix = ''): unknown =>
      f && {
        type,
        name: type,
        endpoints: [
          // The public R1 endpoint is a closed port: picking it fails the test.
          { interface: 'public', region_id: 'R1', region: 'R1', url: 'http://127.0.0.1:9' },
          { interface: 'internal', region_id: 'R1', region: 'R1', url: `${f.url}${suffix}` },
          { interface: 'public', region_id: 'R2', region: 'R2', url: `${f.url}${suffix}/` },
        ],
      };
    ks.catalog = [
      entry('baremetal', services.ironic),
      entry('compute', services.nova, '/v2.1'),
      entry('placement', services.placement),
      entry('image', services.glance),
      {
        type: 'identity',
        name: 'keystone',
        endpoints: [{ interface: 'public', region_id: 'R1', url: `${ksFake.url}/v3` }],
      },
    ].filter((x) => x !== undefined);
    const yaml = `clouds:
  lab:
    auth:
      auth_url: ${ksFake.url}
      username: tenks
      password: ${SECRET}
      project_name: baremetal
      user_domain_name: Default
      project_domain_id: default
    region_name: R1
    interface: internal
${extra}`;
    return { ks, ksFake, yaml };
  }

  it('authenticates with a password, picks endpoints by interface and region, and sends the token', async () => {
    const ironic = new FakeIronic();
    ironic.nodes.push({
      uuid: 'u1',
      name: 'tk0',
      provision_state: 'enroll',
      target_provision_state: null,
      last_error: null,
      maintenance: false,
      script: [],
    });
    const ir = await fake(ironic.handle);
    const nova = new FakeNova();
    const nv = await fake(nova.handle);
    const pl = await fake(placementHandler(['CUSTOM_TK']));
    const { ks, ksFake, yaml } = await keystoneCloud({ ironic: ir, nova: nv, placement: pl });
    ironic.authorize = ks.authorize;
    nova.token = 'tok-1';
    const lines: string[] = [];
    const c = await connect(yaml, { log: recordingLogger(lines) });
    assert.equal(c.cloud, 'lab');
    assert.deepEqual(c.endpoints, { baremetal: ir.url, compute: `${nv.url}/v2.1`, placement: pl.url, image: null });
    assert.equal(c.glance, null, 'not in the catalog, no override');
    const auth = ksFake.requests[0];
    assert.equal(auth?.path, '/v3/auth/tokens', 'auth_url without /v3 gets it');
    assert.deepEqual(auth.body, {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'tenks', domain: { name: 'Default' }, password: SECRET } },
        },
        scope: { project: { name: 'baremetal', domain: { id: 'default' } } },
      },
    });
    assert.equal((await c.ironic?.getNode('tk0'))?.uuid, 'u1');
    assert.equal(await c.ironic?.getNode('missing'), null);
    assert.equal((await c.nova?.listFlavors())?.length, 0);
    assert.equal(await c.placement?.hasInventory('tk'), true);
    assert.equal(await c.placement?.hasInventory('other'), false);
    assert.equal(ks.issued.length, 1, 'one token for everything');
    for (const r of ir.requests.filter((x) => x.path.startsWith('/v1'))) {
      assert.equal(r.headers['x-auth-token'], 'tok-1');
      assert.equal(r.headers['x-openstack-ironic-api-version'], '1.82');
    }
    assert.equal(c.ironic?.microversion, '1.82');
    assert.ok(c.ironic.supports('1.46'));
    assert.ok(!c.ironic.supports('1.83'));
    assert.ok(lines.length > 0);
    assert.ok(
      lines.every((l) => !l.includes(SECRET)),
      'the password is never logged',
    );
  });

  it('authenticates with an application credential and follows region_name to R2 public', async () => {
    const ironic = new FakeIronic();
    const ir = await fake(ironic.handle);
    const { ks, ksFake } = await keystoneCloud({ ironic: ir });
    ironic.authorize = ks.authorize;
    const c = await connect(`clouds:
  lab:
    auth_type: v3applicationcredential
    auth:
      auth_url: ${ksFake.url}/v3/
      application_credential_id: ac-1
      application_credential_secret: ${SECRET}
    region_name: R2
`);
    assert.equal(c.endpoints.baremetal, ir.url);
    assert.deepEqual(ksFake.requests[0]?.body, {
      auth: {
        identity: { methods: ['application_credential'], application_credential: { id: 'ac-1', secret: SECRET } },
      },
    });
    assert.deepEqual(await c.ironic?.listNodes(), []);
  });

  it("fails with PERMISSION and Keystone's message on bad credentials, without the secret", async () => {
    const { ks, yaml } = await keystoneCloud({});
    ks.password = 'something else';
    const e = await rejection(connect(yaml));
    assert.equal(e.code, 'PERMISSION');
    assert.match(
      e.message,
      /^keystone at http:\/\/127\.0\.0\.1:\d+\/v3: The request you have made requires authentication\./,
    );
    assert.ok(!e.message.includes(SECRET) && !(e.hint ?? '').includes(SECRET));
  });

  it('reuses the token until near expiry, and authenticates again once on 401', async () => {
    const ironic = new FakeIronic();
    const ir = await fake(ironic.handle);
    const { ks, yaml } = await keystoneCloud({ ironic: ir });
    ironic.authorize = ks.authorize;
    ks.lifetimeMs = 600;
    const c = await connect(yaml);
    await c.ironic?.listNodes();
    await c.ironic?.listNodes();
    assert.equal(ks.issued.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 450));
    await c.ironic?.listNodes();
    assert.equal(ks.issued.length, 2, 'a token past half its short life is renewed');
    ks.lifetimeMs = 3_600_000;
    ks.valid.clear();
    await c.ironic?.listNodes();
    assert.equal(ks.issued.length, 3, 'a revoked token: 401, then one new token');
    ironic.authorize = () => false;
    const e = await rejection(c.ironic?.listNodes() ?? Promise.resolve());
    assert.equal(e.code, 'PERMISSION');
    assert.equal(ks.issued.length, 4, 'only one more attempt');
    assert.match(
      e.message,
      /^ironic at http:\/\/127\.0\.0\.1:\d+: The request you have made requires authentication\./,
    );
  });

  it('negotiates the Ironic microversion, and refuses an Ironic below 1.46', async () => {
    const ironic = new FakeIronic();
    const ir = await fake(ironic.handle);
    const yaml = (extra = ''): string =>
      `clouds:\n  lab:\n    auth_type: none\n    baremetal_endpoint_override: ${ir.url}/v1\n${extra}`;
    ironic.max = '1.60';
    assert.equal((await connect(yaml())).ironic?.microversion, '1.60');
    ironic.max = '1.99';
    assert.equal((await connect(yaml())).ironic?.microversion, '1.82');
    assert.equal((await connect(yaml('    baremetal_api_version: "1.50"\n'))).ironic?.microversion, '1.50');
    ironic.max = '1.20';
    const e = await rejection(connect(yaml()));
    assert.equal(e.code, 'UNSUPPORTED');
    assert.match(e.message, /offers API versions 1\.1 to 1\.20/);
    assert.match(e.message, /needs at least 1\.46/);
    const notIronic = await fake(() => ({ status: 200, json: { versions: [{ id: 'v2.1', version: '' }] } }));
    const n = await rejection(
      connect(`clouds:\n  lab:\n    auth_type: none\n    auth: {endpoint: "${notIronic.url}"}\n`),
    );
    assert.equal(n.code, 'UNAVAILABLE');
    assert.match(n.message, /names no API versions/);
  });

  it('pages through nodes and ports by marker, whatever host the next link names', async () => {
    const ironic = new FakeIronic();
    for (let i = 0; i < 5; i++) {
      ironic.nodes.push({
        uuid: `u${i}`,
        name: `tk${i}`,
        provision_state: 'available',
        target_provision_state: null,
        last_error: null,
        maintenance: false,
        script: [],
      });
    }
    for (let i = 0; i < 3; i++) ironic.ports.push({ uuid: `p${i}`, node_uuid: 'u1', address: `52:54:00:00:00:0${i}` });
    ironic.ports.push({ uuid: 'px', node_uuid: 'u2', address: '52:54:00:00:00:ff' });
    const ir = await fake(ironic.handle);
    await writeFile(
      join(dir, 'clouds.yaml'),
      `clouds:\n  lab:\n    auth_type: none\n    auth: {endpoint: "${ir.url}"}\n`,
    );
    const c = await connectOpenStack({}, { env: {}, cwd: dir, searchDirs: [dir], log: nullLogger, ironicPageSize: 2 });
    conns.push(c);
    const small = c.ironic;
    assert.ok(small);
    const before = ir.requests.length;
    assert.deepEqual(
      (await small.listNodes()).map((n) => n.name),
      ['tk0', 'tk1', 'tk2', 'tk3', 'tk4'],
    );
    const pages = ir.requests.slice(before);
    assert.deepEqual(
      pages.map((r) => r.query.get('marker')),
      [null, 'u1', 'u3'],
    );
    assert.ok(pages.every((r) => r.query.get('limit') === '2'));
    assert.deepEqual(
      (await small.listPorts('u1')).map((p) => p.uuid),
      ['p0', 'p1', 'p2'],
    );
    assert.equal(ir.requests.at(-1)?.query.get('node_uuid'), 'u1');
  });

  it('creates, patches (retrying NodeLocked), moves and deletes nodes and ports', async () => {
    const ironic = new FakeIronic();
    const ir = await fake(ironic.handle);
    const c = await connect(`clouds:\n  lab:\n    auth_type: none\n    baremetal_endpoint_override: ${ir.url}\n`);
    const api = c.ironic;
    assert.ok(api);
    const bad = await rejection(api.createNode({ name: 'x', driver: 'nope' }));
    assert.equal(bad.code, 'INVALID_SPEC');
    assert.match(bad.message, /: Driver nope is not enabled\. \(POST \/v1\/nodes: 400\)$/);
    const n = await api.createNode({ name: 'tk0', driver: 'ipmi' });
    assert.equal(n.provision_state, 'enroll');
    ironic.lockedReplies = 2;
    const patched = await api.patchNode('tk0', [{ op: 'add', path: '/extra/a', value: 1 }]);
    assert.equal(patched.uuid, n.uuid);
    assert.equal(ir.requests.filter((r) => r.method === 'PATCH').length, 3, 'two NodeLocked, then done');
    await api.setTraits(n.uuid, ['CUSTOM_A']);
    await api.setProvisionState(n.uuid, 'manage');
    await api.setProvisionState(n.uuid, 'active', { deploy_steps: [] });
    await api.setPowerState(n.uuid, 'power on');
    await api.setMaintenance(n.uuid, true, 'tenks');
    await api.setMaintenance(n.uuid, false);
    const port = await api.createPort({ node_uuid: n.uuid, address: '52:54:00:aa:bb:cc' });
    assert.equal(port.node_uuid, n.uuid);
    await api.deleteNode('tk0');
    const gone = await rejection(api.deleteNode('tk0'));
    assert.equal(gone.code, 'NOT_FOUND');
    assert.match(gone.message, /Node tk0 could not be found\./);
    const bodies = ir.requests.filter((r) => r.method === 'PUT').map((r) => [r.path, r.body]);
    assert.deepEqual(bodies, [
      [`/v1/nodes/${n.uuid}/traits`, { traits: ['CUSTOM_A'] }],
      [`/v1/nodes/${n.uuid}/states/provision`, { target: 'manage' }],
      [`/v1/nodes/${n.uuid}/states/provision`, { deploy_steps: [], target: 'active' }],
      [`/v1/nodes/${n.uuid}/states/power`, { target: 'power on' }],
      [`/v1/nodes/${n.uuid}/maintenance`, { reason: 'tenks' }],
    ]);
    assert.ok(ir.requests.some((r) => r.method === 'DELETE' && r.path === `/v1/nodes/${n.uuid}/maintenance`));
  });

  it('waits for provision states: success, failed states with last_error, fallbacks, timeout, cancel', async () => {
    const ironic = new FakeIronic();
    const ir = await fake(ironic.handle);
    const c = await connect(`clouds:\n  lab:\n    auth_type: none\n    baremetal_endpoint_override: ${ir.url}\n`);
    const api = c.ironic;
    assert.ok(api);
    const node = (script: FakeNode['script']): FakeNode => {
      const n: FakeNode = {
        uuid: `w${ironic.nodes.length}`,
        name: `w${ironic.nodes.length}`,
        provision_state: 'enroll',
        target_provision_state: null,
        last_error: null,
        maintenance: false,
        script,
      };
      ironic.nodes.push(n);
      return n;
    };
    const ok = node([
      { provision_state: 'verifying', target_provision_state: 'manageable' },
      { provision_state: 'verifying', target_provision_state: 'manageable' },
      { provision_state: 'manageable', target_provision_state: null },
    ]);
    assert.equal((await api.waitForProvisionState(ok.uuid, ['manageable'], 5000)).provision_state, 'manageable');

    const failed = node([
      { provision_state: 'deploying', target_provision_state: 'active' },
      {
        provision_state: 'deploy failed',
        target_provision_state: 'active',
        last_error: 'Timeout reached while waiting for callback',
      },
    ]);
    const f = await rejection(api.waitForProvisionState(failed.uuid, ['active'], 5000));
    assert.equal(f.code, 'INTERNAL');
    assert.match(
      f.message,
      /node w1: deploy failed: Timeout reached while waiting for callback \(waiting for active\)/,
    );

    const back = node([
      { provision_state: 'verifying', target_provision_state: 'manageable' },
      {
        provision_state: 'enroll',
        target_provision_state: null,
        last_error: 'Failed to get power state: IPMI timeout',
      },
    ]);
    const b = await rejection(api.waitForProvisionState(back.uuid, ['manageable'], 5000));
    assert.equal(b.code, 'INTERNAL');
    assert.match(b.message, /back in enroll: Failed to get power state/);

    const moved = node([{ provision_state: 'available', target_provision_state: null }]);
    assert.equal((await rejection(api.waitForProvisionState(moved.uuid, ['active'], 5000))).code, 'CONFLICT');

    const slow = node(
      Array.from({ length: 1000 }, () => ({ provision_state: 'cleaning', target_provision_state: 'available' })),
    );
    const started = Date.now();
    const t = await rejection(api.waitForProvisionState(slow.uuid, ['available'], 300));
    assert.equal(t.code, 'TIMEOUT');
    assert.match(t.message, /still cleaning \(on the way to available\)/);
    assert.ok(Date.now() - started < 2000);

    const ac = new AbortController();
    setTimeout(() => {
      ac.abort();
    }, 100);
    const x = await rejection(api.waitForProvisionState(slow.uuid, ['available'], 10_000, ac.signal));
    assert.equal(x.code, 'CANCELLED');

    const gone = await rejection(api.waitForProvisionState('nope', ['available'], 1000));
    assert.equal(gone.code, 'NOT_FOUND');
  });

  it('manages Nova flavors and extra specs (noauth2 token, microversion 2.61 inline specs)', async () => {
    const nova = new FakeNova();
    const nv = await fake(nova.handle);
    const c = await connect(`clouds:
  lab:
    auth_type: admin_token
    auth:
      token: admin:admin
      endpoint: ${nv.url}/v2.1
`);
    assert.equal(c.ironic, null);
    assert.equal(c.placement, null);
    const api = c.nova;
    assert.ok(api);
    const f = await api.createFlavor({ name: 'bm.small', ram: 1024, vcpus: 1, disk: 10, isPublic: false });
    assert.deepEqual(f, { id: 'f1', name: 'bm.small', ram: 1024, vcpus: 1, disk: 10, isPublic: false, extraSpecs: {} });
    const dup = await rejection(api.createFlavor({ name: 'bm.small', ram: 1, vcpus: 1, disk: 1, isPublic: true }));
    assert.equal(dup.code, 'CONFLICT');
    assert.match(dup.message, /Flavor with name bm\.small already exists\./);
    await api.setExtraSpecs(f.id, { 'resources:CUSTOM_TK': '1', 'resources:VCPU': '0', 'trait:CUSTOM_X': 'required' });
    await api.deleteExtraSpec(f.id, 'trait:CUSTOM_X');
    for (let i = 2; i <= 4; i++) await api.createFlavor({ name: `bm.${i}`, ram: 1, vcpus: 1, disk: 1, isPublic: true });
    const before = nv.requests.length;
    const list = await api.listFlavors();
    assert.deepEqual(
      list.map((x) => x.name),
      ['bm.small', 'bm.2', 'bm.3', 'bm.4'],
    );
    assert.deepEqual(list[0]?.extraSpecs, { 'resources:CUSTOM_TK': '1', 'resources:VCPU': '0' });
    const listing = nv.requests.slice(before);
    assert.equal(listing.length, 2, 'two pages, specs inline');
    assert.ok(listing.every((r) => r.headers['openstack-api-version'] === 'compute 2.61'));
    assert.ok(nv.requests.every((r) => r.headers['x-auth-token'] === 'admin:admin'));
    const del = nv.requests.find((r) => r.method === 'DELETE');
    assert.equal(del?.path, '/v2.1/flavors/f1/os-extra_specs/trait%3ACUSTOM_X');
    await api.deleteFlavor('f2');
    const missing = await rejection(api.deleteFlavor('f2'));
    assert.equal(missing.code, 'NOT_FOUND');
    assert.match(missing.message, /^nova at http:\/\/127\.0\.0\.1:\d+\/v2\.1: Flavor f2 could not be found\./);
  });

  it('reads extra specs one flavor at a time from a Nova older than 2.61', async () => {
    const nova = new FakeNova();
    nova.max = '2.60';
    nova.flavors.push(
      { id: 'a', name: 'a', ram: 1, vcpus: 1, disk: 1, public: true, specs: { x: '1' } },
      { id: 'b', name: 'b', ram: 1, vcpus: 1, disk: 1, public: true, specs: {} },
    );
    const nv = await fake(nova.handle);
    const c = await connect(
      `clouds:\n  lab:\n    auth_type: admin_token\n    auth: {token: "admin:admin"}\n    compute_endpoint_override: ${nv.url}/v2.1\n`,
    );
    const list = await c.nova?.listFlavors();
    assert.deepEqual(
      list?.map((f) => f.extraSpecs),
      [{ x: '1' }, {}],
    );
    assert.equal(nv.requests.filter((r) => r.path.endsWith('/os-extra_specs')).length, 2);
    assert.ok(nv.requests.every((r) => r.headers['openstack-api-version'] === undefined));
  });

  it('finds Glance images by name or id; several with one name is a CONFLICT', async () => {
    const gl = await fake(glanceHandler);
    const c = await connect(`clouds:\n  lab:\n    auth_type: none\n    image_endpoint_override: ${gl.url}/v2\n`);
    const api = c.glance;
    assert.ok(api);
    assert.equal(await api.imageIdByName('ipa.kernel'), IMAGE_ID);
    assert.equal(await api.imageIdByName(IMAGE_ID), IMAGE_ID);
    assert.equal(await api.imageIdByName('absent'), null);
    assert.equal((await rejection(api.imageIdByName('dup'))).code, 'CONFLICT');
    assert.ok(
      gl.requests.every((r) => r.path.startsWith('/v2/images')),
      'no doubled /v2',
    );
  });

  it('retries GETs on 503 but not POSTs, and reports refused connections and deadlines as UNAVAILABLE', async () => {
    const ironic = new FakeIronic();
    const ir = await fake(ironic.handle);
    const c = await connect(`clouds:\n  lab:\n    auth_type: none\n    baremetal_endpoint_override: ${ir.url}\n`);
    ironic.unavailableGets = 2;
    assert.deepEqual(await c.ironic?.listNodes(), []);
    ironic.unavailableGets = 5;
    const e = await rejection(c.ironic?.listNodes() ?? Promise.resolve());
    assert.equal(e.code, 'UNAVAILABLE');
    assert.match(e.message, /Service Unavailable \(GET \/v1\/nodes\/detail: 503\)/);
    ironic.unavailableGets = 1;
    const posts = ir.requests.filter((r) => r.method === 'POST').length;
    const post = await rejection(c.ironic?.createNode({ name: 'x', driver: 'ipmi' }) ?? Promise.resolve());
    assert.equal(post.code, 'UNAVAILABLE');
    assert.match(post.message, /No conductor service registered/);
    assert.equal(ir.requests.filter((r) => r.method === 'POST').length, posts + 1, 'a POST is not sent again');

    const closed = await fake(() => ({ status: 200 }));
    await closed.close();
    fakes = fakes.filter((f) => f !== closed);
    const refused = await rejection(
      connect(`clouds:\n  lab:\n    auth_type: none\n    baremetal_endpoint_override: ${closed.url}\n`),
    );
    assert.equal(refused.code, 'UNAVAILABLE');
    assert.ok(refused.message.startsWith(`ironic at ${closed.url}: GET /: `), refused.message);
    assert.match(refused.message, /ECONNREFUSED/);

    const hang = await fake(() => 'hang');
    const started = Date.now();
    const slow = await rejection(
      connect(
        `clouds:\n  lab:\n    auth_type: none\n    api_timeout: 0.2\n    baremetal_endpoint_override: ${hang.url}\n`,
      ),
    );
    assert.equal(slow.code, 'UNAVAILABLE');
    assert.match(slow.message, /no answer within 200 ms/);
    assert.equal(hang.requests.length, 3, 'a GET is tried three times');
    assert.ok(Date.now() - started < 3000);
  });

  it('probes Ironic and Nova with one cheap authenticated call each: unreachable, refused, too old', async () => {
    const ironic = new FakeIronic();
    ironic.nodes.push({
      uuid: 'u1',
      name: 'tk0',
      provision_state: 'enroll',
      target_provision_state: null,
      last_error: null,
      maintenance: false,
      script: [],
    });
    const ir = await fake(ironic.handle);
    const nova = new FakeNova();
    nova.flavors.push({ id: 'f1', name: 'a', ram: 1, vcpus: 1, disk: 1, public: true, specs: {} });
    const nv = await fake(nova.handle);
    const c = await connect(`clouds:
  lab:
    auth_type: admin_token
    auth: { token: admin:admin, endpoint: ${nv.url} }
    baremetal_endpoint_override: ${ir.url}
    compute_endpoint_override: ${nv.url}/v2.1
`);
    assert.ok(c.ironic && c.nova);
    assert.equal(c.ironic.endpoint, ir.url);
    assert.equal(c.nova.endpoint, `${nv.url}/v2.1`);
    const irBefore = ir.requests.length;
    const nvBefore = nv.requests.length;
    await c.ironic.probe();
    await c.nova.probe();
    assert.deepEqual(
      ir.requests.slice(irBefore).map((r) => `${r.method} ${r.path}?${r.query.toString()}`),
      ['GET /?', 'GET /v1/nodes?limit=1&fields=uuid'],
    );
    assert.equal(ir.requests.at(-1)?.headers['x-openstack-ironic-api-version'], '1.82');
    assert.equal(ir.requests.at(-1)?.headers['x-auth-token'], 'admin:admin');
    assert.deepEqual(
      nv.requests.slice(nvBefore).map((r) => `${r.method} ${r.path}?${r.query.toString()}`),
      ['GET /v2.1/?', 'GET /v2.1/flavors?limit=1'],
    );

    ironic.authorize = () => false;
    const denied = await rejection(c.ironic.probe());
    assert.equal(denied.code, 'PERMISSION');
    assert.ok(denied.message.startsWith(`ironic at ${ir.url}: `), denied.message);
    ironic.authorize = () => true;
    ironic.max = '1.20';
    const old = await rejection(c.ironic.probe());
    assert.equal(old.code, 'UNSUPPORTED');
    assert.match(old.message, /offers API versions 1\.1 to 1\.20; tenks needs at least 1\.46/);

    nova.token = 'someone-else';
    const refused = await rejection(c.nova.probe());
    assert.equal(refused.code, 'PERMISSION');
    assert.ok(refused.message.startsWith(`nova at ${nv.url}/v2.1: `), refused.message);
    nova.token = 'admin:admin';
    nova.max = '2.0';
    const oldNova = await connect(`clouds:
  lab:
    auth_type: admin_token
    auth: { token: admin:admin, endpoint: ${nv.url} }
    compute_endpoint_override: ${nv.url}/v2.1
`);
    const tooOld = await rejection(oldNova.nova?.probe() ?? Promise.resolve());
    assert.equal(tooOld.code, 'UNSUPPORTED');
    assert.match(tooOld.message, /offers compute API versions up to 2\.0; tenks needs at least 2\.1/);

    await Promise.all([ir.close(), nv.close()]);
    fakes = fakes.filter((f) => f !== ir && f !== nv);
    for (const [probe, name, url] of [
      [() => c.ironic?.probe(), 'ironic', ir.url],
      [() => c.nova?.probe(), 'nova', `${nv.url}/v2.1`],
    ] as const) {
      const gone = await rejection(probe() ?? Promise.resolve());
      assert.equal(gone.code, 'UNAVAILABLE', gone.message);
      assert.ok(gone.message.startsWith(`${name} at ${url}`), gone.message);
      assert.match(gone.message, /ECONNREFUSED/);
    }
  });

  describe('TLS', () => {
    let ca: Buffer;
    let cert: Buffer;
    let key: Buffer;
    let clientCert: string;
    let clientKey: string;

    before(async function () {
      this.timeout(30_000);
      const t = await mkdtemp(join(tmpdir(), 'tenks-os-tls-'));
      const ossl = (...args: string[]): Promise<unknown> => execFileAsync('openssl', args, { cwd: t });
      const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
      await ossl(
        'req',
        '-x509',
        ...ec,
        '-days',
        '1',
        '-subj',
        '/CN=tenks test CA',
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
      );
      await writeFile(join(t, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
      for (const name of ['server', 'client']) {
        await ossl('req', ...ec, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
        await ossl(
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-days',
          '1',
          '-extfile',
          'ext.cnf',
          '-out',
          `${name}.pem`,
        );
      }
      ca = await readFile(join(t, 'ca.pem'));
      cert = await readFile(join(t, 'server.pem'));
      key = await readFile(join(t, 'server.key'));
      // Kept as text and written beside each test's clouds.yaml, since `dir` is made per test.
      clientCert = (await readFile(join(t, 'client.pem'))).toString();
      clientKey = (await readFile(join(t, 'client.key'))).toString();
      await rm(t, { recursive: true, force: true });
    });

    it('trusts the cacert, refuses an unknown CA with PERMISSION, and skips checks with insecure', async () => {
      const ironic = new FakeIronic();
      const ir = await fake(ironic.handle, { cert, key });
      await writeFile(join(dir, 'ca.pem'), ca);
      const base = `clouds:\n  lab:\n    auth_type: none\n    baremetal_endpoint_override: ${ir.url}\n`;
      const c = await connect(`${base}    cacert: ${join(dir, 'ca.pem')}\n`);
      assert.deepEqual(await c.ironic?.listNodes(), []);
      const e = await rejection(connect(base));
      assert.equal(e.code, 'PERMISSION');
      assert.match(e.message, /^ironic at https:\/\/127\.0\.0\.1:\d+: TLS: /);
      assert.match(e.hint ?? '', /cacert/);
      const insecure = await connect(`${base}    insecure: true\n`);
      assert.deepEqual(await insecure.ironic?.listNodes(), []);
      const missing = await rejection(connect(`${base}    cacert: ${join(dir, 'nope.pem')}\n`));
      assert.equal(missing.code, 'INVALID_SPEC');
      assert.match(missing.message, /: cacert: cannot read '.*nope\.pem'/);
    });

    it('presents the client certificate (cert + key)', async () => {
      const ironic = new FakeIronic();
      const ir = await fake(ironic.handle, { cert, key, ca });
      await writeFile(join(dir, 'ca.pem'), ca);
      await writeFile(join(dir, 'client.pem'), clientCert);
      await writeFile(join(dir, 'client.key'), clientKey);
      const base = `clouds:\n  lab:\n    auth_type: none\n    baremetal_endpoint_override: ${ir.url}\n    cacert: ${join(dir, 'ca.pem')}\n`;
      const c = await connect(`${base}    cert: ${join(dir, 'client.pem')}\n    key: ${join(dir, 'client.key')}\n`);
      assert.deepEqual(await c.ironic?.listNodes(), []);
      const without = await rejection(connect(base));
      assert.ok(['PERMISSION', 'UNAVAILABLE'].includes(without.code), without.message);
    });
  });
});
