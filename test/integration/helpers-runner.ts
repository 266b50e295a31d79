/**
 * One coordinator's operation machinery in this process, for tests of operations: its own NATS
 * connection, state copy, agent registry and OperationRunner, calling a test agent through a port
 * the test may wrap (to record or hold back calls).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { stringify } from 'yaml';
import { nullLogger } from '../../common/index.js';
import { AgentRegistry, type AgentPort } from '../../coordinator/agents/index.js';
import { NatsEventSink, OperationRunner } from '../../coordinator/operations/index.js';
import { GrpcAgentPort } from '../../coordinator/rpc/agent-port.js';
import type { SecretBox } from '../../coordinator/secrets/index.js';
import { StateStore, type OperationRecord } from '../../coordinator/state/index.js';

/** The parts of one coordinator that run operations. */
export interface RunnerCoordinator {
  id: string;
  nc: NatsConnection;
  store: StateStore;
  runner: OperationRunner;
  /** Closes the runner (no grace), the registry, the state copy and the connection. */
  close(): Promise<void>;
}

/** Options of {@link startRunnerCoordinator}. */
export interface RunnerCoordinatorOptions {
  id: string;
  natsUrl: string;
  /** Returns once this agent is alive in the registry. */
  agentId: string;
  leaseMs: number;
  /** Take over abandoned operations and renew leases (startRecovery). */
  recovery: boolean;
  /** The secrets key of the coordinators sharing NATS. */
  secrets: SecretBox;
  /** Subject prefix of progress events. */
  eventsPrefix: string;
  /** Wraps the gRPC port to the agent. */
  port?: (grpc: AgentPort) => AgentPort;
  /** false: a connection that stays closed once lost (a coordinator cut off for good). Default: reconnect at once, for good. */
  reconnect?: boolean;
  wallClockMs?: () => number;
  /** An agent is dead after this long without a heartbeat; default 3 s. */
  agentTimeoutMs?: number;
}

/** Starts a coordinator's operation runner against `o.natsUrl`. */
export async function startRunnerCoordinator(o: RunnerCoordinatorOptions): Promise<RunnerCoordinator> {
  const log = nullLogger;
  const nc = await connect({
    servers: o.natsUrl,
    name: o.id,
    ...(o.reconnect === false ? { reconnect: false } : { maxReconnectAttempts: -1, reconnectTimeWait: 100 }),
  });
  const store = await StateStore.open(nc, 1, log);
  const registry = await AgentRegistry.start(nc, {
    timeoutMs: o.agentTimeoutMs ?? 3_000,
    tls: null,
    callTimeoutMs: 30_000,
    concurrency: 16,
    waitMs: 2_000,
    replicas: 1,
    log,
  });
  const grpc = new GrpcAgentPort(registry);
  const runner = new OperationRunner({
    coordinatorId: o.id,
    leaseMs: o.leaseMs,
    deps: {
      store,
      registry,
      port: o.port ? o.port(grpc) : grpc,
      policy: { attempts: 2, backoffMs: 100 },
      log,
      secrets: o.secrets,
    },
    events: new NatsEventSink(nc, o.eventsPrefix, log),
    log,
    ...(o.wallClockMs ? { wallClockMs: o.wallClockMs } : {}),
  });
  if (o.recovery) runner.startRecovery();
  while (!registry.alive(o.agentId)) await sleep(50);
  return {
    id: o.id,
    nc,
    store,
    runner,
    close: async () => {
      await runner.close(0);
      registry.close();
      store.stop();
      await nc.close().catch(() => undefined);
    },
  };
}

/** A cluster of `count` small nodes named `<cluster>-<i>`, with a password to seal. */
export function smallClusterSpec(cluster: string, count: number): string {
  return stringify({
    name: cluster,
    node_types: { small: { memory_mb: 64, vcpus: 1, volumes: [{ capacity: '16MiB' }], physical_networks: [] } },
    specs: [{ type: 'small', count, node_name_prefix: `${cluster}-` }],
    default_boot_mode: 'bios',
    ipmi_username: 'admin',
    ipmi_password: 'secret-pw',
  });
}

/** The operation's record once it has ended, as the bucket holds it. */
export async function operationEnded(store: StateStore, id: string, timeoutMs = 30_000): Promise<OperationRecord> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    // A read may time out while JetStream comes back after a restart: look again.
    const op = (await store.operations.fetch(id).catch(() => null))?.value;
    if (op && ['succeeded', 'failed', 'cancelled'].includes(op.state)) return op;
    if (Date.now() > end) assert.fail(`operation ${id} did not end: ${JSON.stringify(op)}`);
    await sleep(100);
  }
}
