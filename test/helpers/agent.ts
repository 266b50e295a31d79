/** Test helpers: an in-process agent on a real gRPC socket, and a typed client for it. */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { compileAgentConfig, type AgentConfig } from '../../agent/config.js';
import { Connection } from '../../agent/native/index.js';
import { AgentDaemon } from '../../agent/daemon.js';
import { AgentWire } from '../../common/grpc/agent-wire.js';
import { nullLogger } from '../../common/logger.js';
import { LOOPBACK_BMC } from './net.js';
import type {
  DeleteNodeResponse,
  EnsureNodeResponse,
  ListNodesResponse,
  SetPowerResponse,
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
  // QEMU runs as its own user: it must be able to reach the pool inside this directory.
  await chmod(dir, 0o711);
  const ownPool = (raw.storage as { pool_name?: unknown } | undefined)?.pool_name === undefined;
  const storage = {
    pool_name: `tenks-test-${basename(dir).slice('tenks-test-'.length)}`,
    pool_path: join(dir, 'pool'),
    ...(raw.storage as object | undefined),
  };
  const config = compileAgentConfig({
    // An id of its own, so a lab's unmarked objects on this host are not this agent's; stable for a
    // restart that keeps the pool.
    agent_id: `test-${storage.pool_name}`.slice(0, 63),
    listen: '127.0.0.1:0',
    insecure_loopback: raw.tls === undefined,
    log_directory: join(dir, 'log'),
    state_dir: join(dir, 'state'),
    // Volume images of tests go in <dir>/images; nothing else on the host is reachable.
    allowed_image_dirs: [join(dir, 'images')],
    ...raw,
    // Merged like storage: a test that sets one BMC key keeps loopback and OS-chosen ports.
    bmc: { ...LOOPBACK_BMC, ...(raw.bmc as object | undefined) },
    // A pool of its own unless the test names one: the default name `tenks` is a quickstart lab's.
    storage,
  });
  let daemon: AgentDaemon;
  try {
    daemon = await AgentDaemon.start(config, nullLogger);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    daemon,
    config,
    dir,
    address: `127.0.0.1:${daemon.port}`,
    stop: async () => {
      await daemon.stop(2000);
      // The test driver keeps state for the whole process, and a pool this helper named (its
      // directory goes with `dir`) would stay defined on a real libvirt: drop it. A pool the test
      // named is the test's to remove (it may outlive this agent, for a restart).
      if (config.libvirtUri.startsWith('test:') || ownPool) await dropPool(config.libvirtUri, config.storage.poolName);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function dropPool(uri: string, name: string): Promise<void> {
  const conn = await Connection.open(uri);
  try {
    const pool = await conn.findPool(name);
    if (pool) {
      if (await pool.isActive()) await pool.destroy();
      await pool.undefine();
    }
  } finally {
    await conn.close();
  }
}

/** The agent's wire client with short names for tests; plaintext by default. */
export class AgentClient extends AgentWire {
  constructor(
    address: string,
    creds: ChannelCredentials = credentials.createInsecure(),
    options: Record<string, string> = {},
  ) {
    super(address, creds, options);
  }
  ensure(node: NodeSpec, timeoutMs = 120_000, dryRun = false): Promise<EnsureNodeResponse> {
    return this.ensureNode(node, dryRun, { timeoutMs });
  }
  delete(node: Partial<NodeRef>, timeoutMs = 60_000): Promise<DeleteNodeResponse> {
    return this.deleteNode({ cluster: '', name: '', uuid: '', ...node }, { timeoutMs });
  }
  list(cluster = '', timeoutMs = 60_000): Promise<ListNodesResponse> {
    return this.listNodes(cluster, false, { timeoutMs });
  }
  power(node: Partial<NodeRef>, action: PowerAction, timeoutMs = 60_000): Promise<SetPowerResponse> {
    return this.setPower({ cluster: '', name: '', uuid: '', ...node }, action, { timeoutMs });
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
