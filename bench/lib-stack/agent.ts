/** tenks-agents of the stack: mTLS, heartbeats to NATS, found by the coordinator. */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Coordinator } from './coordinator.js';
import type { Daemon } from './daemon.js';
import type { Nats } from './nats.js';
import { REPO } from './paths.js';
import type { Pki } from './pki.js';
import { writeConfig, type Stack } from './stack.js';

/** Options of one agent. */
export interface AgentOptions {
  id: string;
  libvirtUri: string;
  poolName: string;
  /** IPMI port range (start 0: any free port). */
  ipmi: { start: number; end: number };
  nofile?: number;
  /** Node.js options before the script (e.g. `--cpu-prof`). */
  nodeArgs?: readonly string[];
  /** More config keys (override the defaults here). */
  extra?: Record<string, unknown>;
  /** Run it in this network namespace (`ip netns exec NS node ...`); give `extra.listen` an address there. */
  netns?: string;
  /** More environment variables of the agent process. */
  env?: Record<string, string>;
}

/** Starts a tenks-agent (mTLS, listen 127.0.0.1:0, heartbeats to `nats`); its files under `<stack dir>/<id>/`. */
export async function startAgent(stack: Stack, nats: Nats, pki: Pki, o: AgentOptions): Promise<Daemon> {
  const base = join(stack.dir, o.id);
  // Traversable by QEMU (another user), like the stack's dir: the pool is inside.
  await mkdir(base, { recursive: true, mode: 0o711 });
  await chmod(base, 0o711);
  const file = await writeConfig(stack, `agent-${o.id}`, {
    agent_id: o.id,
    listen: '127.0.0.1:0',
    tls: pki.files('agent'),
    libvirt_uri: o.libvirtUri,
    storage: { pool_name: o.poolName, pool_path: join(base, 'pool') },
    log_directory: join(base, 'log'),
    state_dir: join(base, 'state'),
    bmc: {
      listen_address: '127.0.0.1',
      ipmi_port_range_start: o.ipmi.start,
      ipmi_port_range_end: o.ipmi.end,
      redfish_port: 0,
    },
    nats: { servers: nats.url },
    log_level: 'warn',
    shutdown_grace_s: 2,
    ...o.extra,
  });
  const argv = [...(o.nodeArgs ?? []), join(REPO, 'bin/tenks-agent.js'), '--config', file];
  const [bin, args] =
    o.netns === undefined ? [process.execPath, argv] : ['ip', ['netns', 'exec', o.netns, process.execPath, ...argv]];
  return stack.spawn(`tenks-agent ${o.id}`, bin, args, {
    ...(o.nofile !== undefined ? { nofile: o.nofile } : {}),
    ...(o.env !== undefined ? { env: o.env } : {}),
  });
}

/** Waits until the coordinator lists every one of `ids` as alive (from their heartbeats). */
export async function waitForAgents(c: Coordinator, agents: readonly Daemon[], ids: readonly string[]): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const alive = new Set(
      (await c.api.getAgents({ timeoutMs: 5000 }).catch(() => [])).filter((a) => a.alive).map((a) => a.id),
    );
    if (ids.every((id) => alive.has(id))) return;
    const dead = agents.find((a) => !a.alive);
    if (dead) throw new Error(`an agent exited:\n${dead.tail()}`);
    if (Date.now() > deadline)
      throw new Error(
        `agents not alive at the coordinator after 180 s: ${ids.filter((id) => !alive.has(id)).join(', ')}\n${agents.map((a) => a.tail(800)).join('\n')}`,
      );
    await sleep(250);
  }
}
