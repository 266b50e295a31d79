/** Fetches a virtual media image over HTTP(S) into a local file, with a size limit and a deadline. */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MessageId, RedfishError } from './errors.js';

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
  /** HTTP Basic credentials for the image server. */
  auth: { username: string; password: string } | null;
  /** Redirects followed at most. */
  maxRedirects?: number;
}

/** A downloaded image; the caller deletes the file. */
export interface FetchedImage {
  file: string;
  bytes: number;
}

function request(url: URL, o: FetchOptions, signal: AbortSignal): Promise<IncomingMessage> {
  const headers: Record<string, string> = { 'User-Agent': 'tenks-bmc' };
  if (o.auth)
    headers.Authorization = `Basic ${Buffer.from(`${o.auth.username}:${o.auth.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const options = { headers, signal, ...(url.protocol === 'https:' ? { rejectUnauthorized: o.verifyTls } : {}) };
    const req = url.protocol === 'https:' ? httpsGet(url, options, resolve) : httpGet(url, options, resolve);
    req.on('error', reject);
  });
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
  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  const file = join(o.dir, `media-${randomBytes(6).toString('hex')}.img`);
  const signal = AbortSignal.timeout(o.timeoutMs);
  let redirects = o.maxRedirects ?? 5;
  try {
    for (;;) {
      let res: IncomingMessage;
      try {
        res = await request(url, o, signal);
      } catch (e) {
        const why = signal.aborted ? `no answer within ${o.timeoutMs} ms` : (e as Error).message;
        throw new RedfishError(502, `cannot fetch ${image}: ${why}`, MessageId.GENERAL);
      }
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        res.resume();
        if (redirects-- <= 0) throw new RedfishError(400, `too many redirects fetching ${image}`);
        url = new URL(location, url);
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        throw new RedfishError(
          status >= 500 ? 502 : 400,
          `fetching ${image} failed: the image server answered ${status}`,
          MessageId.ACTION_PARAMETER,
        );
      }
      const declared = Number(res.headers['content-length'] ?? -1);
      if (declared > o.maxBytes) {
        res.resume();
        throw new RedfishError(400, `image ${image} is ${declared} bytes, more than the ${o.maxBytes} allowed`);
      }
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > o.maxBytes)
          res.destroy(new RedfishError(400, `image ${image} is larger than the ${o.maxBytes} bytes allowed`));
      });
      try {
        await pipeline(res, createWriteStream(file, { mode: 0o600 }));
      } catch (e) {
        if (e instanceof RedfishError) throw e;
        const why = signal.aborted ? `not complete within ${o.timeoutMs} ms` : (e as Error).message;
        throw new RedfishError(502, `fetching ${image} failed: ${why}`);
      }
      if (bytes === 0) throw new RedfishError(400, `image ${image} is empty`, MessageId.ACTION_PARAMETER);
      return { file, bytes };
    }
  } catch (e) {
    await rm(file, { force: true });
    throw e;
  }
}
