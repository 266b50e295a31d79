/**
 * A minimal client of a Node process's inspector (Chrome DevTools Protocol over a WebSocket; Node
 * 20 has no WebSocket global), for benches that force a garbage collection in a daemon before
 * reading its memory. The daemon is started with `--inspect=127.0.0.1:0` and prints the address.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

/** One Chrome DevTools Protocol call (`method` with `params`) over the inspector's WebSocket. */
export function inspectorCall(
  wsUrl: string,
  method: string,
  timeoutMs = 30_000,
  params: Record<string, unknown> = {},
): Promise<unknown> {
  const u = new URL(wsUrl);
  const sock = connect(Number(u.port), u.hostname);
  let buf = Buffer.alloc(0);
  let upgraded = false;
  return new Promise<unknown>((resolve, reject) => {
    const done = (e: Error | null, v?: unknown): void => {
      clearTimeout(timer);
      sock.destroy();
      if (e) reject(e);
      else resolve(v);
    };
    const timer = setTimeout(() => {
      done(new Error(`inspector ${method}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('error', (e) => {
      done(e);
    });
    sock.on('connect', () => {
      sock.write(
        `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 101')) {
          done(new Error(`inspector refused the WebSocket: ${head.split('\r\n')[0] ?? ''}`));
          return;
        }
        upgraded = true;
        buf = buf.subarray(end + 4);
        // A client frame: FIN + text, masked, 7- or 16-bit length.
        const payload = Buffer.from(JSON.stringify({ id: 1, method, params }));
        const mask = randomBytes(4);
        const len =
          payload.length < 126 ? [0x80 | payload.length] : [0x80 | 126, payload.length >> 8, payload.length & 0xff];
        const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)));
        sock.write(Buffer.concat([Buffer.from([0x81, ...len]), mask, masked]));
      }
      // Server frames are unmasked; answer id 1 is the one wanted (no domains enabled: no events).
      for (;;) {
        if (buf.length < 2) return;
        let len = (buf[1] ?? 0) & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const text = buf.subarray(off, off + len).toString('utf8');
        buf = buf.subarray(off + len);
        try {
          const m = JSON.parse(text) as { id?: number; result?: unknown; error?: unknown };
          if (m.id !== 1) continue;
          if (m.error) done(new Error(`inspector ${method}: ${JSON.stringify(m.error)}`));
          else done(null, m.result);
        } catch {
          // not JSON (a control frame): ignore
          continue;
        }
        return;
      }
    });
  });
}

/** The inspector's WebSocket address from a daemon's output (`Debugger listening on ws://...`), or null. */
export function inspectorAddress(output: string): string | null {
  return /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1] ?? null;
}

/** Two full garbage collections in the inspected process (the second frees what the first's finalisers released). */
export async function forceGc(wsUrl: string): Promise<void> {
  await inspectorCall(wsUrl, 'HeapProfiler.collectGarbage');
  await inspectorCall(wsUrl, 'HeapProfiler.collectGarbage');
}

/** The inspected process's `process.memoryUsage()` (bytes: rss, heapTotal, heapUsed, external, arrayBuffers). */
export async function memoryUsage(wsUrl: string): Promise<Record<string, number>> {
  const r = (await inspectorCall(wsUrl, 'Runtime.evaluate', 30_000, {
    expression: 'JSON.stringify(process.memoryUsage())',
    returnByValue: true,
  })) as { result?: { value?: unknown } };
  const v = r.result?.value;
  if (typeof v !== 'string') throw new Error(`inspector: process.memoryUsage() gave ${JSON.stringify(r)}`);
  return JSON.parse(v) as Record<string, number>;
}
