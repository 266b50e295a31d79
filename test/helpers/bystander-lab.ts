/**
 * A small tenks lab like a user's, running beside the system tier so that the tier proves it
 * leaves other people's labs alone: its own nats-server (`-p -1`), coordinator and agent as child
 * processes over mTLS (certificates from deploy/make-certs.sh, every port 0), and a cluster of two
 * 128 MiB BIOS nodes (64 MiB volumes) on qemu:///system with IPMI BMCs, on an openvswitch physnet
 * backed by a Linux bridge made here; node 0 is powered on through its BMC, as a user would.
 * Every name carries a random tag.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CoordinatorWire } from '../../common/index.js';
import { OperationState, type Operation } from '../../proto/gen/tenks/v1/coordinator.pb.js';
import { startNats, type TestNats } from '../integration/helpers-nats.js';
import {
  AgentProcess,
  cleanupLibvirt,
  clientCredentials,
  domState,
  makeCerts,
  run,
  waitUntil,
} from '../system/helpers.js';

/** A node of the lab and how to reach its BMC. */
interface BystanderNode {
  name: string;
  ipmiPort: number;
  /** Its power state as the lab left it. */
  on: boolean;
}

/** Runs ipmitool against a BMC of the lab; resolves with stdout, rejects with what went wrong. */
function ipmitool(port: number, password: string, ...args: string[]): Promise<string> {
  const argv = ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', password, ...args];
  return new Promise((resolve, reject) => {
    execFile('ipmitool', argv, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ipmitool -p ${port} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** The running lab. */
export class BystanderLab {
  readonly tag = randomBytes(3).toString('hex');
  readonly cluster = `by-${this.tag}`;
  readonly prefix = `by${this.tag}-`;
  readonly bridge = `byb${this.tag}`;
  readonly physnet = `by${this.tag}`;
  readonly pool = `tenks-by-${this.tag}`;
  readonly nodes: BystanderNode[] = [];
  private readonly password = randomBytes(9).toString('base64url');
  private dir = '';
  private nats: TestNats | null = null;
  private coordinator: AgentProcess | null = null;
  private agent: AgentProcess | null = null;
  private api: CoordinatorWire | null = null;
  private bridgeMade = false;

  private constructor(private readonly say: (line: string) => void) {}

  /**
   * Starts the lab; throws (after removing whatever it made) when it cannot, e.g. without QEMU:
   * the tier must not run unguarded.
   */
  static async start(say: (line: string) => void): Promise<BystanderLab> {
    const lab = new BystanderLab(say);
    try {
      await lab.build();
    } catch (e) {
      const left = await lab.teardown();
      const output = [lab.coordinator?.output() ?? '', lab.agent?.output() ?? ''].join('\n');
      throw new Error(
        `the bystander lab could not start: ${e instanceof Error ? e.message : String(e)}${left.length > 0 ? `\nleft behind: ${left.join('; ')}` : ''}\n${output}`,
        { cause: e },
      );
    }
    return lab;
  }

  private async build(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'tenks-bystander-'));
    // QEMU (another user) must reach the pool inside.
    await run('chmod', ['711', this.dir]);
    await run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    this.bridgeMade = true;
    await run('ip', ['link', 'set', this.bridge, 'up']);
    const pki = join(this.dir, 'pki');
    await makeCerts(pki, 'agent', 'coordinator', 'client');
    const tls = (name: string): Record<string, string> => ({
      ca_file: join(pki, 'ca.pem'),
      cert_file: join(pki, `${name}.pem`),
      key_file: join(pki, `${name}-key.pem`),
    });
    this.nats = await startNats();
    this.coordinator = await AgentProcess.spawn(
      join(this.dir, 'coordinator.yaml'),
      {
        coordinator_id: `c-${this.tag}`,
        listen: '127.0.0.1:0',
        tls: tls('coordinator'),
        nats: { servers: this.nats.url },
        log_level: 'info',
      },
      { bin: 'bin/tenks-coordinator.js' },
    );
    this.agent = await AgentProcess.spawn(join(this.dir, 'agent.yaml'), {
      agent_id: `by-${this.tag}`,
      listen: '127.0.0.1:0',
      tls: tls('agent'),
      libvirt_uri: 'qemu:///system',
      storage: { pool_name: this.pool, pool_path: join(this.dir, 'pool') },
      log_directory: join(this.dir, 'log'),
      state_dir: join(this.dir, 'state'),
      bmc: { listen_address: '127.0.0.1', ipmi_port_range_start: 0, ipmi_port_range_end: 0, redfish_port: 0 },
      nats: { servers: this.nats.url },
      heartbeat_interval_s: 1,
      log_level: 'warn',
    });
    const port = await this.coordinator.listeningPort();
    this.api = new CoordinatorWire(`127.0.0.1:${port}`, await clientCredentials(pki), {}, 60_000);
    const api = this.api;
    await waitUntil(
      'the bystander agent alive at its coordinator',
      async () => (await api.getAgents().catch(() => [])).some((a) => a.id === `by-${this.tag}` && a.alive),
      90_000,
    );
    const op = await this.finish(
      await api.apply(
        stringify({
          name: this.cluster,
          bridge_type: 'openvswitch',
          physnet_mappings: { [this.physnet]: this.bridge },
          node_types: {
            tiny: { memory_mb: 128, vcpus: 1, volumes: [{ capacity: '64MiB' }], physical_networks: [this.physnet] },
          },
          specs: [{ type: 'tiny', count: 2, node_name_prefix: this.prefix }],
          default_boot_mode: 'bios',
          default_ironic_driver: 'ipmi',
          ipmi_username: 'admin',
          ipmi_password: this.password,
        }),
        'bystander.yaml',
      ),
    );
    if (op.state !== OperationState.OPERATION_STATE_SUCCEEDED)
      throw new Error(`apply failed: ${JSON.stringify(op.results.filter((r) => !r.ok))}`);
    for (const n of (await api.getNodes(this.cluster)).sort((a, b) => a.name.localeCompare(b.name))) {
      const ipmi = n.bmc?.ipmi;
      if (!ipmi) throw new Error(`node ${n.name} has no IPMI BMC`);
      this.nodes.push({ name: n.name, ipmiPort: ipmi.port, on: false });
    }
    const first = this.nodes[0];
    if (this.nodes.length !== 2 || first === undefined) throw new Error(`expected 2 nodes, got ${this.nodes.length}`);
    await ipmitool(first.ipmiPort, this.password, 'chassis', 'power', 'on');
    await waitUntil('the bystander node to run', async () => (await domState(first.name)) === 'running', 60_000);
    first.on = true;
    this.say(
      `bystander lab ${this.cluster}: nodes ${this.nodes.map((n) => `${n.name} (IPMI 127.0.0.1:${n.ipmiPort}, ${n.on ? 'on' : 'off'})`).join(', ')}, bridge ${this.bridge}`,
    );
  }

  private async finish(op: Operation, timeoutMs = 240_000): Promise<Operation> {
    const api = this.api;
    if (!api) throw new Error('no coordinator');
    const end = Date.now() + timeoutMs;
    for (;;) {
      const o = await api.getOperation(op.id);
      if (o.state >= OperationState.OPERATION_STATE_SUCCEEDED) return o;
      if (Date.now() > end) throw new Error(`operation ${op.id} did not end within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** What is wrong with the lab now: daemons gone, BMCs not answering or reporting another power state, nodes not as left. */
  async problems(): Promise<string[]> {
    const out: string[] = [];
    for (const [name, p] of [
      ['coordinator', this.coordinator],
      ['agent', this.agent],
    ] as const)
      if (!p?.running) out.push(`bystander ${name} is no longer running${p ? p.output() : ''}`);
    for (const n of this.nodes) {
      const want = n.on ? 'on' : 'off';
      const status = await ipmitool(n.ipmiPort, this.password, 'power', 'status').catch((e: unknown) => String(e));
      if (status.trim() !== `Chassis Power is ${want}`)
        out.push(
          `bystander BMC of ${n.name} (port ${n.ipmiPort}): expected "Chassis Power is ${want}", got: ${status.trim()}`,
        );
      const state = await domState(n.name).catch((e: unknown) => String(e));
      if (state !== (n.on ? 'running' : 'shut off'))
        out.push(`bystander node ${n.name}: expected ${n.on ? 'running' : 'shut off'}, virsh says: ${state}`);
    }
    return out;
  }

  /** Deletes the cluster through its coordinator, stops everything, removes the rest; returns what had to be removed by hand. */
  async teardown(): Promise<string[]> {
    const left: string[] = [];
    if (this.api && this.nodes.length > 0) {
      const op = await this.finish(await this.api.deleteCluster(this.cluster)).catch((e: unknown) => e);
      if (!(op instanceof Error) && (op as Operation).state !== OperationState.OPERATION_STATE_SUCCEEDED)
        left.push(
          `delete of ${this.cluster} failed: ${JSON.stringify((op as Operation).results.filter((r) => !r.ok))}`,
        );
      else if (op instanceof Error) left.push(`delete of ${this.cluster} failed: ${op.message}`);
    }
    this.api?.close();
    await this.coordinator?.kill().catch(() => undefined);
    await this.agent?.kill().catch(() => undefined);
    await this.nats?.stop().catch(() => undefined);
    // The pool is the agent's, not the cluster's: removing it is the lab owner's job. Anything else
    // found here was left by the delete.
    for (const r of await cleanupLibvirt({ domainPart: this.prefix, pool: this.pool }))
      if (!r.startsWith('pool ')) left.push(r);
    // What the agent's host teardown removes when the delete works: the physnet's OVS bridge, its
    // uplink veth and the node ports (all named with the tag).
    const ovsBridge = `tb-${this.physnet}`;
    if ((await run('ovs-vsctl', ['--timeout=10', 'list-br']).catch(() => '')).split('\n').includes(ovsBridge)) {
      await run('ovs-vsctl', ['--timeout=10', 'del-br', ovsBridge]).catch(() => undefined);
      left.push(`OVS bridge ${ovsBridge}`);
    }
    for (const l of (await run('ip', ['-o', 'link']).catch(() => '')).split('\n')) {
      const name = /^\d+: ([^:@]+)/.exec(l)?.[1];
      if (name === undefined || name === this.bridge || !name.includes(this.tag)) continue;
      await run('ip', ['link', 'del', name]).catch(() => undefined);
      left.push(`link ${name}`);
    }
    if (this.bridgeMade) await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
    if (left.length > 0) this.say(`bystander teardown had to remove: ${left.join('; ')}`);
    return left;
  }
}
