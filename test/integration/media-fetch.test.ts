/**
 * Virtual media downloads (agent/bmc/redfish/media-fetch.ts) against real HTTP and HTTPS servers on
 * 127.0.0.1:0, two HTTP origins (two ports) and one HTTPS origin with a self-signed certificate:
 * credentials reach only the image URL's origin, HTTPS never falls back to HTTP, TLS checks follow
 * VerifyCertificate, and the size limit, deadline and redirect limit hold.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RedfishError } from '../../agent/bmc/redfish/errors.js';
import { fetchImage, type FetchOptions } from '../../agent/bmc/redfish/media-fetch.js';

const execFileAsync = promisify(execFile);
const IMAGE = Buffer.from('an ISO for this test\n'.repeat(200));
const AUTH = { username: 'img', password: 'img-secret' };
const BASIC = `Basic ${Buffer.from('img:img-secret').toString('base64')}`;

/** One origin: what it was asked (path and Authorization header), and its routes. */
interface Origin {
  url: string;
  seen: { path: string; authorization: string | undefined }[];
  server: Server;
}

type Route = (res: ServerResponse, req: IncomingMessage) => void;

async function listen(server: Server, routes: () => Record<string, Route>, scheme: string): Promise<Origin> {
  const origin: Origin = { url: '', seen: [], server };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    origin.seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    const route = routes()[req.url ?? ''];
    if (route) route(res, req);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin.url = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return origin;
}

function redirect(to: () => string, code = 302): Route {
  return (res) => {
    res.writeHead(code, { Location: to() });
    res.end();
  };
}

const serveImage: Route = (res) => {
  res.writeHead(200, { 'Content-Length': IMAGE.length });
  res.end(IMAGE);
};

function rejects(p: Promise<unknown>, status: number, pattern: RegExp): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RedfishError, `expected a RedfishError, got ${String(e)}`);
    assert.equal(e.status, status, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('virtual media fetch (real HTTP and HTTPS servers, two origins)', function () {
  let dir = '';
  let scratch = '';
  let a: Origin;
  let b: Origin;
  let secure: Origin;
  const stalled: ServerResponse[] = [];
  const opts = (o: Partial<FetchOptions> = {}): FetchOptions => ({
    dir: scratch,
    maxBytes: 1 << 20,
    timeoutMs: 5_000,
    verifyTls: false,
    auth: null,
    ...o,
  });

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'tenks-it-media-'));
    scratch = join(dir, 'scratch');
    await execFileAsync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    a = await listen(
      createServer(),
      () => ({
        '/img': serveImage,
        '/private': (res, req) => {
          const ok = req.headers.authorization === BASIC;
          res.writeHead(ok ? 200 : 401);
          res.end(ok ? IMAGE : undefined);
        },
        '/to-b': redirect(() => `${b.url}/img`),
        '/via-b': redirect(() => `${b.url}/to-a`),
        '/to-self': redirect(() => '/private', 307),
        '/loop': redirect(() => '/loop'),
        '/to-ftp': redirect(() => 'ftp://127.0.0.1/img'),
        '/chunked': (res) => {
          res.writeHead(200);
          res.write(IMAGE);
          res.end(IMAGE);
        },
        '/stall': (res) => {
          res.writeHead(200, { 'Content-Length': 10 });
          res.write('12345');
          stalled.push(res);
        },
        '/empty': (res) => {
          res.writeHead(200, { 'Content-Length': 0 });
          res.end();
        },
      }),
      'http',
    );
    b = await listen(
      createServer(),
      () => ({ '/img': serveImage, '/to-a': redirect(() => `${a.url}/private`) }),
      'http',
    );
    const tls = { cert: await readFile(join(dir, 'cert.pem')), key: await readFile(join(dir, 'key.pem')) };
    secure = await listen(
      createHttpsServer(tls),
      () => ({ '/img': serveImage, '/to-http': redirect(() => `${a.url}/img`), '/to-self': redirect(() => '/img') }),
      'https',
    );
  });

  after(async function () {
    for (const res of stalled) res.destroy();
    for (const o of [a, b, secure] as (Origin | undefined)[]) {
      if (!o) continue;
      o.server.closeAllConnections();
      await new Promise<void>((r) => {
        o.server.close(() => {
          r();
        });
      });
    }
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(function () {
    for (const o of [a, b, secure]) o.seen.length = 0;
  });

  afterEach(async function () {
    assert.deepEqual(await readdir(scratch).catch(() => []), [], 'failed downloads leave nothing behind');
  });

  async function fetched(url: string, o: Partial<FetchOptions> = {}): Promise<Buffer> {
    const r = await fetchImage(url, opts(o));
    try {
      assert.equal(r.bytes, (await readFile(r.file)).length);
      return await readFile(r.file);
    } finally {
      await rm(r.file, { force: true });
    }
  }

  it('sends the credentials to the origin of the image URL, not to another origin it redirects to', async function () {
    assert.deepEqual(await fetched(`${a.url}/to-b`, { auth: AUTH }), IMAGE);
    assert.deepEqual(a.seen, [{ path: '/to-b', authorization: BASIC }]);
    assert.deepEqual(b.seen, [{ path: '/img', authorization: undefined }], 'the second origin never sees them');
  });

  it('keeps them on a redirect within the origin, and back to it', async function () {
    assert.deepEqual(await fetched(`${a.url}/to-self`, { auth: AUTH }), IMAGE);
    assert.deepEqual(a.seen, [
      { path: '/to-self', authorization: BASIC },
      { path: '/private', authorization: BASIC },
    ]);
    a.seen.length = 0;
    assert.deepEqual(await fetched(`${a.url}/via-b`, { auth: AUTH }), IMAGE);
    assert.deepEqual(a.seen, [
      { path: '/via-b', authorization: BASIC },
      { path: '/private', authorization: BASIC },
    ]);
    assert.deepEqual(b.seen, [{ path: '/to-a', authorization: undefined }]);
  });

  it('gives another origin’s credentials to nobody else: the image origin is what counts', async function () {
    await rejects(fetchImage(`${b.url}/to-a`, opts({ auth: AUTH })), 400, /answered 401/);
    assert.deepEqual(b.seen, [{ path: '/to-a', authorization: BASIC }]);
    assert.deepEqual(a.seen, [{ path: '/private', authorization: undefined }]);
  });

  it('takes credentials written in the URL as the origin’s, and sends them nowhere else', async function () {
    const withUser = `${a.url.replace('http://', 'http://img:img-secret@')}/to-b`;
    assert.deepEqual(await fetched(withUser), IMAGE);
    assert.deepEqual(a.seen, [{ path: '/to-b', authorization: BASIC }]);
    assert.deepEqual(b.seen, [{ path: '/img', authorization: undefined }]);
  });

  it('refuses a redirect from HTTPS to HTTP', async function () {
    await rejects(
      fetchImage(`${secure.url}/to-http`, opts({ auth: AUTH })),
      400,
      /refused a redirect from HTTPS .* to plain HTTP/,
    );
    assert.deepEqual(a.seen, [], 'the HTTP origin is never asked');
  });

  it('checks the TLS certificate only when asked to (VerifyCertificate)', async function () {
    assert.deepEqual(await fetched(`${secure.url}/to-self`, { verifyTls: false }), IMAGE);
    await rejects(fetchImage(`${secure.url}/img`, opts({ verifyTls: true })), 502, /cannot fetch .*certificate/);
  });

  it('keeps the size limit (declared and streamed), the deadline and the redirect limit', async function () {
    await rejects(fetchImage(`${a.url}/img`, opts({ maxBytes: 100 })), 400, /is \d+ bytes, more than the 100 allowed/);
    await rejects(
      fetchImage(`${a.url}/chunked`, opts({ maxBytes: IMAGE.length + 1 })),
      400,
      /larger than the \d+ bytes allowed/,
    );
    await rejects(fetchImage(`${a.url}/stall`, opts({ timeoutMs: 500 })), 502, /not complete within 500 ms/);
    await rejects(fetchImage(`${a.url}/loop`, opts()), 400, /too many redirects/);
    await rejects(fetchImage(`${a.url}/to-ftp`, opts()), 400, /not an http or https URL/);
    await rejects(fetchImage(`${a.url}/empty`, opts()), 400, /is empty/);
    await rejects(fetchImage(`${a.url}/none`, opts()), 400, /answered 404/);
    await rejects(fetchImage(`${a.url}/private`, opts()), 400, /answered 401/);
    await rejects(fetchImage('ftp://127.0.0.1/x', opts()), 400, /http or https/);
  });
});
