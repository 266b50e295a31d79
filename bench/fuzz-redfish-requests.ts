/**
 * Redfish fuzz requests for bench/fuzz-redfish.ts, as raw bytes: odd methods, path tricks (`..`,
 * encoded slashes and dots, bad percent escapes, very long paths, raw and encoded unicode), bad or
 * logged-out session tokens, bad Basic credentials, header abuse (thousands of headers, huge
 * values, duplicate or conflicting lengths, bad names, folding, Expect, Upgrade), bad JSON bodies,
 * 10 MB bodies, and well-formed requests to every resource and action. Pure: no sockets.
 */
import { body } from './fuzz-redfish-bodies.js';
import { authHeaders } from './fuzz-redfish-credentials.js';
import { actionPath, resourcePath, trickyPath, UNICODE } from './fuzz-redfish-paths.js';
import type { RedfishTarget, TokenBook } from './fuzz-redfish-target.js';
import type { Rng } from './fuzz-rng.js';

export type { RedfishTarget } from './fuzz-redfish-target.js';

/** One request to send. */
export interface RequestCase {
  /** Category, for the figures. */
  kind: string;
  method: string;
  bytes: Buffer;
  /** The server must answer (false: a partial request, which it may hold until its timeouts). */
  answer: boolean;
  /** The request leaves the connection unusable (the server answers and closes). */
  breaks: boolean;
  deadlineMs: number;
  /** What to do with the response (record a login's token). */
  login?: boolean;
  logout?: string;
}

const TEN_MB = 10 * 1024 * 1024;
/** One shared 10 MB body (a JSON string that never ends, so it is invalid whatever the limit). */
const BIG_BODY = Buffer.concat([Buffer.from('{"UserName":"'), Buffer.alloc(TEN_MB - 13, 0x61)]);

const METHODS_ODD = ['PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'Get', 'M-SEARCH', 'PURGE'];
const HEADER_NAMES = [
  'X-Fuzz',
  'Accept',
  'Accept-Encoding',
  'User-Agent',
  'Cookie',
  'OData-Version',
  'Prefer',
  'X-Forwarded-For',
];

interface Parts {
  method: string;
  target: string;
  version?: string;
  headers: string[];
  body?: Buffer;
  /** Content-Length as sent (default: the body's length when there is a body). */
  contentLength?: string | null;
  close: boolean;
}

function assemble(p: Parts): Buffer {
  const lines = [`${p.method} ${p.target} ${p.version ?? 'HTTP/1.1'}`, 'Host: 127.0.0.1', ...p.headers];
  const cl = p.contentLength !== undefined ? p.contentLength : p.body ? String(p.body.length) : null;
  if (cl !== null) lines.push(`Content-Length: ${cl}`);
  if (p.body && !p.headers.some((h) => /^content-type:/i.test(h))) lines.push('Content-Type: application/json');
  if (p.close) lines.push('Connection: close');
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), p.body ?? Buffer.alloc(0)]);
}

/** Options of {@link nextRequest}. */
export interface NextOptions {
  /** Only requests that leave the connection usable (keep-alive and pipelined units). */
  clean: boolean;
  /** Ask the server to close after answering. */
  close: boolean;
  /** Allow a 10 MB body / a partial request (rare, decided by the caller). */
  big: boolean;
  partial: boolean;
}

/** The next fuzz request. */
export function nextRequest(rng: Rng, bmc: RedfishTarget, book: TokenBook, opts: NextOptions): RequestCase {
  const deadlineMs = 10_000;
  if (opts.big) {
    const { method, path } = rng.pick([
      { method: 'POST', path: '/redfish/v1/SessionService/Sessions' },
      { method: 'POST', path: `/redfish/v1/Systems/${rng.pick(bmc.nodes).uuid}/Actions/ComputerSystem.Reset` },
      { method: 'PATCH', path: `/redfish/v1/Systems/${rng.pick(bmc.nodes).uuid}` },
      { method: 'GET', path: '/redfish/v1' },
    ]);
    const good = rng.chance(0.7);
    const chunked = rng.chance(0.3);
    const headers = authHeaders(rng, bmc, book, good);
    const bytes = chunked
      ? Buffer.concat([
          assemble({
            method,
            target: path,
            headers: [...headers, 'Transfer-Encoding: chunked'],
            contentLength: null,
            close: true,
          }),
          Buffer.from(`${BIG_BODY.length.toString(16)}\r\n`),
          BIG_BODY,
          Buffer.from('\r\n0\r\n\r\n'),
        ])
      : assemble({ method, target: path, headers, body: BIG_BODY, close: true });
    return { kind: 'body-10mb', method, bytes, answer: true, breaks: true, deadlineMs: 30_000 };
  }
  if (opts.partial) {
    const n = rng.pick(bmc.nodes);
    const full = assemble({
      method: 'PATCH',
      target: `/redfish/v1/Systems/${n.uuid}`,
      headers: authHeaders(rng, bmc, book, true),
      body: Buffer.from('{"IndicatorLED":"Lit"}'),
      ...(rng.chance(0.5) ? { contentLength: '5000' } : {}),
      close: false,
    });
    // Cut inside the head, or send the whole head with a body shorter than its Content-Length.
    const bytes = full.includes('5000') ? full : full.subarray(0, rng.range(5, full.indexOf('\r\n\r\n')));
    return { kind: 'partial', method: 'PATCH', bytes, answer: false, breaks: true, deadlineMs: 1_000 };
  }
  const kind = rng.weighted<string>(
    opts.clean
      ? [
          [40, 'get'],
          [8, 'get-token'],
          [6, 'login'],
          [2, 'logout'],
          [10, 'path'],
          [8, 'auth'],
          [10, 'action'],
          [8, 'json'],
          [4, 'method'],
        ]
      : [
          [25, 'get'],
          [5, 'get-token'],
          [5, 'login'],
          [1, 'logout'],
          [12, 'path'],
          [8, 'auth'],
          [8, 'action'],
          [8, 'json'],
          [6, 'method'],
          [8, 'headers'],
          [4, 'framing'],
        ],
  );
  const close = opts.close;
  const req = (p: Omit<Parts, 'close'>, extra: Partial<RequestCase> = {}): RequestCase => ({
    kind,
    method: p.method,
    bytes: assemble({ ...p, close }),
    answer: true,
    breaks: false,
    deadlineMs,
    ...extra,
  });
  switch (kind) {
    case 'get':
      return req({
        method: rng.chance(0.85) ? 'GET' : 'HEAD',
        target: resourcePath(rng, bmc),
        headers: authHeaders(rng, bmc, book, true),
      });
    case 'get-token': {
      const live = book.live.length > 0 ? rng.pick(book.live).token : rng.bytes(24).toString('base64url');
      return req({ method: 'GET', target: resourcePath(rng, bmc), headers: [`X-Auth-Token: ${live}`] });
    }
    case 'login': {
      const b = body(rng, bmc, true);
      const creds = rng.chance(0.6)
        ? Buffer.from(JSON.stringify({ UserName: bmc.username, Password: bmc.password }))
        : rng.chance(0.5)
          ? b
          : body(rng, bmc, false);
      return req(
        { method: 'POST', target: '/redfish/v1/SessionService/Sessions', headers: [], body: creds },
        { login: true },
      );
    }
    case 'logout': {
      const s = book.live.length > 0 ? rng.pick(book.live) : null;
      if (!s)
        return req({
          method: 'DELETE',
          target: '/redfish/v1/SessionService/Sessions/0',
          headers: authHeaders(rng, bmc, book, true),
        });
      return req(
        {
          method: 'DELETE',
          target: `/redfish/v1/SessionService/Sessions/${s.id}`,
          headers: [`X-Auth-Token: ${s.token}`],
        },
        { logout: s.token },
      );
    }
    case 'path':
      return req({
        method: rng.chance(0.9) ? 'GET' : 'POST',
        target: trickyPath(rng, bmc, opts.clean),
        headers: authHeaders(rng, bmc, book, rng.chance(0.8)),
      });
    case 'auth':
      return req({
        method: rng.chance(0.7) ? 'GET' : 'PATCH',
        target: resourcePath(rng, bmc),
        headers: authHeaders(rng, bmc, book, false),
        ...(rng.chance(0.3) ? { body: body(rng, bmc, true) } : {}),
      });
    case 'action': {
      const a = actionPath(rng, bmc, book);
      const ifMatch = rng.weighted<string[]>([
        [6, []],
        [1, ['If-Match: *']],
        [1, [`If-Match: "${rng.bytes(6).toString('base64url')}"`]],
        [1, ['If-Match: W/"x", "y"']],
      ]);
      return req({
        method: a.method,
        target: a.path,
        headers: [...authHeaders(rng, bmc, book, rng.chance(0.9)), ...ifMatch],
        body: body(rng, bmc, rng.chance(0.8)),
      });
    }
    case 'json': {
      const a = actionPath(rng, bmc, book);
      return req({
        method: a.method,
        target: a.path,
        headers: [
          ...authHeaders(rng, bmc, book, true),
          ...(rng.chance(0.2)
            ? [
                `Content-Type: ${rng.pick(['text/plain', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', ''])}`,
              ]
            : []),
        ],
        body: body(rng, bmc, false),
      });
    }
    case 'method': {
      // Node's parser refuses lower-case and unknown methods with 400 and a close: not in clean units.
      const method = rng.pick(
        opts.clean ? METHODS_ODD.filter((m) => m === m.toUpperCase() && m !== 'CONNECT') : METHODS_ODD,
      );
      // CONNECT takes an authority, which Node's parser insists on; anything else a path.
      const target = method === 'CONNECT' ? rng.pick(['127.0.0.1:1', 'example.invalid:443']) : resourcePath(rng, bmc);
      return req(
        {
          method,
          target,
          headers: authHeaders(rng, bmc, book, true),
          ...(rng.chance(0.3) ? { body: body(rng, bmc, true) } : {}),
        },
        method === 'CONNECT' ? { breaks: true } : {},
      );
    }
    case 'headers': {
      const auth = authHeaders(rng, bmc, book, true);
      const target = resourcePath(rng, bmc);
      const extra = rng.weighted<() => string[]>([
        [
          3,
          () =>
            Array.from(
              { length: rng.pick([50, 500, 1999, 2001, 5000]) },
              (_, i) => `${rng.pick(HEADER_NAMES)}-${i}: ${i}`,
            ),
        ],
        [2, () => [`X-Long: ${'v'.repeat(rng.pick([1000, 9000, 17_000, 70_000]))}`]],
        [1, () => ['X Bad Name: 1']],
        [1, () => ['X-Nul: a\u0000b']],
        [1, () => ['X-Fold: a', ' b']],
        [1, () => [`X-Utf8: ${rng.pick(UNICODE)}`]],
        [1, () => ['Connection: Upgrade', 'Upgrade: websocket']],
        [1, () => ['Expect: 100-continue']],
        [1, () => ['Expect: 999-unknown']],
        [1, () => ['Content-Length: 1', 'Content-Length: 2']],
        [1, () => ['Transfer-Encoding: chunked', 'Content-Length: 3']],
        [1, () => ['Transfer-Encoding: gzip']],
        [1, () => ['Host: a', 'Host: b']],
      ])();
      return req({ method: 'GET', target, headers: [...auth, ...extra] }, { breaks: true });
    }
    default: {
      // Framing: versions, request lines and bodies that do not add up.
      const target = resourcePath(rng, bmc);
      const auth = authHeaders(rng, bmc, book, true);
      return rng.weighted<() => RequestCase>([
        [
          1,
          () =>
            req(
              {
                method: 'GET',
                target,
                version: rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1x', 'FOO/1.1', 'HTTP/9.9']),
                headers: auth,
              },
              { breaks: true },
            ),
        ],
        [1, () => req({ method: 'GET', target: `${target} extra`, headers: auth }, { breaks: true })],
        [
          1,
          () =>
            req(
              {
                method: 'POST',
                target,
                headers: auth,
                body: Buffer.from('{"a":1}'),
                contentLength: rng.pick(['-1', 'abc', '1e3', '0x10', ' 7', '99999999999999999999']),
              },
              { breaks: true },
            ),
        ],
        [
          1,
          () =>
            req(
              {
                method: 'POST',
                target,
                headers: [...auth, 'Transfer-Encoding: chunked'],
                body: Buffer.from(
                  rng.pick([
                    'zz\r\nabc\r\n0\r\n\r\n',
                    '3\r\nabcdef\r\n0\r\n\r\n',
                    '-1\r\n\r\n',
                    '3\r\nabc\r\nx\r\n\r\n',
                  ]),
                ),
                contentLength: null,
              },
              { breaks: true },
            ),
        ],
        [
          1,
          () =>
            req(
              {
                method: 'POST',
                target,
                headers: auth,
                body: Buffer.from('{"ResetType":"On"}GET / HTTP/1.1\r\n\r\n'),
                contentLength: '18',
              },
              { breaks: true },
            ),
        ],
        [
          1,
          () => ({
            kind,
            method: 'GET',
            bytes: Buffer.concat([
              Buffer.from('GET /redfish/v1 HTTP/1.1\r\nHost: x\r\n'),
              rng.bytes(rng.range(1, 200)),
              Buffer.from('\r\n\r\n'),
            ]),
            answer: true,
            breaks: true,
            deadlineMs,
          }),
        ],
        [
          1,
          () => ({
            kind,
            method: 'GET',
            bytes: Buffer.concat([rng.bytes(rng.range(1, 300)), Buffer.from('\r\n\r\n')]),
            answer: true,
            breaks: true,
            deadlineMs,
          }),
        ],
      ])();
    }
  }
}
