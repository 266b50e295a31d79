/** Test helpers: an in-process agent on a real gRPC socket, and a typed client for it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { compileAgentConfig, type AgentConfig } from '../../agent/config.js';
import { AgentDaemon } from '../../agent/daemon.js';
import { unaryCall } from '../../common/grpc/client.js';
import { nullLogger } from '../../common/logger.js';
import {
  AgentServiceClient,
  type DeleteNodeResponse,
  type EnsureNodeResponse,
  type GetHostInfoResponse,
  type ListNodesResponse,
  type SetPowerResponse,
} from '../../proto/gen/tenks/v1/agent.pb.js';
import { BootMode, NodeSpec, PowerAction, VolumeSpec, type NodeRef } from '../../proto/gen/tenks/v1/types.pb.js';

/** A started agent with a scratch directory, and how to stop it. */
export interface TestAgent {
  daemon: AgentDaemon;
  config: AgentConfig;
  dir: string;
  address: string;
  stop(): Promise<void>;
}

/** Starts an agent in this process on 127.0.0.1:0 (plaintext unless `raw.tls` is given). */
export async function startTestAgent(raw: Record<string, unknown>): Promise<TestAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'tenks-test-'));
  const config = compileAgentConfig({
    listen: '127.0.0.1:0',
    insecure_loopback: raw.tls === undefined,
    log_directory: join(dir, 'log'),
    ...raw,
    storage: { pool_path: join(dir, 'pool'), ...(raw.storage as object | undefined) },
  });
  const daemon = await AgentDaemon.start(config, nullLogger);
  return {
    daemon,
    config,
    dir,
    address: `127.0.0.1:${daemon.port}`,
    stop: async () => {
      await daemon.stop(2000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Promise-returning AgentService client with deadlines. */
export class AgentClient {
  readonly raw: AgentServiceClient;
  constructor(
    address: string,
    creds: ChannelCredentials = credentials.createInsecure(),
    options: Record<string, string> = {},
  ) {
    this.raw = new AgentServiceClient(address, creds, options);
  }
  hostInfo(timeoutMs = 10_000): Promise<GetHostInfoResponse> {
    return unaryCall('agent', (m, o, cb) => this.raw.getHostInfo({}, m, o, cb), { timeoutMs });
  }
  ensure(node: NodeSpec, timeoutMs = 120_000, dryRun = false): Promise<EnsureNodeResponse> {
    return unaryCall('agent', (m, o, cb) => this.raw.ensureNode({ node, dryRun }, m, o, cb), { timeoutMs });
  }
  delete(node: Partial<NodeRef>, timeoutMs = 60_000): Promise<DeleteNodeResponse> {
    const ref = { cluster: '', name: '', uuid: '', ...node };
    return unaryCall('agent', (m, o, cb) => this.raw.deleteNode({ node: ref }, m, o, cb), { timeoutMs });
  }
  list(cluster = '', timeoutMs = 60_000): Promise<ListNodesResponse> {
    return unaryCall('agent', (m, o, cb) => this.raw.listNodes({ cluster, includeSecrets: false }, m, o, cb), {
      timeoutMs,
    });
  }
  power(node: Partial<NodeRef>, action: PowerAction, timeoutMs = 60_000): Promise<SetPowerResponse> {
    const ref = { cluster: '', name: '', uuid: '', ...node };
    return unaryCall('agent', (m, o, cb) => this.raw.setPower({ node: ref, action }, m, o, cb), { timeoutMs });
  }
  close(): void {
    this.raw.close();
  }
}

/** A NodeSpec message with sensible test defaults. */
export function nodeSpec(fields: Partial<NodeSpec> & { cluster: string; name: string }): NodeSpec {
  return NodeSpec.create({ memoryMb: 128, vcpus: 1, bootMode: BootMode.BOOT_MODE_BIOS, ...fields });
}

/** A VolumeSpec message. */
export function volume(fields: Partial<VolumeSpec>): VolumeSpec {
  return VolumeSpec.create(fields);
}
