import { Agent } from './agent.js';
import type { AgentConfig } from './config.js';
import { agentService, AgentServiceService } from './rpc/agent-service.js';
import { Lifecycle, startGrpcServer, type GrpcServer, type Logger } from '../common/index.js';

/** A running agent: its host plane plus its gRPC server. Used by main.ts and by tests in-process. */
export class AgentDaemon {
  private constructor(
    readonly agent: Agent,
    private readonly grpc: GrpcServer,
    private readonly lifecycle: Lifecycle,
    private readonly log: Logger,
  ) {}

  /** The bound gRPC port. */
  get port(): number {
    return this.grpc.port;
  }

  static async start(config: AgentConfig, log: Logger): Promise<AgentDaemon> {
    const lifecycle = new Lifecycle('tenks-agent', log);
    const agent = await Agent.create(config, log);
    try {
      const grpc = await startGrpcServer({
        listen: config.listen,
        tls: config.tls,
        insecureLoopback: config.insecureLoopback,
        services: [{ definition: AgentServiceService, implementation: agentService(agent, log) }],
        reflectionProtos: ['tenks/v1/agent.proto'],
        log,
      });
      lifecycle.to('RUNNING');
      return new AgentDaemon(agent, grpc, lifecycle, log);
    } catch (e) {
      lifecycle.to('STOPPED');
      await agent.close();
      throw e;
    }
  }

  /** Stops taking calls, lets in-flight ones finish (forcing after the grace period), closes libvirt. */
  async stop(graceMs = this.agent.config.shutdownGraceMs): Promise<void> {
    if (!this.lifecycle.to('DRAINING')) return;
    this.agent.beginShutdown();
    await this.grpc.shutdown(graceMs);
    await this.agent.close();
    this.lifecycle.to('STOPPED');
    this.log.info('agent stopped');
  }
}
