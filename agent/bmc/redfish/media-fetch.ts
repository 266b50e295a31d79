/**
 * Fetches a virtual media image over HTTP(S) into a local file, with a size limit and a deadline.
 * Redirects are followed here, hop by hop, so that the image server's credentials go only to the
 * origin (scheme, host and port) the image URL names, and a redirect from HTTPS to HTTP is refused:
 * either would hand the credentials, or the image the node boots, to whoever sits on the path.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageId, RedfishError } from './errors.js';
import { insecureDispatcher, type FetchDispatcher } from './tls-dispatcher.js';

/** Options of one fetch. */
export interface FetchOptions {
  /** Directory for the downloaded file. */
  dir: string;
  /** Largest image accepted. */
  maxBytes: number;
  /** Whole download deadline. */
  timeoutMs: number;
  /** Check the server's TLS certificate (Redfish `VerifyCertificate`). */
  verifyTls: boolean;
  /** HTTP Basic credentials, sent only to the origin of the image URL. */
  auth: { username: string; password: string } | null;
  /** Redirects followed at most. */
  maxRedirects?: number;
}

/** A downloaded image; the caller deletes the file. */
export interface FetchedImage {
  file: string;
  bytes: number;
}

/** Why a fetch failed: fetch rejects with "fetch failed" and keeps the reason as its cause. */
function reason(e: unknown): string {
  let err: unknown = e;
  while (err instanceof Error && err.cause instanceof Error) err = err.cause;
  return err instanceof Error ? err.message : String(err);
}

function httpUrl(text: string, base?: URL): URL | null {
  try {
    const url = new URL(text, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

/**
 * Downloads `image`. Failures are Redfish errors as sushy-tools reports them: the image server's
 * 4xx → 400, its 5xx → 502, anything else (unreachable, too large, too slow) → 400/502 with the reason.
 */
export async function fetchImage(image: string, o: FetchOptions): Promise<FetchedImage> {
  let url: URL;
  try {
    url = new URL(image);
  } catch {
    throw new RedfishError(400, `Image '${image}' is not a URL`, MessageId.ACTION_PARAMETER);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new RedfishError(400, `Image must be an http or https URL, not ${url.protocol}`, MessageId.ACTION_PARAMETER);
  let auth = o.auth;
  if (url.username !== '' || url.password !== '') {
    // fetch refuses URLs with credentials in them; they are the image origin's Basic credentials.
    auth ??= { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    url.username = '';
    url.password = '';
  }
  const origin = url.origin;
  const basic = auth ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : null;
  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  const file = join(o.dir, `media-${randomBytes(6).toString('hex')}.img`);
  const signal = AbortSignal.timeout(o.timeoutMs);
  let dispatcher: FetchDispatcher | null = null;
  let redirects = o.maxRedirects ?? 5;
  try {
    for (;;) {
      if (url.protocol === 'https:' && !o.verifyTls) dispatcher ??= await insecureDispatcher();
      const headers: Record<string, string> = { 'User-Agent': 'tenks-bmc', 'Accept-Encoding': 'identity' };
      if (basic !== null && url.origin === origin) headers.Authorization = basic;
      let res: Response;
      try {
        res = await fetch(url, { headers, redirect: 'manual', signal, ...(dispatcher ? { dispatcher } : {}) });
      } catch (e) {
        const why = signal.aborted ? `no answer within ${o.timeoutMs} ms` : reason(e);
        throw new RedfishError(502, `cannot fetch ${image}: ${why}`, MessageId.GENERAL);
      }
      const status = res.status;
      const location = res.headers.get('location');
      if (status >= 300 && status < 400 && location !== null) {
        await discard(res);
        if (redirects-- <= 0) throw new RedfishError(400, `too many redirects fetching ${image}`);
        const next = httpUrl(location, url);
        if (!next)
          throw new RedfishError(
            400,
            `fetching ${image}: the image server redirected to '${location}', which is not an http or https URL`,
            MessageId.ACTION_PARAMETER,
          );
        if (url.protocol === 'https:' && next.protocol === 'http:')
          throw new RedfishError(
            400,
            `fetching ${image}: refused a redirect from HTTPS (${url.origin}) to plain HTTP (${next.origin})`,
            MessageId.ACTION_PARAMETER,
          );
        next.username = '';
        next.password = '';
        url = next;
        continue;
      }
      if (status < 200 || status >= 300) {
        await discard(res);
        throw new RedfishError(
          status >= 500 ? 502 : 400,
          `fetching ${image} failed: the image server answered ${status}`,
          MessageId.ACTION_PARAMETER,
        );
      }
      const declared = Number(res.headers.get('content-length') ?? -1);
      if (declared > o.maxBytes) {
        await discard(res);
        throw new RedfishError(400, `image ${image} is ${declared} bytes, more than the ${o.maxBytes} allowed`);
      }
      const bytes = await save(res, file, image, o, signal);
      if (bytes === 0) throw new RedfishError(400, `image ${image} is empty`, MessageId.ACTION_PARAMETER);
      return { file, bytes };
    }
  } catch (e) {
    await rm(file, { force: true });
    throw e;
  } finally {
    await dispatcher?.destroy().catch(() => undefined);
  }
}

/** Writes the body to `file` (mode 0600), stopping at the size limit; returns its size. */
async function save(res: Response, file: string, image: string, o: FetchOptions, signal: AbortSignal): Promise<number> {
  const out = await open(file, 'wx', 0o600);
  let bytes = 0;
  try {
    if (res.body)
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        // Leaving the loop cancels the body, which closes the connection.
        if (bytes > o.maxBytes)
          throw new RedfishError(400, `image ${image} is larger than the ${o.maxBytes} bytes allowed`);
        await out.write(chunk);
      }
  } catch (e) {
    if (e instanceof RedfishError) throw e;
    const why = signal.aborted ? `not complete within ${o.timeoutMs} ms` : reason(e);
    throw new RedfishError(502, `fetching ${image} failed: ${why}`);
  } finally {
    await out.close();
  }
  return bytes;
}
