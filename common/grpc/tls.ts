import { isIP } from 'node:net';
import { credentials, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { readTlsIdentity, type TlsIdentity } from '../config-files.js';
import { TenksError } from '../errors.js';

/** Files of a mutual-TLS identity. */
export interface TlsFiles {
  /** CA certificate (PEM) that signs every peer. */
  caFile: string;
  /** This side's certificate (PEM). */
  certFile: string;
  /** This side's private key (PEM). */
  keyFile: string;
}

/** Config fields of the `tls` section, for errors. */
const TLS_FIELDS = { caFile: 'tls.ca_file', certFile: 'tls.cert_file', keyFile: 'tls.key_file' } as const;

/** Reads and checks the files of `tls` (PEM, key matches certificate); errors name the `tls.*` field. */
export function readTls(tls: TlsFiles): Promise<TlsIdentity> {
  return readTlsIdentity(tls, TLS_FIELDS);
}

/** Server credentials that require a client certificate signed by the CA. */
export async function serverCredentials(tls: TlsFiles | TlsIdentity): Promise<ServerCredentials> {
  const { ca, cert, key } = 'ca' in tls ? tls : await readTls(tls);
  return ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true);
}

/** Client credentials presenting our certificate and trusting only the CA. */
export async function clientCredentials(tls: TlsFiles): Promise<ChannelCredentials> {
  const { ca, cert, key } = await readTls(tls);
  return credentials.createSsl(ca, key, cert);
}

/** True for 127.0.0.0/8, ::1 and `localhost`: the only places plaintext gRPC is allowed. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

/** `host:port` or `[v6]:port`. */
export const HOST_PORT = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/;

/** Splits `host:port` / `[v6]:port`. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = HOST_PORT.exec(address);
  if (!m) throw new TenksError('INVALID_SPEC', `'${address}' is not host:port`, { field: 'listen' });
  const port = Number(m[3]);
  if (port > 65535)
    throw new TenksError('INVALID_SPEC', `port ${port} of '${address}' is above 65535`, { field: 'listen' });
  return { host: m[1] ?? m[2] ?? '', port };
}

/**
 * Drops Node's DEP0123 warning ("Setting the TLS ServerName to an IP address"): grpc-js sends the
 * dialled host as SNI, and tenks certificates carry IP SANs, so dialling 127.0.0.1 is normal and
 * verified; the warning would only clutter tenksctl's stderr and daemon logs.
 */
export function silenceIpServerNameWarning(): void {
  const original = process.emitWarning.bind(process) as (...a: unknown[]) => void;
  process.emitWarning = (warning: string | Error, ...args: unknown[]) => {
    const opt = args[0];
    const code = typeof opt === 'object' && opt !== null ? (opt as { code?: unknown }).code : args[1];
    if (code === 'DEP0123') return;
    original(warning, ...args);
  };
}
