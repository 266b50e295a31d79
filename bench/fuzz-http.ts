/**
 * A raw HTTP/1.1 client connection for bench:fuzz: bytes go out exactly as the fuzzer made them,
 * responses are parsed strictly (status line, headers, Content-Length or chunked framing, 1xx
 * interim responses skipped), and a response body is judged as Redfish would have it.
 */
import { connect, type Socket } from 'node:net';

/** One parsed response. */
export interface HttpResponse {
  status: number;
  headers: Map<string, string[]>;
  body: Buffer;
}

/** How waiting for one response ended. */
export type ResponseOutcome =
  | { type: 'response'; response: HttpResponse }
  /** The server closed (FIN or reset) before any byte of a response. */
  | { type: 'closed' }
  /** Bytes came that are not an HTTP response, or the connection ended inside one. */
  | { type: 'malformed'; problem: string }
  | { type: 'timeout' };

type Parsed = { response: HttpResponse; used: number } | { more: true } | { problem: string };
const MORE: Parsed = { more: true };
const bad = (problem: string): Parsed => ({ problem });

const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d)(?: [^\r\n]*)?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

/** A response that parsed, with how many bytes it took; `more` when incomplete; else the problem. */
function parseOne(buf: Buffer, headOnly: boolean, ended: boolean): Parsed {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (buf.length > 64 * 1024) return bad('response head larger than 64 KiB');
    return ended && buf.length > 0 ? bad('connection ended inside the response head') : MORE;
  }
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (!m) return bad(`bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const status = Number(m[1]);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const h = HEADER_LINE.exec(line);
    if (!h?.[1]) return bad(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = h[1].toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), h[2] ?? '']);
  }
  let at = headEnd + 4;
  const noBody = headOnly || status < 200 || status === 204 || status === 304;
  const te = headers.get('transfer-encoding');
  const cl = headers.get('content-length');
  if (noBody) return { response: { status, headers, body: Buffer.alloc(0) }, used: at };
  if (te !== undefined) {
    if (cl !== undefined) return bad('both Transfer-Encoding and Content-Length');
    if (te.join(',').trim().toLowerCase() !== 'chunked') return bad(`Transfer-Encoding ${te.join(',')}`);
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return ended ? bad('connection ended inside a chunked body') : MORE;
      const sizeText = buf.subarray(at, lineEnd).toString('latin1').split(';')[0]?.trim() ?? '';
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return bad(`bad chunk size ${JSON.stringify(sizeText.slice(0, 20))}`);
      const size = parseInt(sizeText, 16);
      at = lineEnd + 2;
      if (size === 0) {
        // Trailers (none expected), then the final CRLF.
        const end = buf.indexOf('\r\n\r\n', at - 2);
        if (end < 0) return ended ? bad('connection ended inside the chunked trailer') : MORE;
        return { response: { status, headers, body: Buffer.concat(parts) }, used: end + 4 };
      }
      if (buf.length < at + size + 2) return ended ? bad('connection ended inside a chunk') : MORE;
      if (buf[at + size] !== 0x0d || buf[at + size + 1] !== 0x0a) return bad('chunk not followed by CRLF');
      parts.push(buf.subarray(at, at + size));
      at += size + 2;
    }
  }
  if (cl !== undefined) {
    if (cl.length !== 1 || !/^\d{1,10}$/.test(cl[0] ?? '')) return bad(`Content-Length ${cl.join(',')}`);
    const n = Number(cl[0]);
    if (buf.length < at + n) return ended ? bad('connection ended inside the body') : MORE;
    return { response: { status, headers, body: buf.subarray(at, at + n) }, used: at + n };
  }
  // Neither: the body runs to the end of the connection (what Node's own 4xx answers do, with none).
  if (!ended) return MORE;
  return { response: { status, headers, body: buf.subarray(at) }, used: buf.length };
}

/** One TCP connection to the server under test. */
export class RawConnection {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | null = null;
  /** The socket was reset (ECONNRESET, EPIPE): what the server had sent before still counts. */
  reset = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', () => {
      this.reset = true;
      this.ended = true;
      this.wake?.();
    });
  }

  static open(port: number, timeoutMs: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to 127.0.0.1:${port}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RawConnection(socket));
      });
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Writes bytes (silently nothing once the connection is gone). */
  write(b: Buffer | string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(b);
  }

  /** The next response; `headOnly` for HEAD requests. */
  async response(headOnly: boolean, deadlineMs: number): Promise<ResponseOutcome> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      let r = parseOne(this.buf, headOnly, this.ended);
      // Interim responses (100 Continue) precede the real one.
      while ('response' in r && r.response.status < 200) {
        this.buf = this.buf.subarray(r.used);
        r = parseOne(this.buf, headOnly, this.ended);
      }
      if ('response' in r) {
        this.buf = this.buf.subarray(r.used);
        return { type: 'response', response: r.response };
      }
      if ('problem' in r) return { type: 'malformed', problem: r.problem };
      if (this.ended)
        return this.buf.length === 0 ? { type: 'closed' } : { type: 'malformed', problem: 'truncated response' };
      const left = deadline - Date.now();
      if (left <= 0) return { type: 'timeout' };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** Waits up to `ms` for the server to close the connection; true when it did. */
  async waitClosed(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
    return this.ended;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Why a response is not one a Redfish service may send, or null: a body must be JSON (by its
 * Content-Type and its bytes), an error's body the Redfish error object, a success's a resource.
 */
export function redfishResponseProblem(r: HttpResponse): string | null {
  if (r.body.length === 0) return null;
  const type = r.headers.get('content-type')?.[0] ?? '';
  if (!/^application\/json\b/i.test(type)) return `a ${r.status} body of type '${type}'`;
  let doc: unknown;
  try {
    doc = JSON.parse(r.body.toString('utf8'));
  } catch {
    return `a ${r.status} body that is not JSON`;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return `a ${r.status} body that is not an object`;
  const d = doc as Record<string, unknown>;
  if (r.status >= 400) {
    const e = d.error as Record<string, unknown> | undefined;
    const info = e?.['@Message.ExtendedInfo'];
    if (typeof e?.code !== 'string' || typeof e.message !== 'string' || !Array.isArray(info) || info.length === 0)
      return `a ${r.status} body that is not a Redfish error`;
    const first = info[0] as Record<string, unknown>;
    if (typeof first.MessageId !== 'string' || typeof first.Message !== 'string')
      return `a ${r.status} error without MessageId/Message`;
    if (/\bat .+:\d+:\d+\)?$|\bundefined\b|\[object Object\]/m.test(e.message))
      return `a ${r.status} error message with a stack, 'undefined' or '[object Object]'`;
    return null;
  }
  if (typeof d['@odata.id'] !== 'string' && typeof d.v1 !== 'string')
    return `a ${r.status} body that is not a resource`;
  return null;
}
