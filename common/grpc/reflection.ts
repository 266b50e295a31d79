import { fileURLToPath } from 'node:url';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Server } from '@grpc/grpc-js';

/** Directory holding the `.proto` sources (`proto/`). */
export const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));

/** Adds gRPC server reflection for the given proto files, so `grpcurl` can list and call our services. */
export function addReflection(server: Server, files: readonly string[]): void {
  const pkg = loadSync([...files], {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  new ReflectionService(pkg).addToServer(server);
}
