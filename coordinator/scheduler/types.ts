import type { SchedulerSpec } from '../../common/spec/index.js';

/** Scheduler settings: the compiled `scheduler` section of a cluster spec. */
export type ScheduleOptions = SchedulerSpec;

/** A node to place: what it needs from a host. */
export interface NodeDemand {
  /** Node name, unique in the cluster. */
  name: string;
  /** Node type, for messages ("node tk12 (type big)"). */
  nodeType: string;
  memoryMb: number;
  vcpus: number;
  /** Sum of volume capacities the node's volumes take from the pool (`existing` volumes excluded). */
  diskBytes: number;
  /** Physnets the node has NICs on; a host must offer every one. */
  physnets: readonly string[];
  /** True for IPMI nodes, which each take one of the host's BMC ports (Redfish nodes share one service). */
  needsIpmiPort: boolean;
  /** Guest architecture (`x86_64`, `aarch64`): a host must run it. */
  arch: string;
  /** True for UEFI nodes: a host must have UEFI firmware for their architecture. */
  uefi: boolean;
}

/**
 * A hypervisor as its agent reports it. Totals for CPU, RAM and pool capacity (the scheduler
 * subtracts what placed nodes use); `poolAvailableBytes` and `bmcPortsFree` are what is free right
 * now, so they already reflect nodes that exist.
 */
export interface HostInventory {
  /** Agent id. */
  id: string;
  /** Host CPUs (threads). */
  cpus: number;
  memoryBytes: number;
  poolCapacityBytes: number;
  poolAvailableBytes: number;
  /**
   * Physnets a node may use on this host: those the spec maps for the host (`hostSettings(spec,
   * id).physnetMappings`, which apply sets up before creating nodes) plus those the agent reports
   * as already set up. The caller builds the union.
   */
  physnets: readonly string[];
  /** IPMI ports still free in the agent's range (within the spec's range, when it sets one). */
  bmcPortsFree: number;
  /** Guest architectures the host runs (an agent older than architectures: `['x86_64']`). */
  arches: readonly string[];
  /** Those of {@link arches} with UEFI firmware. */
  uefiArches: readonly string[];
  /** The agent's heartbeat is current. New nodes only go to live hosts. */
  alive: boolean;
}

/** A node that exists, of any cluster, and where. */
export interface PlacedNode {
  cluster: string;
  name: string;
  /** Agent id of its host. */
  hostId: string;
  memoryMb: number;
  vcpus: number;
  /** Pool capacity its volumes take (as {@link NodeDemand.diskBytes}). */
  diskBytes: number;
}

/** Input of {@link schedule}. */
export interface ScheduleInput {
  /** Cluster being scheduled: its nodes in `current` stay where they are. */
  cluster: string;
  /** Every node of the cluster the spec asks for, in spec order (expandNodes order). */
  nodes: readonly NodeDemand[];
  /** Every known agent, alive or not. */
  hosts: readonly HostInventory[];
  /**
   * Every node that exists, of all clusters. Entries of this cluster that are in `nodes` are kept
   * where they are; all others use capacity. A caller that deletes removed nodes before creating new
   * ones should leave those out.
   */
  current: readonly PlacedNode[];
  /** Hosts new nodes may go to (the spec's `hypervisors`), or null/absent for every host. */
  allowedHosts?: readonly string[] | null;
  /** Scheduler settings; missing ones take the spec defaults (defaultSchedulerSpec()). */
  options?: Partial<ScheduleOptions>;
}

/** Where one node goes. */
export interface Assignment {
  node: string;
  hostId: string;
  /** True when the node already existed there; false for a new placement. */
  kept: boolean;
}

/** What a host holds once the schedule is applied. Capacities are after allocation ratios and reserve. */
export interface HostUsage {
  id: string;
  alive: boolean;
  /** Nodes of every cluster on it. */
  nodes: number;
  memoryUsedBytes: number;
  memoryCapacityBytes: number;
  vcpusUsed: number;
  vcpusCapacity: number;
  diskUsedBytes: number;
  diskCapacityBytes: number;
  bmcPortsFree: number;
}

/** Result of {@link schedule}. */
export interface ScheduleResult {
  /** One per input node, in input order. */
  assignments: Assignment[];
  /** Kept nodes on dead, unknown or disallowed hosts, and hosts over capacity. */
  warnings: string[];
  /** Every host, in id order. */
  hosts: HostUsage[];
}
