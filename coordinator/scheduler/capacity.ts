import type { HostInventory, HostUsage, NodeDemand, PlacedNode, ScheduleOptions } from './types.js';

const MiB = 1024 * 1024;

/** Why a node does not fit on a host. Amounts in bytes (RAM, disk) or vCPUs. */
export type Shortfall =
  | { kind: 'ram'; need: number; free: number }
  | { kind: 'vcpus'; need: number; free: number }
  | { kind: 'disk'; need: number; free: number }
  | { kind: 'ipmi_port' }
  | { kind: 'physnet'; physnet: string }
  /** The host does not run the node's architecture; `runs` is what it runs. */
  | { kind: 'arch'; arch: string; runs: readonly string[] }
  /** The host runs the architecture but has no UEFI firmware for it. */
  | { kind: 'uefi'; arch: string }
  | { kind: 'name' }
  | { kind: 'dead' };

/**
 * One host's capacity and what is placed on it, as the scheduler goes.
 *
 * - RAM: `memoryBytes * ram_allocation_ratio - reserved_host_memory_mb`, less the memory of every
 *   node placed on the host.
 * - vCPUs: `floor(cpus * cpu_allocation_ratio)`, less the vCPUs of placed nodes.
 * - Disk: volumes are thin qcow2 files (or LVM volumes) that may grow to their full capacity, so a
 *   node counts with the sum of its volume capacities. Two limits apply and the smaller wins:
 *   `poolCapacityBytes * disk_allocation_ratio` less the capacity of every node on the host (the
 *   commitment budget: with ratio 1 every volume can grow to full size), and
 *   `poolAvailableBytes * disk_allocation_ratio` less the capacity of nodes placed in this run (so
 *   space that other files in a shared pool already hold is never promised; existing nodes' real
 *   allocation is already out of the available figure).
 * - BMC ports: one per new IPMI node, from what the agent reports free.
 */
export class HostState {
  readonly id: string;
  readonly alive: boolean;
  readonly memoryCapacity: number;
  readonly vcpuCapacity: number;
  readonly diskCapacity: number;
  private readonly diskAvailable: number;
  private readonly physnets: ReadonlySet<string>;
  /** Guest architectures the host runs, and those with UEFI firmware. */
  readonly arches: readonly string[];
  private readonly uefiArches: ReadonlySet<string>;
  /** Names of nodes on this host, of every cluster: libvirt domain names are unique per host. */
  private readonly names = new Set<string>();
  memoryUsed = 0;
  vcpusUsed = 0;
  diskUsed = 0;
  private diskPlacedNow = 0;
  bmcPortsFree: number;
  nodes = 0;

  constructor(inv: HostInventory, o: ScheduleOptions) {
    this.id = inv.id;
    this.alive = inv.alive;
    this.memoryCapacity = Math.floor(inv.memoryBytes * o.ramAllocationRatio - o.reservedHostMemoryMb * MiB);
    this.vcpuCapacity = Math.floor(inv.cpus * o.cpuAllocationRatio);
    this.diskCapacity = Math.floor(inv.poolCapacityBytes * o.diskAllocationRatio);
    this.diskAvailable = Math.floor(inv.poolAvailableBytes * o.diskAllocationRatio);
    this.physnets = new Set(inv.physnets);
    this.arches = inv.arches;
    this.uefiArches = new Set(inv.uefiArches);
    this.bmcPortsFree = inv.bmcPortsFree;
  }

  freeMemory(): number {
    return this.memoryCapacity - this.memoryUsed;
  }
  freeVcpus(): number {
    return this.vcpuCapacity - this.vcpusUsed;
  }
  freeDisk(): number {
    return Math.min(this.diskCapacity - this.diskUsed, this.diskAvailable - this.diskPlacedNow);
  }

  /** Why this host cannot run `n` at all, whatever is free: its architecture, or its UEFI firmware; null when it can. */
  cannotRun(n: NodeDemand): Shortfall | null {
    if (!this.arches.includes(n.arch)) return { kind: 'arch', arch: n.arch, runs: this.arches };
    if (n.uefi && !this.uefiArches.has(n.arch)) return { kind: 'uefi', arch: n.arch };
    return null;
  }

  /** True when `n` fits as a new node (the host's liveness is the caller's filter). */
  fits(n: NodeDemand): boolean {
    if (this.cannotRun(n) !== null) return false;
    if (n.memoryMb * MiB > this.freeMemory() || n.vcpus > this.freeVcpus() || n.diskBytes > this.freeDisk())
      return false;
    if (n.needsIpmiPort && this.bmcPortsFree < 1) return false;
    for (const p of n.physnets) if (!this.physnets.has(p)) return false;
    return !this.names.has(n.name);
  }

  /** Every reason `n` does not fit as a new node here; empty when it fits. */
  shortfalls(n: NodeDemand): Shortfall[] {
    // What a dead host lacks besides a heartbeat does not matter.
    if (!this.alive) return [{ kind: 'dead' }];
    // Nor do the resources of a host that cannot run the node at all.
    const cannot = this.cannotRun(n);
    if (cannot) return [cannot];
    const out: Shortfall[] = [];
    for (const p of n.physnets) if (!this.physnets.has(p)) out.push({ kind: 'physnet', physnet: p });
    if (n.memoryMb * MiB > this.freeMemory())
      out.push({ kind: 'ram', need: n.memoryMb * MiB, free: this.freeMemory() });
    if (n.vcpus > this.freeVcpus()) out.push({ kind: 'vcpus', need: n.vcpus, free: this.freeVcpus() });
    if (n.diskBytes > this.freeDisk()) out.push({ kind: 'disk', need: n.diskBytes, free: this.freeDisk() });
    if (n.needsIpmiPort && this.bmcPortsFree < 1) out.push({ kind: 'ipmi_port' });
    if (this.names.has(n.name)) out.push({ kind: 'name' });
    return out;
  }

  /**
   * Weighted free fraction after placing `n`: per resource (free - need) / capacity, combined by
   * the weights. Higher means emptier.
   */
  score(n: NodeDemand, w: ScheduleOptions['weights']): number {
    // Hot path (nodes x hosts): no allocation here.
    let s = 0;
    if (this.memoryCapacity > 0) s += (w.ram * (this.freeMemory() - n.memoryMb * MiB)) / this.memoryCapacity;
    if (this.vcpuCapacity > 0) s += (w.vcpus * (this.freeVcpus() - n.vcpus)) / this.vcpuCapacity;
    if (this.diskCapacity > 0) s += (w.disk * (this.freeDisk() - n.diskBytes)) / this.diskCapacity;
    return s / (w.ram + w.vcpus + w.disk);
  }

  /**
   * Accounts a node that exists here (another cluster's, or one of ours being removed), or one of
   * ours that stays here (at the size the spec now asks for).
   */
  addExisting(n: Pick<PlacedNode, 'name' | 'memoryMb' | 'vcpus' | 'diskBytes'>): void {
    this.memoryUsed += n.memoryMb * MiB;
    this.vcpusUsed += n.vcpus;
    this.diskUsed += n.diskBytes;
    this.names.add(n.name);
    this.nodes++;
  }

  /** Accounts a node placed here in this run. */
  addNew(n: NodeDemand): void {
    this.addExisting(n);
    this.diskPlacedNow += n.diskBytes;
    if (n.needsIpmiPort) this.bmcPortsFree--;
  }

  usage(): HostUsage {
    return {
      id: this.id,
      alive: this.alive,
      nodes: this.nodes,
      memoryUsedBytes: this.memoryUsed,
      memoryCapacityBytes: Math.max(0, this.memoryCapacity),
      vcpusUsed: this.vcpusUsed,
      vcpusCapacity: this.vcpuCapacity,
      diskUsedBytes: this.diskUsed,
      diskCapacityBytes: this.diskCapacity,
      bmcPortsFree: this.bmcPortsFree,
    };
  }
}
