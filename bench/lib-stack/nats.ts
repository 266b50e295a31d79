/** The stack's nats-server with JetStream, alone or as a cluster of processes. */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Daemon } from './daemon.js';
import { NATS_SERVER } from './paths.js';
import { freePortRanges } from './ports.js';
import type { Stack } from './stack.js';

/** The running nats-server. */
export interface Nats {
  daemon: Daemon;
  url: string;
}

/** The client port nats-server `d` listens on, once it says it is ready. */
async function waitNatsReady(d: Daemon, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = d.output();
    const port = /Listening for client connections on [^\s]*:(\d+)/.exec(out)?.[1];
    if (port !== undefined && out.includes('Server is ready')) return Number(port);
    if (!d.alive || Date.now() > deadline) throw new Error(`nats-server did not start:\n${d.tail()}`);
    await sleep(50);
  }
}

/**
 * nats-server with JetStream on 127.0.0.1 (or `host`, e.g. the root end of a veth pair into a
 * network namespace of the caller's), a port it picks (`-p -1`), its store in the stack's dir.
 */
export async function startNats(stack: Stack, o: { args?: readonly string[]; host?: string } = {}): Promise<Nats> {
  const host = o.host ?? '127.0.0.1';
  const d = stack.spawn('nats-server', NATS_SERVER, [
    '-a',
    host,
    '-p',
    '-1',
    '-js',
    '-sd',
    join(stack.dir, 'nats'),
    ...(o.args ?? []),
  ]);
  const port = await waitNatsReady(d, 20_000);
  return { daemon: d, url: `nats://${host}:${port}` };
}

/** A NATS cluster of JetStream servers on 127.0.0.1, each its own process. */
export interface NatsCluster {
  servers: { daemon: Daemon; url: string; name: string }[];
  /** Every client URL, for `nats.servers`. */
  urls: string[];
  /** Starts server `i` again (after a kill) on its ports and store. */
  restart(i: number): Promise<void>;
}

/**
 * `size` nats-servers with JetStream clustered on 127.0.0.1 (cluster `tenks`): client ports picked
 * by the servers themselves, stores in the stack's dir. Route ports are chosen before: a JetStream
 * server refuses to start without its routes configured, so every server's must be known up front.
 */
export async function startNatsCluster(stack: Stack, size = 3): Promise<NatsCluster> {
  const routePorts = (await freePortRanges('tcp', size, 1)).map((r) => r.start);
  const routes = routePorts.map((p) => `nats://127.0.0.1:${String(p)}`).join(',');
  const clientPorts: number[] = new Array<number>(size).fill(-1);
  const launch = (i: number): Daemon =>
    stack.spawn(`nats-server n${String(i)}`, NATS_SERVER, [
      '-a',
      '127.0.0.1',
      '-p',
      String(clientPorts[i]),
      '-n',
      `n${String(i)}`,
      '-js',
      '-sd',
      join(stack.dir, `nats-n${String(i)}`),
      '--cluster_name',
      'tenks',
      '--cluster',
      `nats://127.0.0.1:${String(routePorts[i])}`,
      '--routes',
      routes,
    ]);
  const servers: NatsCluster['servers'] = [];
  for (let i = 0; i < size; i++) {
    const d = launch(i);
    servers.push({ daemon: d, url: '', name: `n${String(i)}` });
  }
  for (let i = 0; i < size; i++) {
    const s = servers[i] as NatsCluster['servers'][number];
    clientPorts[i] = await waitNatsReady(s.daemon, 30_000);
    s.url = `nats://127.0.0.1:${String(clientPorts[i])}`;
  }
  // JetStream answers only once the servers have elected a metadata leader.
  const deadline = Date.now() + 30_000;
  while (!servers.some((s) => s.daemon.output().includes('metadata leader'))) {
    if (Date.now() > deadline)
      throw new Error(
        `the NATS cluster elected no JetStream leader:\n${servers.map((s) => s.daemon.tail(800)).join('\n')}`,
      );
    await sleep(100);
  }
  return {
    servers,
    urls: servers.map((s) => s.url),
    restart: async (i) => {
      const s = servers[i] as NatsCluster['servers'][number];
      if (s.daemon.alive) await s.daemon.stop();
      s.daemon = launch(i);
      await waitNatsReady(s.daemon, 30_000);
    },
  };
}
