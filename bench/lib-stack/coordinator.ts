/** The stack's tenks-coordinator: mTLS on a loopback port. */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { channelOptions, CoordinatorApi } from '../../common/index.js';
import { freePort } from '../../test/helpers/net.js';
import type { Daemon } from './daemon.js';
import type { Nats } from './nats.js';
import { REPO } from './paths.js';
import type { Pki } from './pki.js';
import { writeConfig, type Stack } from './stack.js';

/** The running coordinator and a client of it. */
export interface Coordinator {
  daemon: Daemon;
  address: string;
  api: CoordinatorApi;
}

/** Starts tenks-coordinator (mTLS) on a free loopback port; resolves once it answers GetInfo. */
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
    /** Listen on this port (a restart keeps its address). Default: a free one. */
    port?: number;
  } = {},
): Promise<Coordinator> {
  const name = o.name ?? 'coordinator';
  const port = o.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const file = await writeConfig(stack, name, {
    coordinator_id: 'bench-coordinator',
    listen: address,
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
  // tenksctl's channel options (64 MiB messages: GetNodes of thousands of nodes).
  const api = new CoordinatorApi(
    address,
    await pki.clientCredentials(),
    channelOptions({ address, tls: null }),
    o.callTimeoutMs ?? 120_000,
  );
  stack.onCleanup('coordinator client', () => {
    api.close();
    return Promise.resolve();
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await api.getInfo({ timeoutMs: 2000 });
      return { daemon: d, address, api };
    } catch (e) {
      if (!d.alive || Date.now() > deadline) throw new Error(`coordinator did not come up: ${String(e)}\n${d.tail()}`);
      await sleep(200);
    }
  }
}
