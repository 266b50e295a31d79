/** What the coordinator asks of agents, in its own terms (the rpc/ adapter speaks gRPC; tests fake it). */
import type { NodeStatus, PowerAction } from '../../common/index.js';
import type { BridgeType } from '../../common/spec/index.js';
import type { NodeRequest, ObservedNode } from '../planner/index.js';

/** Identifies a node on an agent. */
export interface NodeKey {
  cluster: string;
  name: string;
  uuid: string;
}

/** Power actions tenksctl can ask for. */
export type PowerVerb = PowerAction;

/** A physnet as an agent has it set up. */
export interface HostPhysnet {
  physnet: string;
  device: string;
  vlan: number;
  bridgeType: 'openvswitch' | 'linuxbridge';
  clusters: string[];
}

/** Calls to agents, by agent id. Each honours `signal` and rejects with a TenksError. */
export interface AgentPort {
  /**
   * The same calls, each carrying an operation's fencing token (common/fence.ts): agents refuse
   * them (CONFLICT) once a newer claim on the cluster has reached them.
   */
  withFence(fence: string): AgentPort;
  /**
   * Resolves when the agent is back: its heartbeats show it restarted or alive again (a retry
   * waiting out a backoff for it goes at once). Never rejects; ends with `signal` unresolved.
   */
  whenBack(agent: string, signal: AbortSignal): Promise<void>;
  /** The physnets set up on the agent's host now. */
  hostPhysnets(agent: string, signal?: AbortSignal): Promise<HostPhysnet[]>;
  listNodes(agent: string, cluster: string, includeSecrets: boolean, signal?: AbortSignal): Promise<ObservedNode[]>;
  /** The agent's nodes of `cluster` (`''`: all) as it reports them, every field (GetNodes shows them). */
  nodeStatuses(agent: string, cluster: string, includeSecrets: boolean, signal?: AbortSignal): Promise<NodeStatus[]>;
  ensureNode(
    agent: string,
    request: NodeRequest,
    signal?: AbortSignal,
  ): Promise<{ node: ObservedNode; changed: boolean; changes: string[] }>;
  deleteNode(agent: string, node: NodeKey, signal?: AbortSignal): Promise<{ existed: boolean; removed: string[] }>;
  setupHost(
    agent: string,
    cluster: string,
    bridgeType: BridgeType,
    physnets: { physnet: string; device: string; vlan: number }[],
    signal?: AbortSignal,
  ): Promise<{ changed: boolean; changes: string[] }>;
  teardownHost(agent: string, cluster: string, signal?: AbortSignal): Promise<{ changed: boolean; removed: string[] }>;
  setPower(
    agent: string,
    node: NodeKey,
    action: PowerVerb,
    signal?: AbortSignal,
  ): Promise<{ powerState: string; changed: boolean }>;
}
