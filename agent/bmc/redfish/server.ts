/**
 * The Redfish service of an agent: one HTTP(S) server for every tenks node of the agent whose BMC
 * has Redfish on, at /redfish/v1/Systems/<node uuid>. A node's BMC credentials (HTTP Basic, or a
 * session token from SessionService) open that node's System, Manager and Chassis, nothing else.
 */
import { createHash, randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Duplex } from 'node:stream';
import { TenksError, type Logger } from '../../../common/index.js';
import type { NodeStatus } from '../../compute/index.js';
import type { RedfishBackend } from '../backend.js';
import { errorBody, MessageId, RedfishError, toRedfishError } from './errors.js';
import { fetchImage } from './media-fetch.js';
import { SessionStore, type RedfishSession } from './sessions.js';
import * as docs from './documents.js';
import type { Doc, NodeView } from './documents.js';
import { resetActionOf, parseBootPatch, parseBiosPatch, parseInsertMedia } from './requests.js';

/** Options of the Redfish service. */
export interface RedfishOptions {
  listenAddress: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** PEM certificate and key for HTTPS; null for plain HTTP. */
  tls: { cert: Buffer; key: Buffer } | null;
  backend: RedfishBackend;
  log: Logger;
  /** Where fetched virtual media images wait until they are copied into the pool. */
  scratchDir: string;
  /** Largest virtual media image accepted. Default 8 GiB. */
  maxImageBytes?: number;
  /** Deadline of one image download. Default 10 min. */
  imageTimeoutMs?: number;
  /** Idle time after which a session token stops working. Default 30 min. */
  sessionIdleMs?: number;
}

/** A response before rendering. */
interface Reply {
  status: number;
  body: Doc | null;
  headers?: Record<string, string>;
}

/** One request as the routes see it. */
interface Req {
  method: string;
  /** Path segments after `/redfish/v1`. */
  parts: string[];
  query: string;
  raw: IncomingMessage;
  body: () => Promise<unknown>;
}

const ok = (body: Doc, headers?: Record<string, string>): Reply => ({
  status: 200,
  body,
  ...(headers ? { headers } : {}),
});
const noContent: Reply = { status: 204, body: null };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Strong ETag of a rendered document. */
function etagOf(text: string): string {
  return `"${createHash('sha1').update(text).digest('base64url')}"`;
}

function allow(methods: string, method: string): void {
  if (!methods.split(',').includes(method))
    throw new RedfishError(405, `${method} is not allowed here (allowed: ${methods})`, MessageId.NOT_ALLOWED, {
      Allow: methods.replaceAll(',', ', '),
    });
}

function missing(what: string): RedfishError {
  return new RedfishError(404, `no ${what}`, MessageId.MISSING);
}

/** The agent's Redfish service. */
export class RedfishService {
  private readonly sessions: SessionStore;
  private server: Server | null = null;
  private boundPort = 0;
  /** Identity of this service (service root UUID), stable for the process. */
  private readonly serviceUuid = randomUUID();
  /** Requests served and refused, for stats. */
  readonly stats = { requests: 0, errors: 0, unauthorised: 0 };

  constructor(private readonly o: RedfishOptions) {
    this.sessions = new SessionStore(o.sessionIdleMs ?? 30 * 60_000);
  }

  get port(): number {
    return this.boundPort;
  }

  get scheme(): 'http' | 'https' {
    return this.o.tls ? 'https' : 'http';
  }

  /** Ends the sessions of a user whose credentials changed or whose nodes are gone. */
  forget(username: string): void {
    this.sessions.closeUser(username);
  }

  async start(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.serve(req, res).catch((e: unknown) => {
        // serve() answers every failure of a request itself; what reaches here broke the reply
        // (the client went away, a header it could not take): the connection is dropped.
        this.o.log.warn('redfish reply failed', { method: req.method, url: req.url, error: String(e) });
        res.destroy();
      });
    };
    const server = this.o.tls
      ? createHttps({ cert: this.o.tls.cert, key: this.o.tls.key }, handler)
      : createHttp(handler);
    // Node hands CONNECT to this event, not to the handler, and drops the connection unanswered
    // when nobody listens.
    server.on('connect', (req: IncomingMessage, socket: Duplex) => {
      this.refuseConnect(req, socket);
    });
    server.keepAliveTimeout = 5_000;
    server.headersTimeout = 20_000;
    server.requestTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => {
        reject(
          new TenksError(
            'UNAVAILABLE',
            `cannot listen for Redfish on ${this.o.listenAddress}:${this.o.port}: ${e.message}`,
            { cause: e, hint: 'choose another bmc.redfish_port in the agent config' },
          ),
        );
      });
      server.listen(this.o.port, this.o.listenAddress, () => {
        resolve();
      });
    });
    // Accept failures (too many open files, say) are the server's, not a client's: logged, and the
    // listener keeps going; an 'error' without a listener would end the process.
    server.on('error', (e) => {
      this.o.log.error('redfish server error', { port: this.boundPort, error: e.message });
    });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.o.port;
    this.server = server;
    this.o.log.info('redfish listening', { address: this.o.listenAddress, port: this.boundPort, tls: !!this.o.tls });
  }

  /** Answers CONNECT (a proxy tunnel, which no Redfish resource is) with 405 and closes. */
  private refuseConnect(req: IncomingMessage, socket: Duplex): void {
    this.stats.requests++;
    this.stats.errors++;
    // Without a listener, a reset from the client would be an unhandled 'error' event.
    socket.on('error', () => {
      socket.destroy();
    });
    const allowed = 'GET, HEAD, POST, PATCH, DELETE';
    const err = new RedfishError(
      405,
      `${req.method ?? 'CONNECT'} is not allowed (allowed: ${allowed})`,
      MessageId.NOT_ALLOWED,
    );
    const body = JSON.stringify(errorBody(err));
    socket.end(
      [
        'HTTP/1.1 405 Method Not Allowed',
        'OData-Version: 4.0',
        `Allow: ${allowed}`,
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    this.sessions.clear();
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => {
      s.close(() => {
        resolve();
      });
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    const method = req.method ?? 'GET';
    let reply: Reply;
    try {
      const url = requestUrl(req.url ?? '/');
      const path = url.pathname.replace(/\/+$/, '');
      let cached: Promise<unknown> | null = null;
      const body = (): Promise<unknown> => (cached ??= readBody(req));
      if (path === '/redfish') reply = ok({ v1: '/redfish/v1/' });
      else if (path === '/redfish/v1' || path.startsWith('/redfish/v1/')) {
        const parts = path
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
        reply = await this.route({ method, parts, query: url.search, raw: req, body });
      } else throw missing(`resource at ${path}`);
    } catch (e) {
      const err = toRedfishError(e);
      this.stats.errors++;
      if (err.status === 401) this.stats.unauthorised++;
      if (err.status >= 500) this.o.log.warn('redfish request failed', { method, url: req.url, error: err.message });
      reply = {
        status: err.status,
        body: errorBody(err) as Doc,
        headers: err.status === 401 ? { 'WWW-Authenticate': 'Basic realm="tenks BMC"', ...err.headers } : err.headers,
      };
    }
    // Read what is left of the body before answering: keep-alive connections stay usable, and a
    // connection closed after the answer with bytes still unread is reset, which makes the
    // client's kernel drop the answer before the client reads it.
    await drain(req);
    const headers: Record<string, string> = { 'OData-Version': '4.0', ...reply.headers };
    if (reply.body === null || reply.status === 204) {
      res.writeHead(reply.status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(reply.body);
    headers['Content-Type'] = 'application/json; charset=utf-8';
    if (reply.status === 200 && method === 'GET') headers.ETag = etagOf(text);
    res.writeHead(reply.status, headers);
    res.end(method === 'HEAD' ? undefined : text);
  }

  /** The session a request's token opens, or null when it carries none. */
  private session(req: IncomingMessage): RedfishSession | null {
    const token = req.headers['x-auth-token'];
    if (typeof token !== 'string') return null;
    const s = this.sessions.byTokenValue(token);
    if (!s) throw new RedfishError(401, 'the session token is not valid (expired or logged out)', MessageId.NO_SESSION);
    return s;
  }

  /** Who is asking and which nodes their credentials open; 401 when none. */
  private authenticate(req: IncomingMessage): { username: string; nodes: Set<string> } {
    const s = this.session(req);
    let username: string;
    let password: string;
    if (s) {
      username = s.username;
      password = s.password;
    } else {
      const auth = req.headers.authorization;
      if (auth === undefined)
        throw new RedfishError(401, 'authentication required (HTTP Basic or X-Auth-Token)', MessageId.NO_SESSION);
      const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth);
      if (!m)
        throw new RedfishError(
          401,
          'unsupported Authorization scheme: use Basic or X-Auth-Token',
          MessageId.NO_SESSION,
        );
      const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i < 0) throw new RedfishError(401, 'malformed Basic credentials', MessageId.NO_SESSION);
      username = decoded.slice(0, i);
      password = decoded.slice(i + 1);
    }
    const nodes = this.o.backend.redfishLogin(username, password);
    if (nodes.size === 0) {
      if (s) this.sessions.close(s.id);
      throw new RedfishError(401, 'invalid credentials', MessageId.NO_SESSION);
    }
    return { username, nodes };
  }

  private async route(r: Req): Promise<Reply> {
    const [top, id, ...rest] = r.parts;
    if (top === undefined) {
      allow('GET,HEAD', r.method);
      return ok(docs.serviceRoot(this.serviceUuid));
    }
    if (top === 'SessionService' && id === 'Sessions' && rest.length === 0 && r.method === 'POST')
      return this.login(await r.body());
    const who = this.authenticate(r.raw);
    switch (top) {
      case 'SessionService':
        return this.sessionService(r, who.username, id, rest);
      case 'Systems':
      case 'Managers':
      case 'Chassis': {
        if (id === undefined) {
          allow('GET,HEAD', r.method);
          const members = [...who.nodes].sort().map((u) => `/redfish/v1/${top}/${u}`);
          const type =
            top === 'Systems'
              ? 'ComputerSystemCollection'
              : top === 'Managers'
                ? 'ManagerCollection'
                : 'ChassisCollection';
          return ok(docs.collection(`/redfish/v1/${top}`, type, `${top} Collection`, members));
        }
        const uuid = UUID.test(id) ? id.toLowerCase() : this.o.backend.redfishUuidOf(id);
        if (uuid === null || !who.nodes.has(uuid)) throw missing(`${top.replace(/s$/, '')} '${id}'`);
        if (uuid !== id) {
          // A node addressed by name: send the client to its UUID (it re-sends the request there).
          const location = `/redfish/v1/${[top, uuid, ...rest].map(encodeURIComponent).join('/')}${r.query}`;
          return { status: 307, body: null, headers: { Location: location } };
        }
        const view = await this.view(uuid);
        if (top === 'Managers') return this.manager(r, view, rest);
        if (top === 'Chassis') return this.chassis(r, view, rest);
        return this.system(r, view, rest);
      }
      default:
        throw missing(`resource /redfish/v1/${r.parts.join('/')}`);
    }
  }

  private async view(uuid: string): Promise<NodeView> {
    const [node, power] = await Promise.all([this.o.backend.node(uuid), this.o.backend.powerState(uuid)]);
    const firmware = this.o.backend.firmwareFor(node.arch);
    return { node, power, uefiAvailable: firmware.uefi, secureBootAvailable: firmware.secureBoot };
  }

  private login(body: unknown): Reply {
    const b = (body ?? {}) as { UserName?: unknown; Password?: unknown };
    if (typeof b.UserName !== 'string' || typeof b.Password !== 'string')
      throw new RedfishError(400, 'UserName and Password (strings) are required', MessageId.PROPERTY_MISSING);
    if (this.o.backend.redfishLogin(b.UserName, b.Password).size === 0) {
      this.stats.unauthorised++;
      throw new RedfishError(401, 'invalid credentials', MessageId.NO_SESSION);
    }
    const s = this.sessions.open(b.UserName, b.Password);
    const location = `/redfish/v1/SessionService/Sessions/${s.id}`;
    return {
      status: 201,
      body: sessionDoc(s),
      headers: { 'X-Auth-Token': s.token, Location: location },
    };
  }

  private sessionService(r: Req, username: string, id: string | undefined, rest: string[]): Reply {
    if (id === undefined) {
      allow('GET,HEAD', r.method);
      return ok({
        '@odata.id': '/redfish/v1/SessionService',
        '@odata.type': '#SessionService.v1_1_8.SessionService',
        Id: 'SessionService',
        Name: 'Session Service',
        ServiceEnabled: true,
        SessionTimeout: Math.round(this.sessions.idleMs / 1000),
        Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' },
      });
    }
    if (id !== 'Sessions' || rest.length > 1)
      throw missing(`resource /redfish/v1/SessionService/${[id, ...rest].join('/')}`);
    const sid = rest[0];
    if (sid === undefined) {
      allow('GET,HEAD,POST', r.method);
      const mine = this.sessions.list(username).map((s) => `/redfish/v1/SessionService/Sessions/${s.id}`);
      return ok(docs.collection('/redfish/v1/SessionService/Sessions', 'SessionCollection', 'Sessions', mine));
    }
    const s = this.sessions.get(sid);
    // Another user's session is as invisible as a missing one.
    if (s?.username !== username) throw missing(`session ${sid}`);
    allow('GET,HEAD,DELETE', r.method);
    if (r.method === 'DELETE') {
      this.sessions.close(sid);
      return noContent;
    }
    return ok(sessionDoc(s));
  }

  /** 412 unless the request's If-Match names the current ETag of `current` (weak or strong). */
  private checkIfMatch(req: IncomingMessage, current: Doc): void {
    const want = req.headers['if-match'];
    if (typeof want !== 'string' || want.trim() === '*') return;
    const tag = etagOf(JSON.stringify(current));
    const tags = want.split(',').map((t) => t.trim().replace(/^W\//, ''));
    if (!tags.includes(tag))
      throw new RedfishError(412, 'the resource changed: If-Match does not match its ETag', MessageId.PRECONDITION);
  }

  private async system(r: Req, v: NodeView, rest: string[]): Promise<Reply> {
    const n = v.node;
    const base = docs.systemUri(n.uuid);
    const [sub, a, b, c] = rest;
    const be = this.o.backend;
    switch (sub) {
      case undefined: {
        allow('GET,HEAD,PATCH', r.method);
        const doc = docs.systemDoc(v);
        if (r.method !== 'PATCH') return ok(doc);
        this.checkIfMatch(r.raw, doc);
        const patch = parseBootPatch(await r.body(), n, v.uefiAvailable);
        if (patch.device) await be.setBootDevice(n.uuid, patch.device.device, patch.device.persistent);
        if (patch.bootMode !== undefined || patch.indicatorLed !== undefined)
          await be.setFirmware(n.uuid, {
            ...(patch.bootMode !== undefined ? { bootMode: patch.bootMode } : {}),
            ...(patch.indicatorLed !== undefined ? { indicatorLed: patch.indicatorLed } : {}),
          });
        return noContent;
      }
      case 'Actions': {
        if (a !== 'ComputerSystem.Reset' || b !== undefined) throw missing(`action ${rest.join('/')}`);
        allow('POST', r.method);
        const action = resetActionOf(await r.body(), v.power);
        if (action) await be.power(n.uuid, action);
        return noContent;
      }
      case 'EthernetInterfaces': {
        allow('GET,HEAD', r.method);
        const ids = docs.nicIds(n);
        if (a === undefined)
          return ok(
            docs.collection(
              `${base}/EthernetInterfaces`,
              'EthernetInterfaceCollection',
              'Ethernet Interfaces',
              ids.map((i) => `${base}/EthernetInterfaces/${i}`),
            ),
          );
        const i = ids.findIndex((x) => x.toLowerCase() === a.toLowerCase());
        if (i < 0 || b !== undefined) throw missing(`interface ${a}`);
        return ok(docs.nicDoc(n, i));
      }
      case 'Processors': {
        allow('GET,HEAD', r.method);
        const ids = docs.processorIds(n);
        if (a === undefined)
          return ok(
            docs.collection(
              `${base}/Processors`,
              'ProcessorCollection',
              'Processors',
              ids.map((p) => `${base}/Processors/${p}`),
            ),
          );
        if (!ids.includes(a) || b !== undefined) throw missing(`processor ${a}`);
        return ok(docs.processorDoc(n, a));
      }
      case 'SimpleStorage': {
        allow('GET,HEAD', r.method);
        if (a === undefined)
          return ok(
            docs.collection(`${base}/SimpleStorage`, 'SimpleStorageCollection', 'Simple Storage Collection', [
              `${base}/SimpleStorage/virtio`,
            ]),
          );
        if (a !== 'virtio' || b !== undefined) throw missing(`storage ${a}`);
        return ok(docs.simpleStorageDoc(n));
      }
      case 'Storage':
        return this.storage(r, n, a, b, c);
      case 'BIOS':
        return this.bios(r, n, a, b);
      case 'SecureBoot':
        return this.secureBoot(r, v, a, b);
      case 'VirtualMedia':
        return this.virtualMedia(r, n, a, b, c);
      default:
        throw missing(`resource ${base}/${rest.join('/')}`);
    }
  }

  private storage(r: Req, n: NodeStatus, id?: string, kind?: string, item?: string): Reply {
    allow('GET,HEAD', r.method);
    const base = `${docs.systemUri(n.uuid)}/Storage`;
    if (id === undefined) return ok(docs.collection(base, 'StorageCollection', 'Storage Collection', [`${base}/1`]));
    if (id !== '1') throw missing(`storage ${id}`);
    if (kind === undefined) return ok(docs.storageDoc(n));
    if (kind === 'Drives' && item !== undefined) {
      const vol = n.volumes.find((x) => x.name === item);
      if (!vol) throw missing(`drive ${item}`);
      return ok(docs.driveDoc(n, vol));
    }
    if (kind === 'Volumes') {
      if (item === undefined)
        return ok(
          docs.collection(
            `${base}/1/Volumes`,
            'VolumeCollection',
            'Volumes',
            n.volumes.map((x) => `${base}/1/Volumes/${encodeURIComponent(x.name)}`),
          ),
        );
      const vol = n.volumes.find((x) => x.name === item);
      if (!vol) throw missing(`volume ${item}`);
      return ok(docs.volumeDoc(n, vol));
    }
    throw missing(`resource ${base}/1/${kind}`);
  }

  private async bios(r: Req, n: NodeStatus, sub?: string, action?: string): Promise<Reply> {
    const be = this.o.backend;
    if (sub === undefined) {
      allow('GET,HEAD', r.method);
      return ok(docs.biosDoc(n));
    }
    if (sub === 'Settings' && action === undefined) {
      allow('GET,HEAD,PATCH', r.method);
      const doc = docs.biosSettingsDoc(n);
      if (r.method !== 'PATCH') return ok(doc);
      this.checkIfMatch(r.raw, doc);
      const p = parseBiosPatch(await r.body(), n, be.firmwareFor(n.arch).uefi);
      await be.setFirmware(n.uuid, p);
      return noContent;
    }
    if (sub === 'Actions' && action === 'Bios.ResetBios') {
      allow('POST', r.method);
      await be.setFirmware(n.uuid, { bios: null });
      return noContent;
    }
    if (sub === 'Actions' && action === 'Bios.ChangePassword') {
      allow('POST', r.method);
      const b = (await r.body()) as { PasswordName?: unknown; OldPassword?: unknown; NewPassword?: unknown } | null;
      if (b?.PasswordName !== 'SysPassword' || typeof b.OldPassword !== 'string' || typeof b.NewPassword !== 'string')
        throw new RedfishError(
          400,
          'ChangePassword needs PasswordName "SysPassword", OldPassword and NewPassword',
          MessageId.ACTION_PARAMETER,
        );
      if (String(docs.biosAttributes(n).SysPassword) !== b.OldPassword)
        throw new RedfishError(400, 'OldPassword does not match', MessageId.ACTION_PARAMETER);
      await be.setFirmware(n.uuid, { bios: { SysPassword: b.NewPassword } });
      return noContent;
    }
    throw missing(`resource ${docs.systemUri(n.uuid)}/BIOS/${[sub, action].filter(Boolean).join('/')}`);
  }

  private async secureBoot(r: Req, v: NodeView, sub?: string, action?: string): Promise<Reply> {
    const n = v.node;
    if (!docs.secureBootSupported(v))
      throw missing(
        `Secure Boot: node '${n.name}' has no UEFI Secure Boot firmware (boot mode ${n.firmware.bootMode}, machine ${n.machine})`,
      );
    if (sub === undefined) {
      allow('GET,HEAD,PATCH', r.method);
      const doc = docs.secureBootDoc(v);
      if (r.method !== 'PATCH') return ok(doc);
      this.checkIfMatch(r.raw, doc);
      const b = (await r.body()) as Record<string, unknown> | null;
      const keys = Object.keys(b ?? {});
      if (typeof b?.SecureBootEnable !== 'boolean' || keys.length !== 1)
        throw new RedfishError(
          400,
          'PATCH SecureBoot with {"SecureBootEnable": true|false} only',
          MessageId.PROPERTY_VALUE,
        );
      await this.o.backend.setFirmware(n.uuid, { secureBoot: b.SecureBootEnable });
      return noContent;
    }
    if (sub === 'Actions' && action === 'SecureBoot.ResetKeys') {
      allow('POST', r.method);
      const t = ((await r.body()) as { ResetKeysType?: unknown } | null)?.ResetKeysType;
      if (t !== 'ResetAllKeysToDefault')
        throw new RedfishError(
          400,
          `ResetKeysType ${JSON.stringify(t)} is not supported (ResetAllKeysToDefault)`,
          MessageId.ACTION_PARAMETER,
        );
      await this.o.backend.setFirmware(n.uuid, { resetNvram: true });
      return noContent;
    }
    throw missing(`resource SecureBoot/${[sub, action].filter(Boolean).join('/')}`);
  }

  private async virtualMedia(r: Req, n: NodeStatus, dev?: string, sub?: string, action?: string): Promise<Reply> {
    const base = `${docs.systemUri(n.uuid)}/VirtualMedia`;
    const be = this.o.backend;
    if (dev === undefined) {
      allow('GET,HEAD', r.method);
      return ok(docs.collection(base, 'VirtualMediaCollection', 'Virtual Media', [`${base}/Cd`]));
    }
    if (dev !== 'Cd') throw missing(`virtual media device ${dev} (this BMC has Cd)`);
    if (sub === undefined) {
      allow('GET,HEAD,PATCH', r.method);
      const doc = docs.virtualMediaDoc(n);
      if (r.method !== 'PATCH') return ok(doc, { Allow: 'GET, HEAD, PATCH' });
      this.checkIfMatch(r.raw, doc);
      const b = ((await r.body()) ?? {}) as Record<string, unknown>;
      const extra = Object.keys(b).filter(
        (k) => !['VerifyCertificate', 'Image', 'Inserted', 'WriteProtected'].includes(k),
      );
      if (extra.length > 0)
        throw new RedfishError(400, `cannot PATCH ${extra.join(', ')} of virtual media`, MessageId.PROPERTY_UNKNOWN);
      if (b.VerifyCertificate !== undefined) {
        if (typeof b.VerifyCertificate !== 'boolean')
          throw new RedfishError(400, 'VerifyCertificate must be a boolean', MessageId.PROPERTY_TYPE);
        await be.setFirmware(n.uuid, { verifyMediaCertificate: b.VerifyCertificate });
      }
      // PATCH-style insert/eject, as some clients do when a service offers no actions.
      if (b.Inserted === false || b.Image === null || b.Image === '') await be.ejectMedia(n.uuid);
      else if (typeof b.Image === 'string') await this.insert(n, { Image: b.Image, WriteProtected: b.WriteProtected });
      return noContent;
    }
    if (sub === 'Actions' && action === 'VirtualMedia.InsertMedia') {
      allow('POST', r.method);
      await this.insert(n, await r.body());
      return noContent;
    }
    if (sub === 'Actions' && action === 'VirtualMedia.EjectMedia') {
      allow('POST', r.method);
      await be.ejectMedia(n.uuid);
      return noContent;
    }
    throw missing(`resource ${base}/Cd/${[sub, action].filter(Boolean).join('/')}`);
  }

  private async insert(n: NodeStatus, body: unknown): Promise<void> {
    const req = parseInsertMedia(body);
    const fetched = await fetchImage(req.image, {
      dir: this.o.scratchDir,
      maxBytes: this.o.maxImageBytes ?? 8 * 1024 ** 3,
      timeoutMs: this.o.imageTimeoutMs ?? 10 * 60_000,
      verifyTls: n.firmware.verifyMediaCertificate,
      auth: req.auth,
    });
    try {
      await this.o.backend.insertMedia(n.uuid, {
        image: req.image,
        file: fetched.file,
        writeProtected: req.writeProtected,
      });
      this.o.log.info('redfish virtual media inserted', { node: n.name, bytes: fetched.bytes });
    } finally {
      await rm(fetched.file, { force: true });
    }
  }

  private async manager(r: Req, v: NodeView, rest: string[]): Promise<Reply> {
    // The Manager's VirtualMedia link points at the System's collection; serve it here too.
    if (rest[0] === 'VirtualMedia') return this.virtualMedia(r, v.node, rest[1], rest[2], rest[3]);
    if (rest.length > 0) throw missing(`resource on this manager: ${rest.join('/')}`);
    allow('GET,HEAD', r.method);
    return ok(docs.managerDoc(v.node));
  }

  private async chassis(r: Req, v: NodeView, rest: string[]): Promise<Reply> {
    if (rest.length > 0) throw missing(`resource on this chassis: ${rest.join('/')}`);
    allow('GET,HEAD,PATCH', r.method);
    const doc = docs.chassisDoc(v.node);
    if (r.method !== 'PATCH') return ok(doc);
    this.checkIfMatch(r.raw, doc);
    const led = ((await r.body()) as { IndicatorLED?: unknown } | null)?.IndicatorLED;
    if (led !== 'Lit' && led !== 'Off' && led !== 'Blinking')
      throw new RedfishError(400, 'PATCH a Chassis with IndicatorLED Lit, Off or Blinking', MessageId.PROPERTY_VALUE);
    await this.o.backend.setFirmware(v.node.uuid, { indicatorLed: led });
    return noContent;
  }
}

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

function sessionDoc(s: RedfishSession): Doc {
  return {
    '@odata.id': `/redfish/v1/SessionService/Sessions/${s.id}`,
    '@odata.type': '#Session.v1_3_0.Session',
    Id: s.id,
    Name: 'User Session',
    UserName: s.username,
  };
}

/** Largest request body read; a larger one is answered 413 (after it is drained). */
const MAX_BODY_BYTES = 1 << 20;
/** How much of an unread body is drained before answering, and for how long; beyond, the answer goes anyway. */
const DRAIN_BYTES = 64 * 1024 * 1024;
const DRAIN_MS = 10_000;

/** Reads and discards what is left of a request body, within {@link DRAIN_BYTES} and {@link DRAIN_MS}. */
function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let size = 0;
    const done = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > DRAIN_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MS);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}

/**
 * The request body as JSON (null when empty). Reads with listeners rather than an async iterator:
 * leaving the iterator early destroys the request and its socket, and the 413 would never be sent.
 */
async function readBody(req: IncomingMessage): Promise<unknown> {
  const raw = await new Promise<Buffer>((resolve, reject) => {
    if (req.readableEnded) {
      resolve(Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onEarlyEnd);
      req.off('close', onEarlyEnd);
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        stop();
        reject(new RedfishError(413, 'request body larger than 1 MiB', MessageId.TOO_LARGE));
      } else chunks.push(c);
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    // The client went away before the end of its body ('aborted'): its fault, and nobody is left
    // to answer, so not a server failure.
    const onEarlyEnd = (): void => {
      stop();
      reject(new RedfishError(400, 'the request body ended early', MessageId.MALFORMED_JSON));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onEarlyEnd);
    req.once('close', onEarlyEnd);
  });
  const text = raw.toString('utf8');
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RedfishError(400, 'the request body is not valid JSON', MessageId.MALFORMED_JSON);
  }
}
