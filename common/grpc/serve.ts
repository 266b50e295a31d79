import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { TenksError } from '../errors.js';
import type { Logger } from '../logger.js';
import { addReflection } from './reflection.js';
import type { TlsIdentity } from '../config-files.js';
import { isLoopbackHost, serverCredentials, splitHostPort, type TlsFiles } from './tls.js';

/** One service to serve. */
export interface ServiceBinding {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

/** Options of a daemon's gRPC server. */
export interface GrpcServerOptions {
  /** `host:port`; port 0 picks a free one. */
  listen: string;
  /** mTLS identity; null only with `insecureLoopback` on a loopback address. */
  tls: TlsFiles | null;
  insecureLoopback: boolean;
  /**
   * Credentials chosen (and their files checked) before the daemon changed anything; default:
   * chosen here from `listen`, `tls` and `insecureLoopback`.
   */
  credentials?: ServerCredentials;
  services: ServiceBinding[];
  /** `.proto` files (relative to `proto/`) for server reflection. */
  reflectionProtos: string[];
  log: Logger;
}

/** A started gRPC server. */
export interface GrpcServer {
  server: Server;
  /** The bound port. */
  port: number;
  /** Finishes in-flight calls, forcing after `graceMs`. */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * Chooses credentials: mTLS always, plaintext only on loopback when explicitly asked. `tls` may be
 * the files or an identity already read from them.
 */
export async function chooseServerCredentials(o: {
  listen: string;
  tls: TlsFiles | TlsIdentity | null;
  insecureLoopback: boolean;
}): Promise<ServerCredentials> {
  const { host } = splitHostPort(o.listen);
  if (o.insecureLoopback) {
    if (!isLoopbackHost(host))
      throw new TenksError('PERMISSION', `plaintext gRPC is only allowed on a loopback address, not '${host}'`, {
        field: 'listen',
        hint: 'configure tls (deploy/make-certs.sh) or listen on 127.0.0.1',
      });
    return ServerCredentials.createInsecure();
  }
  if (!o.tls)
    throw new TenksError('INVALID_SPEC', 'tls is required (ca_file, cert_file, key_file)', {
      field: 'tls',
      hint: 'make certificates with deploy/make-certs.sh, or set insecure_loopback for a loopback-only listener',
    });
  return serverCredentials(o.tls);
}

/** Binds and starts a gRPC server with the given services and reflection. */
export async function startGrpcServer(o: GrpcServerOptions): Promise<GrpcServer> {
  const creds = o.credentials ?? (await chooseServerCredentials(o));
  const server = new Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  for (const s of o.services) server.addService(s.definition, s.implementation);
  if (o.reflectionProtos.length > 0) addReflection(server, o.reflectionProtos);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(o.listen, creds, (err, p) => {
      if (err)
        reject(
          new TenksError('UNAVAILABLE', `cannot listen on ${o.listen}: ${err.message}`, {
            cause: err,
            field: 'listen',
          }),
        );
      else resolve(p);
    });
  });
  o.log.info('grpc listening', { listen: o.listen, port, tls: o.tls !== null && !o.insecureLoopback });
  return {
    server,
    port,
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          o.log.warn('grace period over, forcing shutdown', { graceMs });
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
