/** Config fields the agent and the coordinator share, with one rule and one default each. */
import { hostname } from 'node:os';
import { z } from 'zod';
import { HOST_PORT, type TlsFiles } from './grpc/tls.js';

const tlsFiles = z.object({ ca_file: z.string(), cert_file: z.string(), key_file: z.string() }).strict();

/** Zod schemas of the fields both daemons' config files have. */
export const daemonFields = {
  /** An instance id (`agent_id`, `coordinator_id`). Default: the host name. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'use letters, digits, _ . -')
    .default(hostname()),
  /** A gRPC listen address, `host:port` (`[v6]:port` for IPv6), defaulting to `defaultAddress`. */
  listen: (defaultAddress: string): z.ZodDefault<z.ZodString> =>
    z.string().regex(HOST_PORT, 'must be host:port ([v6]:port for IPv6)').default(defaultAddress),
  /** An mTLS identity: CA certificate, certificate and key files. */
  tlsFiles,
  /** `debug`, `info` (default), `warn`, `error`. */
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Seconds to finish in-flight work on SIGTERM before forcing. Default 10. */
  shutdownGraceS: z.number().min(0).max(600).default(10),
} as const;

/** An mTLS identity as written, compiled. */
export function tlsFilesOf(t: z.output<typeof tlsFiles>): TlsFiles {
  return { caFile: t.ca_file, certFile: t.cert_file, keyFile: t.key_file };
}
