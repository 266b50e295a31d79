/**
 * A stand-in for the one Glance call tenks makes: an image's id by name (`GET /v2/images?name=`,
 * and `GET /v2/images/<id>` for a value that looks like an id), so that an upstream file's
 * `deploy_kernel: ipa.kernel` can be enrolled against the standalone Ironic of
 * test/helpers/openstack.ts, which has no image service (Debian's glance-api is not part of the
 * test setup). It holds no image data: Ironic only stores the id it is given until a deploy.
 * Serves on 127.0.0.1, a port the OS picks; every lookup is recorded.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

/** A running stand-in. */
export interface GlanceNames {
  /** `http://127.0.0.1:<port>`: the clouds.yaml `image_endpoint_override`. */
  readonly url: string;
  /** The id an image name resolves to. */
  idOf(name: string): string;
  /** The names (or ids) looked up so far, in order. */
  readonly lookups: readonly string[];
  close(): Promise<void>;
}

/** Starts a stand-in knowing one image per name in `names`, each with a fresh id. */
export async function startGlanceNames(names: Iterable<string>): Promise<GlanceNames> {
  const images = new Map([...new Set(names)].map((n) => [n, randomUUID()]));
  const ids = new Set<string>(images.values());
  const lookups: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const byId = /^\/v2\/images\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && url.pathname === '/v2/images') {
      const name = url.searchParams.get('name') ?? '';
      lookups.push(name);
      const id = images.get(name);
      reply(200, { images: id === undefined ? [] : [{ id, name, status: 'active' }] });
    } else if (req.method === 'GET' && byId) {
      const id = decodeURIComponent(byId[1] ?? '');
      lookups.push(id);
      if (ids.has(id)) reply(200, { id, status: 'active' });
      else reply(404, { message: `no image ${id}` });
    } else reply(404, { message: 'only image lookups are served here' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    idOf: (name) => {
      const id = images.get(name);
      if (id === undefined) throw new Error(`the Glance stand-in has no image '${name}'`);
      return id;
    },
    lookups,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
