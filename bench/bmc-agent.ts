/**
 * The tenks agent bench:bmc measures: a real agent process (bin/tenks-agent.js) on libvirt's
 * `test:///default` driver, plaintext gRPC on loopback, BMCs on 127.0.0.1 with OS-chosen ports,
 * and an inspector on a loopback port so the bench can force garbage collections before it reads
 * the agent's memory. Nodes are ensured over gRPC, with or without a BMC.
 */
import { join } from 'node:path';
import type { AgentWire } from '../common/index.js';
import { BootMode, NodeSpec, type NodeStatus } from '../proto/gen/tenks/v1/types.pb.js';
import { settledRssKb } from './bmc-memory.js';
import { forceGc, inspectorAddress, inspectorCall } from './lib-inspector.js';
import { connectLoneAgent } from './lib-lone-agent.js';
import type { Daemon } from './lib-stack.js';
import { writeConfig, type Stack } from './lib-stack/stack.js';

/** The BMC credentials of every bench node. */
export interface BmcCredentials {
  username: string;
  password: string;
}

/** A running agent. */
export interface BenchAgent {
  daemon: Daemon;
  pid: number;
  api: AgentWire;
  /** The agent's inspector WebSocket (loopback, OS-chosen port), for forcing a GC. */
  inspector: string;
}

/** An agent's memory after a forced full GC. */
export interface AgentMemory {
  rssKb: number;
  /** V8 heap in use (JS objects); the rest of the RSS is native: libvirt's test driver, handles, code. */
  heapKb: number;
}

/** Which BMC protocols a node gets. */
export interface BmcWanted {
  ipmi: boolean;
  redfish: boolean;
}

const CLUSTER = 'benchbmc';
/** EnsureNode calls in flight while growing an agent. */
const ENSURE_CONCURRENCY = 32;
/** How long an agent may take to answer its first HostInfo. */
const START_TIMEOUT_MS = 60_000;

/**
 * The agent's RSS after two forced full GCs (through the inspector), as the minimum of a few
 * samples. Without the GC, RSS at a given node count swings by tens of MB with garbage the V8
 * memory reducer frees only after 15-30 s of idling, which buries a per-node cost of a few KB.
 */
export async function agentMemory(a: BenchAgent): Promise<AgentMemory> {
  await forceGc(a.inspector);
  const heap = (await inspectorCall(a.inspector, 'Runtime.getHeapUsage')) as { usedSize: number };
  return { rssKb: await settledRssKb(a.pid, 1000, 3, 300), heapKb: Math.round(heap.usedSize / 1024) };
}

/** Starts agent `name` (its files under `<stack dir>/<name>/`) and waits until it answers. */
export async function startAgent(stack: Stack, name: string): Promise<BenchAgent> {
  const dir = stack.dir;
  const file = await writeConfig(stack, name, {
    listen: '127.0.0.1:0',
    insecure_loopback: true,
    libvirt_uri: 'test:///default',
    storage: { pool_name: `tenks-bench-bmc-${name}`, pool_path: join(dir, name, 'pool') },
    bmc: { listen_address: '127.0.0.1', ipmi_port_range_start: 0, ipmi_port_range_end: 0, redfish_port: 0 },
    state_dir: join(dir, name, 'state'),
    log_directory: join(dir, name, 'log'),
    log_level: 'warn',
    shutdown_grace_s: 2,
  });
  const daemon = stack.spawn(name, process.execPath, ['--inspect=127.0.0.1:0', 'bin/tenks-agent.js', '--config', file]);
  let api: AgentWire | undefined;
  try {
    // gRPC is on a port the agent picked: the one of its TCP listeners that answers HostInfo (the
    // others are its Redfish server and the inspector).
    api = await connectLoneAgent(daemon.pid, {
      exited: () => !daemon.alive,
      callTimeoutMs: 120_000,
      timeoutMs: START_TIMEOUT_MS,
    });
    const inspector = inspectorAddress(daemon.output());
    if (!inspector) throw new Error(`agent ${name}: no inspector address in its output:\n${daemon.output()}`);
    return { daemon, pid: daemon.pid, api, inspector };
  } catch (e) {
    api?.close();
    await daemon.stop(5000);
    throw new Error(
      `agent ${name} did not come up: ${e instanceof Error ? e.message : String(e)}\n${daemon.output()}`,
      {
        cause: e,
      },
    );
  }
}

/** Stops an agent (SIGTERM, SIGKILL after 10 s). */
export async function stopAgent(a: BenchAgent): Promise<void> {
  a.api.close();
  await a.daemon.stop(10_000);
}

/** The spec of bench node `i`. */
export function nodeSpec(i: number, bmc: BmcWanted, creds: BmcCredentials): NodeSpec {
  return NodeSpec.create({
    cluster: CLUSTER,
    name: `bmc${i}`,
    memoryMb: 64,
    vcpus: 1,
    bootMode: BootMode.BOOT_MODE_BIOS,
    bmc: bmc.ipmi || bmc.redfish ? { ipmiEnabled: bmc.ipmi, redfishEnabled: bmc.redfish, ...creds } : undefined,
  });
}

/** Ensures nodes [from, to) with `bmc`; returns their statuses by index. */
export async function ensureRange(
  a: BenchAgent,
  from: number,
  to: number,
  bmc: BmcWanted,
  creds: BmcCredentials,
): Promise<Map<number, NodeStatus>> {
  const out = new Map<number, NodeStatus>();
  let next = from;
  await Promise.all(
    Array.from({ length: Math.min(ENSURE_CONCURRENCY, to - from) }, async () => {
      while (next < to) {
        const i = next++;
        const r = await a.api.ensureNode(nodeSpec(i, bmc, creds));
        if (!r.node) throw new Error(`EnsureNode bmc${i}: no node in the response`);
        out.set(i, r.node);
      }
    }),
  );
  return out;
}
