/**
 * What a cluster spec could change, read before and after bench:fuzz sends its rejected specs: the
 * agent's nodes (volumes, NICs, BMCs) and host view (node count, pool, physnets) over gRPC, the
 * coordinator's clusters, and on the host the Linux links and OVS bridges carrying tenks marks and
 * the libvirt pools of qemu:///system.
 *
 * Other engineers' tests run on this host at the same time and change host objects too: a host
 * change counts against the fuzz only when it names the run's cluster (marks carry cluster names,
 * and every fuzz spec is renamed to the run's cluster before it is mutated); others are listed apart.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AgentWire, CoordinatorWire } from '../common/index.js';

const execFileAsync = promisify(execFile);

/** One reading. */
export interface HostSnapshot {
  /** Node projections (name, UUID, shape, volumes, NICs, BMC ports), one JSON line each. */
  nodes: string[];
  /** The agent's host view without what moves by itself (free memory). */
  host: string;
  clusters: string[];
  /** `name alias` of links with a tenks name prefix or a tenks alias. */
  links: string[];
  /** `name external_ids` of OVS bridges with tenks marks. */
  ovsBridges: string[];
  pools: string[];
  /** What could not be read (the tool is missing, ...). */
  unreadable: string[];
}

async function tool(file: string, args: readonly string[]): Promise<string | null> {
  try {
    return (await execFileAsync(file, args, { timeout: 30_000, maxBuffer: 16 << 20 })).stdout;
  } catch {
    return null;
  }
}

/** Reads everything a spec could change. */
export async function snapshot(agent: AgentWire, coordinator: CoordinatorWire): Promise<HostSnapshot> {
  const unreadable: string[] = [];
  const list = await agent.listNodes('', false, { timeoutMs: 30_000 });
  const nodes = list.nodes
    .map((n) =>
      JSON.stringify({
        cluster: n.cluster,
        name: n.name,
        uuid: n.uuid,
        memoryMb: n.memoryMb,
        vcpus: n.vcpus,
        bootMode: n.bootMode,
        volumes: n.volumes.map((v) => [v.name, v.capacityBytes]),
        nics: n.nics.map((x) => [x.physnet, x.mac, x.switchPort]),
        bmc: [n.bmc?.ipmi?.port ?? 0, n.bmc?.redfish?.systemId ?? ''],
      }),
    )
    .sort();
  const info = (await agent.hostInfo({ timeoutMs: 30_000 })).host;
  const host = JSON.stringify({
    nodeCount: info?.nodeCount,
    pool: info?.pool ? { name: info.pool.name, capacity: info.pool.capacityBytes } : null,
    physnets: (info?.physnets ?? []).map((p) => [p.physnet, p.device, p.vlan, p.bridge, [...p.clusters].sort()]),
  });
  const clusters = (await coordinator.getClusters(false, { timeoutMs: 30_000 })).map((c) => c.name).sort();
  const ip = await tool('ip', ['-o', 'link', 'show']);
  if (ip === null) unreadable.push('ip link');
  const links = (ip ?? '')
    .split('\n')
    .map((l) => {
      const name = /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '';
      const alias = /\balias (\S+)/.exec(l)?.[1] ?? '';
      return { name, alias };
    })
    .filter((l) => /^t[bpvusk]-/.test(l.name) || l.alias.startsWith('tenks:'))
    .map((l) => `${l.name} ${l.alias}`)
    .sort();
  const ovs = await tool('ovs-vsctl', ['--format=csv', '--data=bare', '--columns=name,external_ids', 'list', 'Bridge']);
  if (ovs === null) unreadable.push('ovs-vsctl');
  const ovsBridges = (ovs ?? '')
    .split('\n')
    .slice(1)
    .filter((l) => l.includes('tenks-'))
    .sort();
  const virsh = await tool('virsh', ['-c', 'qemu:///system', 'pool-list', '--all', '--name']);
  if (virsh === null) unreadable.push('virsh pool-list');
  const pools = (virsh ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();
  return { nodes, host, clusters, links, ovsBridges, pools, unreadable };
}

/** Differences between two readings: those that name `cluster` (or are the agent's or coordinator's) and the others. */
export function hostChanges(
  before: HostSnapshot,
  after: HostSnapshot,
  cluster: string,
): { ours: string[]; elsewhere: string[] } {
  const ours: string[] = [];
  const elsewhere: string[] = [];
  const diff = (
    what: string,
    a: readonly string[],
    b: readonly string[],
    attributed: (line: string) => boolean,
  ): void => {
    const was = new Set(a);
    const now = new Set(b);
    for (const x of b) if (!was.has(x)) (attributed(x) ? ours : elsewhere).push(`${what} added: ${x}`);
    for (const x of a) if (!now.has(x)) (attributed(x) ? ours : elsewhere).push(`${what} removed: ${x}`);
  };
  // The agent and the coordinator are this run's own: any change there is the fuzz's.
  diff('agent node', before.nodes, after.nodes, () => true);
  if (before.host !== after.host) {
    const physnetsOnly = (s: string): string => JSON.stringify((JSON.parse(s) as { physnets: unknown }).physnets);
    const rest = (s: string): string => JSON.stringify({ ...(JSON.parse(s) as object), physnets: null });
    if (rest(before.host) !== rest(after.host)) ours.push(`agent host view: ${before.host} -> ${after.host}`);
    // Physnets are read from the host itself: only those naming this run's cluster are its doing.
    if (physnetsOnly(before.host) !== physnetsOnly(after.host))
      (physnetsOnly(after.host).includes(cluster) || physnetsOnly(before.host).includes(cluster)
        ? ours
        : elsewhere
      ).push(`agent physnets: ${physnetsOnly(before.host)} -> ${physnetsOnly(after.host)}`);
  }
  diff('coordinator cluster', before.clusters, after.clusters, () => true);
  const names = (x: string): boolean => x.includes(cluster);
  diff('link', before.links, after.links, names);
  diff('OVS bridge', before.ovsBridges, after.ovsBridges, names);
  diff('libvirt pool', before.pools, after.pools, names);
  return { ours, elsewhere };
}
