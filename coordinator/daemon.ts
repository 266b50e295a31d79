/** A running coordinator: NATS, state, agent registry, operations and the gRPC server, with a lifecycle. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  connectNats,
  Lifecycle,
  startGrpcServer,
  TenksError,
  toTenksError,
  type GrpcServer,
  type Logger,
} from '../common/index.js';
import type { AgentPort } from './agents/port.js';
import { AgentRegistry } from './agents/registry.js';
import type { CoordinatorConfig } from './config.js';
import { Coordinator } from './coordinator.js';
import { cachedCloudConnector } from './openstack/index.js';
import { NatsEventSink, OperationRunner } from './operations/index.js';
import { GrpcAgentPort } from './rpc/agent-port.js';
import { coordinatorService, CoordinatorServiceService } from './rpc/coordinator-service.js';
import { openSecretBox } from './secrets/index.js';
import { StateStore } from './state/store.js';

/** How long a starting coordinator keeps trying to reach NATS. */
const NATS_START_MS = 60_000;

async function connectWithRetry(config: CoordinatorConfig, log: Logger): Promise<NatsConnection> {
  const deadline = Date.now() + NATS_START_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await connectNats(config.nats, {
        name: `tenks-coordinator ${config.coordinatorId}`,
        timeoutMs: 5_000,
        log,
      });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      if (attempt === 0) log.warn('NATS not reachable yet; retrying', { error: String(e) });
      await sleep(1_000);
    }
  }
}

/** What {@link CoordinatorDaemon.start} takes beside the config. */
export interface CoordinatorStartOptions {
  /** Wraps the agent port every flow calls through (tests watch or fence agent calls with it). */
  wrapAgentPort?: (port: AgentPort) => AgentPort;
}

/**
 * Runs `open` (a bucket opened or created) again while JetStream does not answer, for as long as
 * NATS itself is waited for: a NATS cluster that just lost a node, or a server just started,
 * times out API requests for a few seconds while it elects leaders.
 */
async function untilJetStream<T>(log: Logger, open: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + NATS_START_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (e) {
      const err = toTenksError(e, 'UNAVAILABLE');
      if (Date.now() > deadline || (err.code !== 'UNAVAILABLE' && err.code !== 'TIMEOUT')) throw err;
      if (attempt === 0) log.warn('JetStream not answering yet; retrying', { error: err.message });
      await sleep(1_000);
    }
  }
}

/** The coordinator process, in-process for tests or from main.ts. */
export class CoordinatorDaemon {
  private constructor(
    readonly coordinator: Coordinator,
    private readonly grpc: GrpcServer,
    private readonly nc: NatsConnection,
    private readonly lifecycle: Lifecycle,
    private readonly config: CoordinatorConfig,
    private readonly log: Logger,
  ) {}

  get port(): number {
    return this.grpc.port;
  }

  static async start(
    config: CoordinatorConfig,
    log: Logger,
    o: CoordinatorStartOptions = {},
  ): Promise<CoordinatorDaemon> {
    const lifecycle = new Lifecycle('tenks-coordinator', log);
    // Before NATS: a coordinator that could not open the specs it stores must not start taking work.
    const secrets = await openSecretBox(config.secretsKeyFile, log);
    const nc = await connectWithRetry(config, log);
    let store: StateStore | null = null;
    let registry: AgentRegistry | null = null;
    let runner: OperationRunner | null = null;
    try {
      store = await untilJetStream(log, () => StateStore.open(nc, config.nats.replicas, log));
      registry = await untilJetStream(log, () =>
        AgentRegistry.start(nc, {
          timeoutMs: config.agentTimeoutMs,
          tls: config.agentTls,
          callTimeoutMs: config.callTimeoutMs,
          concurrency: config.agentConcurrency,
          waitMs: config.agentWaitMs,
          replicas: config.nats.replicas,
          log,
        }),
      );
      const grpcPort = new GrpcAgentPort(registry);
      const port = o.wrapAgentPort ? o.wrapAgentPort(grpcPort) : grpcPort;
      const events = new NatsEventSink(nc, config.eventsSubjectPrefix, log);
      const policy = { attempts: config.retryAttempts, backoffMs: config.retryBackoffMs };
      const openstack = cachedCloudConnector(config.openstack, log);
      runner = new OperationRunner({
        coordinatorId: config.coordinatorId,
        leaseMs: config.operationLeaseMs,
        deps: {
          store,
          registry,
          port,
          policy,
          secrets,
          log,
          openstack,
          cloudCheckTimeoutMs: config.openstack.timeoutMs,
        },
        events,
        log,
      });
      const coordinator = new Coordinator({
        coordinatorId: config.coordinatorId,
        store,
        registry,
        port,
        runner,
        policy,
        secrets,
        natsUrls: config.advertiseNats,
        eventsSubjectPrefix: config.eventsSubjectPrefix,
        openstack,
        cloudCheckTimeoutMs: config.openstack.timeoutMs,
        log,
      });
      const grpc = await startGrpcServer({
        listen: config.listen,
        tls: config.tls,
        insecureLoopback: config.insecureLoopback,
        services: [
          {
            definition: CoordinatorServiceService,
            implementation: coordinatorService(coordinator, (id) => events.subject(id), log),
          },
        ],
        reflectionProtos: ['tenks/v1/coordinator.proto'],
        log,
      });
      // Operations an earlier run of this coordinator (or a dead peer) left behind.
      runner.startRecovery();
      lifecycle.to('RUNNING');
      return new CoordinatorDaemon(coordinator, grpc, nc, lifecycle, config, log);
    } catch (e) {
      lifecycle.to('STOPPED');
      await runner?.close(0);
      registry?.close();
      store?.stop();
      await nc.close();
      throw e instanceof TenksError ? e : new TenksError('INTERNAL', String(e), { cause: e });
    }
  }

  /** Stops taking calls, lets operations finish within the grace period, then leaves them to be resumed. */
  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    if (!this.lifecycle.to('DRAINING')) return;
    const parts = this.coordinator.parts;
    await this.grpc.shutdown(Math.min(graceMs, 5_000));
    await parts.runner.close(graceMs);
    parts.registry.close();
    parts.store.stop();
    await this.nc.drain().catch(() => undefined);
    this.lifecycle.to('STOPPED');
    this.log.info('coordinator stopped');
  }
}
