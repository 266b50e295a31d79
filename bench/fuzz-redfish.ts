/**
 * The Redfish half of bench:fuzz: `workers` concurrent clients, each with its own seeded stream,
 * send {@link nextRequest}s as raw bytes in three shapes: one request on a fresh connection,
 * keep-alive sequences (2-20 requests, each awaited) and pipelined batches (2-10 requests written
 * at once, answered in order). Every request that must be answered has a deadline (10 s, 30 s for
 * 10 MB bodies): no answer in time is a hang, a connection closed without an answer is counted too,
 * and every response goes through {@link redfishResponseProblem}. A few slowloris connections
 * trickle header bytes through the whole run; the server must close them itself.
 */
import { redfishResponseProblem, RawConnection, type HttpResponse, type ResponseOutcome } from './fuzz-http.js';
import { nextRequest, type RequestCase } from './fuzz-redfish-requests.js';
import type { RedfishTarget, TokenBook } from './fuzz-redfish-target.js';
import { Rng } from './fuzz-rng.js';
import { note, type Tally } from './fuzz-tally.js';

/** Options of {@link fuzzRedfish}. */
export interface RedfishFuzzOptions {
  port: number;
  target: RedfishTarget;
  requests: number;
  seed: number;
  workers: number;
  /** About this many 10 MB bodies, and this many partial requests, in all. */
  bigBodies: number;
  partials: number;
  /** Slowloris connections. */
  slowloris: number;
  say: (line: string) => void;
}

/** What the Redfish fuzz saw. */
export interface RedfishFuzzResult {
  requests: number;
  responses: number;
  malformed: number;
  malformed_by_problem: Tally;
  /** Requests the server had to answer but closed the connection on without answering. */
  no_response: number;
  no_response_by_kind: Tally;
  /** Requests not answered within their deadline. */
  hangs: number;
  hangs_by_kind: Tally;
  /** 500s, and 5xx answers to GET/HEAD (expected conditions are 4xx). */
  server_errors: number;
  server_errors_by_kind: Tally;
  statuses: Record<string, number>;
  kinds: Record<string, number>;
  /** Mean and longest wait for an answer, ms, by kind. */
  ms_by_kind: Record<string, { mean: number; max: number }>;
  big_bodies: number;
  partials: number;
  /** Partial requests the server answered within 1 s (it may answer them, with an error). */
  partials_answered: number;
  slowloris: { connections: number; closed_by_server: number; seconds_to_close_max: number | null };
  seconds: number;
  requests_per_s: number;
}

/** Counts `key` in `t`, keeping its first example cut to 300 characters. */
function example(t: Tally, key: string, first: string): void {
  note(t, key, first, 300);
}

/** Shared counters. */
class Counters {
  requests = 0;
  responses = 0;
  malformed = 0;
  readonly malformedBy: Tally = {};
  noResponse = 0;
  readonly noResponseBy: Tally = {};
  hangs = 0;
  readonly hangsBy: Tally = {};
  serverErrors = 0;
  readonly serverErrorsBy: Tally = {};
  readonly statuses: Record<string, number> = {};
  readonly kinds: Record<string, number> = {};
  /** Milliseconds from writing a request to judging its answer, summed and at most, by kind. */
  readonly kindMs: Record<string, { sum: number; max: number }> = {};
  big = 0;
  partials = 0;
  partialsAnswered = 0;
}

/** The request line, for examples in the figures. */
function firstLine(c: RequestCase): string {
  const end = c.bytes.indexOf('\r\n');
  return c.bytes.subarray(0, end < 0 ? Math.min(200, c.bytes.length) : Math.min(end, 200)).toString('latin1');
}

/** Records one outcome; returns the response when there was a well-formed one. */
function judge(
  c: RequestCase,
  out: ResponseOutcome,
  counters: Counters,
  book: TokenBook,
  sentAt: number,
  where: string,
): HttpResponse | null {
  const ms = performance.now() - sentAt;
  const t = (counters.kindMs[c.kind] ??= { sum: 0, max: 0 });
  t.sum += ms;
  t.max = Math.max(t.max, ms);
  const what = `${c.kind} (${where}): ${firstLine(c)}`;
  switch (out.type) {
    case 'timeout':
      counters.hangs++;
      example(counters.hangsBy, c.kind, what);
      return null;
    case 'closed':
      counters.noResponse++;
      example(counters.noResponseBy, c.kind, what);
      return null;
    case 'malformed':
      counters.malformed++;
      example(counters.malformedBy, out.problem.replace(/\d+/g, 'N'), `${out.problem} <- ${what}`);
      return null;
    case 'response':
      break;
  }
  const r = out.response;
  counters.responses++;
  counters.statuses[r.status] = (counters.statuses[r.status] ?? 0) + 1;
  const problem = redfishResponseProblem(r);
  if (problem) {
    counters.malformed++;
    example(
      counters.malformedBy,
      problem.replace(/\d+/g, 'N'),
      `${problem}: ${r.body.toString('utf8').slice(0, 160)} <- ${what}`,
    );
  }
  if (r.status === 500 || (r.status >= 500 && (c.method === 'GET' || c.method === 'HEAD'))) {
    counters.serverErrors++;
    example(counters.serverErrorsBy, `${r.status} ${c.kind}`, `${r.body.toString('utf8').slice(0, 200)} <- ${what}`);
  }
  if (c.login && r.status === 201) {
    const token = r.headers.get('x-auth-token')?.[0];
    const id = r.headers.get('location')?.[0]?.split('/').pop();
    if (token && id) {
      book.live.push({ token, id });
      if (book.live.length > 16) book.dead.push(book.live.shift()?.token ?? '');
    }
  }
  if (c.logout !== undefined && r.status === 204) {
    book.live = book.live.filter((s) => s.token !== c.logout);
    book.dead.push(c.logout);
    if (book.dead.length > 32) book.dead.shift();
  }
  return r;
}

/** Waits for the answer to `c` on `conn` and judges it (see {@link judge}). */
async function judgeAnswer(
  conn: RawConnection,
  c: RequestCase,
  worker: { counters: Counters; book: TokenBook },
  sentAt: number,
  where: string,
): Promise<HttpResponse | null> {
  return judge(c, await conn.response(c.method === 'HEAD', c.deadlineMs), worker.counters, worker.book, sentAt, where);
}

function closes(r: HttpResponse | null): boolean {
  return r === null || (r.headers.get('connection')?.some((v) => /close/i.test(v)) ?? false);
}

/** One worker: its own stream and token book, `quota` requests. */
async function worker(index: number, quota: number, opts: RedfishFuzzOptions, counters: Counters): Promise<void> {
  const rng = new Rng(opts.seed, `redfish-${index}`);
  const book: TokenBook = { live: [], dead: [] };
  const state = { counters, book };
  // Units hold 3.3 requests on average (55 % single, 30 % 2-20 sequential, 15 % 2-10 pipelined).
  const units = quota / 3.3;
  const pBig = opts.bigBodies / opts.workers / units;
  const pPartial = opts.partials / opts.workers / units;
  let sent = 0;
  const count = (c: RequestCase): void => {
    sent++;
    counters.requests++;
    counters.kinds[c.kind] = (counters.kinds[c.kind] ?? 0) + 1;
  };
  while (sent < quota) {
    const shape = rng.weighted<'single' | 'sequence' | 'pipeline'>([
      [55, 'single'],
      [30, 'sequence'],
      [15, 'pipeline'],
    ]);
    const big = rng.chance(pBig);
    const partial = !big && rng.chance(pPartial);
    if (shape === 'single' || big || partial) {
      const c = nextRequest(rng, opts.target, book, { clean: false, close: rng.chance(0.5), big, partial });
      const conn = await RawConnection.open(opts.port, 10_000);
      try {
        count(c);
        if (big) counters.big++;
        const at = performance.now();
        conn.write(c.bytes);
        if (c.answer) await judgeAnswer(conn, c, state, at, 'single');
        else {
          counters.partials++;
          const out = await conn.response(false, c.deadlineMs);
          if (out.type === 'response') counters.partialsAnswered++;
          else if (out.type === 'malformed') judge(c, out, counters, book, at, 'single');
        }
      } finally {
        conn.close();
      }
      continue;
    }
    const n = shape === 'sequence' ? rng.range(2, 20) : rng.range(2, 10);
    const cases = Array.from({ length: Math.min(n, quota - sent) }, () =>
      nextRequest(rng, opts.target, book, { clean: true, close: false, big: false, partial: false }),
    );
    let conn: RawConnection | null = null;
    try {
      if (shape === 'pipeline') {
        conn = await RawConnection.open(opts.port, 10_000);
        const at = performance.now();
        conn.write(Buffer.concat(cases.map((c) => c.bytes)));
        for (const [i, c] of cases.entries()) {
          count(c);
          const r = await judgeAnswer(conn, c, state, at, `pipeline ${i}`);
          // The server closed after this one: the rest were never read by it.
          if (closes(r)) break;
        }
      } else {
        for (const [i, c] of cases.entries()) {
          if (!conn || conn.closed) {
            conn?.close();
            conn = await RawConnection.open(opts.port, 10_000);
          }
          count(c);
          const at = performance.now();
          conn.write(c.bytes);
          const r = await judgeAnswer(conn, c, state, at, `sequence ${i}`);
          if (closes(r)) {
            conn.close();
            conn = null;
          }
        }
      }
    } finally {
      conn?.close();
    }
  }
}

/** A slowloris connection: a header line every 2 s until the server closes it or `stop` is set. */
async function slowloris(port: number, stop: { done: boolean }): Promise<number | null> {
  const conn = await RawConnection.open(port, 10_000);
  const t0 = performance.now();
  try {
    conn.write('GET /redfish/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    for (let i = 0; !stop.done; i++) {
      if (await conn.waitClosed(2000)) return (performance.now() - t0) / 1000;
      conn.write(`X-Slow-${i}: ${i}\r\n`);
    }
    return null;
  } finally {
    conn.close();
  }
}

/** Runs the Redfish fuzz; progress every 10 s through `opts.say`. */
export async function fuzzRedfish(opts: RedfishFuzzOptions): Promise<RedfishFuzzResult> {
  const counters = new Counters();
  const t0 = performance.now();
  const stopSlow = { done: false };
  const slow = Array.from({ length: opts.slowloris }, () => slowloris(opts.port, stopSlow));
  let waitingForSlowloris = false;
  const progress = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    if (waitingForSlowloris) {
      opts.say(`Redfish: waiting for the server to close the slowloris connections (${s.toFixed(0)} s in)`);
      return;
    }
    opts.say(
      `Redfish: ${counters.requests} requests in ${s.toFixed(0)} s (${Math.round(counters.requests / s)}/s), ${counters.malformed} malformed, ${counters.noResponse} unanswered, ${counters.hangs} hangs, ${counters.serverErrors} server errors`,
    );
  }, 10_000);
  let seconds: number;
  let closedAt: (number | null)[];
  try {
    const quota = Math.ceil(opts.requests / opts.workers);
    await Promise.all(Array.from({ length: opts.workers }, (_, i) => worker(i, quota, opts, counters)));
    seconds = (performance.now() - t0) / 1000;
    waitingForSlowloris = opts.slowloris > 0;
    // Node checks header timeouts every 30 s (headersTimeout 20 s): give the server until 60 s in.
    const grace = Math.max(0, 60_000 - (performance.now() - t0));
    const timer = setTimeout(() => {
      stopSlow.done = true;
    }, grace);
    closedAt = await Promise.all(slow);
    clearTimeout(timer);
  } finally {
    stopSlow.done = true;
    clearInterval(progress);
  }
  const closed = closedAt.filter((x): x is number => x !== null);
  return {
    requests: counters.requests,
    responses: counters.responses,
    malformed: counters.malformed,
    malformed_by_problem: counters.malformedBy,
    no_response: counters.noResponse,
    no_response_by_kind: counters.noResponseBy,
    hangs: counters.hangs,
    hangs_by_kind: counters.hangsBy,
    server_errors: counters.serverErrors,
    server_errors_by_kind: counters.serverErrorsBy,
    statuses: counters.statuses,
    kinds: counters.kinds,
    ms_by_kind: Object.fromEntries(
      Object.entries(counters.kindMs).map(([kind, t]) => [
        kind,
        { mean: Math.round((t.sum / (counters.kinds[kind] ?? 1)) * 10) / 10, max: Math.round(t.max) },
      ]),
    ),
    big_bodies: counters.big,
    partials: counters.partials,
    partials_answered: counters.partialsAnswered,
    slowloris: {
      connections: opts.slowloris,
      closed_by_server: closed.length,
      seconds_to_close_max: closed.length > 0 ? Math.round(Math.max(...closed) * 10) / 10 : null,
    },
    seconds: Math.round(seconds * 10) / 10,
    requests_per_s: Math.round(counters.requests / seconds),
  };
}
