/**
 * bench:scale's clusters and its measure of the pure scheduler: the spec of `count` tiny IPMI nodes,
 * allocation ratios that fit them on the hosts the agents report, and `schedule()` timed in this
 * process on that inventory.
 */
import { compileClusterSpec, expandNodes } from '../common/index.js';
import { nodeDemand, schedule, type HostInventory, type PlacedNode } from '../coordinator/scheduler/index.js';
import type { Agent } from '../proto/gen/tenks/v1/coordinator.pb.js';
import { median } from './lib-stack/figures.js';

const MiB = 1024 * 1024;

/** The nodes bench:scale makes. */
export interface ScaleNodes {
  memoryMb: number;
  /** Size of each node's one volume; 0: no volume. */
  volumeMib: number;
  /** IPMI password of every node. */
  password: string;
}

/** Scheduler ratios so that `perAgent` nodes fit on the smallest reported host, 20 % to spare. */
export function ratiosFor(agents: readonly Agent[], perAgent: number, nodes: ScaleNodes): Record<string, number> {
  const want = perAgent * 1.2;
  let cpu = 1;
  let ram = 1;
  let disk = 1;
  for (const a of agents) {
    const h = a.host;
    if (!h) throw new Error(`agent ${a.id} reports no host`);
    cpu = Math.max(cpu, want / Math.max(1, h.cpus));
    ram = Math.max(ram, (want * nodes.memoryMb * MiB + 512 * MiB) / Math.max(1, h.memoryBytes));
    const pool = h.pool;
    if (nodes.volumeMib > 0 && pool)
      disk = Math.max(
        disk,
        (want * nodes.volumeMib * MiB) / Math.max(1, Math.min(pool.capacityBytes, pool.availableBytes)),
      );
  }
  const up = (x: number): number => Math.min(1000, Math.ceil(x * 10) / 10);
  return { cpu_allocation_ratio: up(cpu), ram_allocation_ratio: up(ram), disk_allocation_ratio: up(disk) };
}

/** The cluster spec (as parsed YAML): `count` tiny IPMI nodes named `<prefix><i>`. */
export function specObject(
  cluster: string,
  count: number,
  prefix: string,
  ratios: Record<string, number>,
  nodes: ScaleNodes,
): Record<string, unknown> {
  return {
    name: cluster,
    default_ironic_driver: 'ipmi',
    default_boot_mode: 'bios',
    ipmi_username: 'admin',
    ipmi_password: nodes.password,
    node_types: {
      tiny: {
        memory_mb: nodes.memoryMb,
        vcpus: 1,
        volumes: nodes.volumeMib > 0 ? [{ capacity: `${nodes.volumeMib}MiB` }] : [],
      },
    },
    specs: [{ type: 'tiny', count, node_name_prefix: prefix }],
    scheduler: { strategy: 'spread', ...ratios },
  };
}

/** What {@link benchScheduler} schedules, and how often. */
export interface SchedulerRun {
  /** Cluster name of the spec scheduled. */
  cluster: string;
  /** New nodes scheduled. */
  nodes: number;
  /** Nodes of another cluster already placed, for the second measure. */
  placed: number;
  /** Timed runs of each measure (after a warm-up). */
  repeat: number;
  /** IPMI ports free on each host. */
  bmcPortsFree: number;
}

/** The pure scheduler on the agents' real inventory: median seconds of `schedule()`. */
export function benchScheduler(
  agents: readonly Agent[],
  ratios: Record<string, number>,
  nodes: ScaleNodes,
  r: SchedulerRun,
): { scheduleS: number; runsS: number[]; withPlacedS: number; compileExpandS: number; hosts: number } {
  const inventory: HostInventory[] = agents.map((a) => ({
    id: a.id,
    cpus: a.host?.cpus ?? 0,
    memoryBytes: a.host?.memoryBytes ?? 0,
    poolCapacityBytes: a.host?.pool?.capacityBytes ?? 0,
    poolAvailableBytes: a.host?.pool?.availableBytes ?? 0,
    physnets: [],
    bmcPortsFree: r.bmcPortsFree,
    alive: true,
    // Empty from a coordinator older than architectures: x86_64, as heartbeats without them read.
    arches: a.host?.arches.length ? a.host.arches : ['x86_64'],
    uefiArches: a.host?.arches.length ? a.host.uefiArches : ['x86_64'],
  }));
  const t = performance.now();
  const { spec } = compileClusterSpec(specObject(r.cluster, r.nodes, 'sb', ratios, nodes), 'scale-10000.yaml');
  const demands = expandNodes(spec).map(nodeDemand);
  const compileExpandS = (performance.now() - t) / 1000;
  if (demands.length !== r.nodes) throw new Error(`expandNodes gave ${demands.length} nodes, expected ${r.nodes}`);
  const once = (current: PlacedNode[]): number => {
    const t0 = performance.now();
    const res = schedule({ cluster: spec.name, nodes: demands, hosts: inventory, current, options: spec.scheduler });
    const s = (performance.now() - t0) / 1000;
    if (res.assignments.length !== r.nodes) throw new Error('schedule placed a wrong number of nodes');
    return s;
  };
  once([]);
  const runsS = Array.from({ length: r.repeat }, () => once([]));
  const placed: PlacedNode[] = Array.from({ length: r.placed }, (_, i) => ({
    cluster: 'other',
    name: `sa${i}`,
    hostId: agents[i % agents.length]?.id ?? '',
    memoryMb: nodes.memoryMb,
    vcpus: 1,
    diskBytes: nodes.volumeMib * MiB,
  }));
  const withPlaced = Array.from({ length: r.repeat }, () => once(placed));
  return { scheduleS: median(runsS), runsS, withPlacedS: median(withPlaced), compileExpandS, hosts: inventory.length };
}
