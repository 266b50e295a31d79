/**
 * A tenks-agent started alone, for benches that call one agent directly (no NATS, no coordinator):
 * its own process (bin/tenks-agent.js, so its RSS is its own), plaintext gRPC on 127.0.0.1 at a
 * port it picks, BMCs on loopback at ports the OS picks (a lab on this host holds Redfish's 8000),
 * log level warn, its scratch files in a directory of the caller's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { AgentWire } from '../common/index.js';
import { LOOPBACK_BMC, portAnswering } from '../test/helpers/net.js';

/** Options of {@link LoneAgent.spawn}. */
export interface LoneAgentOptions {
  libvirtUri: string;
  poolName: string;
  /** Scratch directory, made by the caller: config file, pool, logs, BMC state. */
  dir: string;
  /** Deadline of each call through {@link LoneAgent.api}. */
  callTimeoutMs: number;
}

/**
 * A client of the agent process `pid`, once it answers HostInfo on one of the TCP ports it listens
 * on (it also listens for Redfish); rejects with the last error once `exited()` or after `timeoutMs`.
 */
export async function connectLoneAgent(
  pid: number,
  o: { exited: () => boolean; callTimeoutMs: number; timeoutMs: number },
): Promise<AgentWire> {
  const client = (port: number): AgentWire =>
    new AgentWire(`127.0.0.1:${port}`, credentials.createInsecure(), {}, o.callTimeoutMs);
  const port = await portAnswering(
    pid,
    async (p) => {
      const probe = client(p);
      try {
        await probe.hostInfo({ timeoutMs: 2000 });
      } finally {
        probe.close();
      }
    },
    { exited: o.exited, timeoutMs: o.timeoutMs },
  );
  return client(port);
}

/** A running lone agent. */
export class LoneAgent {
  private client: AgentWire | null = null;

  private constructor(
    readonly proc: ChildProcess,
    private readonly callTimeoutMs: number,
  ) {}

  /** Starts the agent; its stderr goes to ours. Call {@link ready} before {@link api}. */
  static spawn(o: LoneAgentOptions): LoneAgent {
    const configFile = join(o.dir, 'agent.json');
    writeFileSync(configFile, JSON.stringify({ bmc: LOOPBACK_BMC }));
    const proc = spawn(
      process.execPath,
      [
        'bin/tenks-agent.js',
        '--listen',
        '127.0.0.1:0',
        '--insecure-loopback',
        '--libvirt-uri',
        o.libvirtUri,
        '--pool-name',
        o.poolName,
        '--pool-path',
        join(o.dir, 'pool'),
        '--log-directory',
        join(o.dir, 'log'),
        '--state-dir',
        join(o.dir, 'state'),
        '--config',
        configFile,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    return new LoneAgent(proc, o.callTimeoutMs);
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** Resolves once the agent answers HostInfo (within `timeoutMs`). */
  async ready(timeoutMs = 120_000): Promise<void> {
    this.client = await connectLoneAgent(this.proc.pid ?? 0, {
      exited: () => this.exited,
      callTimeoutMs: this.callTimeoutMs,
      timeoutMs,
    });
  }

  /** The agent's API (after {@link ready}). */
  get api(): AgentWire {
    if (this.client === null) throw new Error('the agent is not ready');
    return this.client;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs = 20_000): Promise<void> {
    this.client?.close();
    if (this.exited) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILL at once, for cleanup on a signal (synchronous). */
  kill(): void {
    this.client?.close();
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}
