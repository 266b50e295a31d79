import { Agent } from './agent.js';
import { advertiseFor, type AgentConfig } from './config.js';
import { checkAgentConfig } from './config-check.js';
import { Heartbeat } from './heartbeat.js';
import { agentService, AgentServiceService } from './rpc/agent-service.js';
import { Lifecycle, startGrpcServer, type GrpcServer, type Logger } from '../common/index.js';

/** A running agent: its host plane plus its gRPC server. Used by main.ts and by tests in-process. */
export class AgentDaemon {
  private heartbeat: Heartbeat | null = null;
  private readonly stopping = new AbortController();
  /** Settles once heartbeats started (or gave up because the agent is stopping). */
  private heartbeatStarting: Promise<void> = Promise.resolve();

  private constructor(
    readonly agent: Agent,
    private readonly grpc: GrpcServer,
    private readonly lifecycle: Lifecycle,
    private readonly log: Logger,
  ) {}

  /** The gRPC address the coordinator should dial. */
  get advertisedAddress(): string {
    const c = this.agent.config;
    if (c.advertiseAddress !== null) return c.advertiseAddress;
    const host = c.listen.slice(0, c.listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    const h = advertiseFor(host === '' ? '0.0.0.0' : host);
    return `${h.includes(':') ? `[${h}]` : h}:${this.port}`;
  }

  /** Starts heartbeats in the background: a NATS that is not up yet must not hold the agent back. */
  private startHeartbeat(): void {
    const c = this.agent.config;
    if (c.nats === null) return;
    this.heartbeatStarting = Heartbeat.start(
      this.agent,
      {
        nats: c.nats,
        agentId: c.agentId,
        address: this.advertisedAddress,
        intervalMs: c.heartbeatIntervalMs,
        log: this.log,
      },
      this.stopping.signal,
    )
      .then(
        async (h) => {
          if (this.lifecycle.state === 'RUNNING') this.heartbeat = h;
          else await h.stop();
        },
        (e: unknown) => {
          if (!this.stopping.signal.aborted) this.log.error('heartbeats not started', { error: String(e) });
        },
      )
      .catch((e: unknown) => {
        this.log.warn('heartbeats not stopped cleanly', { error: String(e) });
      });
  }

  /** The bound gRPC port. */
  get port(): number {
    return this.grpc.port;
  }

  /** Checks the whole config against the host (changing nothing), then starts the agent and its gRPC server. */
  static async start(config: AgentConfig, log: Logger): Promise<AgentDaemon> {
    const lifecycle = new Lifecycle('tenks-agent', log);
    const checked = await checkAgentConfig(config);
    const agent = await Agent.create(config, checked, log);
    try {
      const grpc = await startGrpcServer({
        listen: config.listen,
        tls: config.tls,
        insecureLoopback: config.insecureLoopback,
        credentials: checked.grpcCredentials,
        services: [{ definition: AgentServiceService, implementation: agentService(agent, log) }],
        reflectionProtos: ['tenks/v1/agent.proto'],
        log,
      });
      lifecycle.to('RUNNING');
      const daemon = new AgentDaemon(agent, grpc, lifecycle, log);
      daemon.startHeartbeat();
      return daemon;
    } catch (e) {
      lifecycle.to('STOPPED');
      await agent.close();
      throw e;
    }
  }

  /** Stops taking calls, lets in-flight ones finish (forcing after the grace period), closes libvirt. */
  async stop(graceMs = this.agent.config.shutdownGraceMs): Promise<void> {
    if (!this.lifecycle.to('DRAINING')) return;
    // The coordinator hears first that this agent is going, so it schedules nothing more here.
    this.stopping.abort();
    await this.heartbeatStarting;
    await this.heartbeat?.stop().catch(() => undefined);
    this.agent.beginShutdown();
    await this.grpc.shutdown(graceMs);
    await this.agent.close();
    this.lifecycle.to('STOPPED');
    this.log.info('agent stopped');
  }
}
