/**
 * The Redfish service of an agent: one HTTP(S) server for every tenks node of the agent whose BMC
 * has Redfish on, at /redfish/v1/Systems/<node uuid>. A node's BMC credentials (HTTP Basic, or a
 * session token from SessionService) open that node's System, Manager and Chassis, nothing else.
 * This file holds the server's lifecycle and wiring; the router (router.ts) finds the resource
 * (resources/) that answers a request.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Duplex } from 'node:stream';
import { TenksError, type Logger } from '../../../common/index.js';
import type { RedfishBackend } from '../backend.js';
import { authenticate } from './authentication.js';
import { nodeView } from './documents.js';
import { errorBody, MessageId, RedfishError, toRedfishError } from './errors.js';
import { etagOf, errorReply, type Reply } from './reply.js';
import { drain, readBody } from './request-body.js';
import { registerResources } from './resources/index.js';
import { RedfishRouter } from './router.js';
import { SessionStore } from './sessions.js';

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

/** The agent's Redfish service. */
export class RedfishService {
  private readonly sessions: SessionStore;
  private readonly router: RedfishRouter;
  private server: Server | null = null;
  private boundPort = 0;
  /** Requests served and refused, for stats. */
  readonly stats = { requests: 0, errors: 0, unauthorised: 0 };

  constructor(private readonly o: RedfishOptions) {
    this.sessions = new SessionStore(o.sessionIdleMs ?? 30 * 60_000);
    const backend = o.backend;
    this.router = new RedfishRouter({
      authenticate: (headers) => authenticate(headers, this.sessions, backend),
      uuidOf: (name) => backend.redfishUuidOf(name),
      nodeView: (uuid) => nodeView(backend, uuid),
    });
    registerResources(this.router, {
      backend,
      sessions: this.sessions,
      log: o.log,
      stats: this.stats,
      // Identity of this service (service root UUID), stable for the process.
      serviceUuid: randomUUID(),
      media: {
        scratchDir: o.scratchDir,
        maxImageBytes: o.maxImageBytes ?? 8 * 1024 ** 3,
        imageTimeoutMs: o.imageTimeoutMs ?? 10 * 60_000,
      },
    });
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
      let cached: Promise<unknown> | null = null;
      reply = await this.router.route({
        method,
        target: req.url ?? '/',
        headers: req.headers,
        body: () => (cached ??= readBody(req)),
      });
    } catch (e) {
      const err = toRedfishError(e);
      this.stats.errors++;
      if (err.status === 401) this.stats.unauthorised++;
      if (err.status >= 500) this.o.log.warn('redfish request failed', { method, url: req.url, error: err.message });
      reply = errorReply(err);
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
}
