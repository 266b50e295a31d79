/** The stack's tenks-coordinator: mTLS on a loopback port of its own choosing. */
import { join } from 'node:path';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { channelOptions, CoordinatorWire } from '../../common/index.js';
import { portAnswering } from '../../test/helpers/net.js';
import type { Daemon } from './daemon.js';
import type { Nats } from './nats.js';
import { REPO } from './paths.js';
import type { Pki } from './pki.js';
import { writeConfig, type Stack } from './stack.js';

/** The running coordinator and a client of it. */
export interface Coordinator {
  daemon: Daemon;
  address: string;
  api: CoordinatorWire;
}

/** A client with tenksctl's channel options (64 MiB messages: GetNodes of thousands of nodes). */
function coordinatorClient(address: string, creds: ChannelCredentials, callTimeoutMs: number): CoordinatorWire {
  return new CoordinatorWire(address, creds, channelOptions({ address, tls: null }), callTimeoutMs);
}

/**
 * Starts tenks-coordinator (mTLS) on 127.0.0.1, port 0 unless told one; resolves once it answers
 * GetInfo, with the address it got.
 */
export async function startCoordinator(
  stack: Stack,
  nats: Nats,
  pki: Pki,
  o: {
    extra?: Record<string, unknown>;
    nodeArgs?: readonly string[];
    callTimeoutMs?: number;
    /** Config file and process name, for stacks with several coordinators. Default `coordinator`. */
    name?: string;
    /** Listen on this port (a restart keeps its address). Default: one the OS picks. */
    port?: number;
  } = {},
): Promise<Coordinator> {
  const name = o.name ?? 'coordinator';
  const file = await writeConfig(stack, name, {
    coordinator_id: 'bench-coordinator',
    listen: `127.0.0.1:${o.port ?? 0}`,
    tls: pki.files('coordinator'),
    nats: { servers: nats.url },
    secrets_key_file: join(stack.dir, 'coordinator-secrets.key'),
    log_level: 'warn',
    shutdown_grace_s: 2,
    ...o.extra,
  });
  const d = stack.spawn(`tenks-${name}`, process.execPath, [
    ...(o.nodeArgs ?? []),
    join(REPO, 'bin/tenks-coordinator.js'),
    '--config',
    file,
  ]);
  const creds = await pki.clientCredentials();
  const callTimeoutMs = o.callTimeoutMs ?? 120_000;
  let port: number;
  try {
    port = await portAnswering(
      d.pid,
      async (p) => {
        const probe = coordinatorClient(`127.0.0.1:${p}`, creds, callTimeoutMs);
        try {
          await probe.getInfo({ timeoutMs: 2000 });
        } finally {
          probe.close();
        }
      },
      { exited: () => !d.alive, timeoutMs: 60_000 },
    );
  } catch (e) {
    throw new Error(`coordinator did not come up: ${String(e)}\n${d.tail()}`, { cause: e });
  }
  const address = `127.0.0.1:${port}`;
  const api = coordinatorClient(address, creds, callTimeoutMs);
  stack.onCleanup('coordinator client', () => {
    api.close();
    return Promise.resolve();
  });
  return { daemon: d, address, api };
}
