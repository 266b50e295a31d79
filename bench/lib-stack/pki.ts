/** The stack's mTLS certificates (deploy/make-certs.sh). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { REPO } from './paths.js';
import { run } from './run.js';
import type { Stack } from './stack.js';

/** mTLS files made by deploy/make-certs.sh (one `agent` certificate shared by every agent, as the system tests do). */
export interface Pki {
  dir: string;
  files(name: 'agent' | 'coordinator' | 'client'): { ca_file: string; cert_file: string; key_file: string };
  /** Client credentials for in-process gRPC clients (the `client` certificate). */
  clientCredentials(): Promise<ChannelCredentials>;
}

/**
 * Certificates for agent, coordinator and client in `<stack dir>/pki`; `sans` (`IP:10.1.2.3`, ...)
 * go into every certificate beside localhost (make-certs.sh's TENKS_SANS), for daemons reached
 * at other addresses.
 */
export async function makePki(stack: Stack, o: { sans?: readonly string[] } = {}): Promise<Pki> {
  const dir = join(stack.dir, 'pki');
  const args = [join(REPO, 'deploy/make-certs.sh'), dir, 'agent', 'coordinator', 'client'];
  if (o.sans === undefined || o.sans.length === 0) await run('bash', args);
  else await run('env', [`TENKS_SANS=${o.sans.join(',')}`, 'bash', ...args]);
  return {
    dir,
    files: (name) => ({
      ca_file: join(dir, 'ca.pem'),
      cert_file: join(dir, `${name}.pem`),
      key_file: join(dir, `${name}-key.pem`),
    }),
    clientCredentials: async () => {
      const [ca, key, cert] = await Promise.all(
        ['ca.pem', 'client-key.pem', 'client.pem'].map((f) => readFile(join(dir, f))),
      );
      return credentials.createSsl(ca, key, cert);
    },
  };
}
