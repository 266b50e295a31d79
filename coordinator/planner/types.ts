/** Domain types of planning: what is observed on the agents, and the actions that change it. */
import type { BmcFacts, NicFacts } from '../../common/ironic/index.js';
import type { BridgeType, DesiredNode, IronicDriver } from '../../common/spec/index.js';

/** A node as its agent reports it (ListNodes), in the coordinator's terms. */
export interface ObservedNode {
  /** Agent id it lives on. */
  agent: string;
  cluster: string;
  name: string;
  uuid: string;
  nodeType: string;
  powerState: string;
  memoryMb: number;
  vcpus: number;
  bootMode: 'uefi' | 'bios';
  machine: string;
  consoleLog: boolean;
  /** Pool volumes (`<node>-<name>`) and their sizes. */
  volumes: { name: string; capacityBytes: number }[];
  nics: NicFacts[];
  labels: Record<string, string>;
  bmc: BmcFacts;
}

/** What a node's BMC should be. */
export interface DesiredBmc {
  ipmi: boolean;
  redfish: boolean;
  username: string;
  password: string;
  /** Fixed IPMI port, or 0 for the agent's choice. */
  ipmiPort: number;
}

/** A node as the coordinator asks an agent to make it. */
export interface NodeRequest {
  node: DesiredNode;
  uuid: string;
  /** MACs in NIC order ('' lets the agent choose). */
  macs: string[];
  bmc: DesiredBmc;
  labels: Record<string, string>;
}

/** One planned change. */
export type Action =
  | {
      kind: 'setup_host';
      agent: string;
      bridgeType: BridgeType;
      physnets: { physnet: string; device: string; vlan: number }[];
      changes: string[];
    }
  | { kind: 'create' | 'update' | 'replace' | 'bmc'; agent: string; request: NodeRequest; changes: string[] }
  | { kind: 'delete'; agent: string; name: string; uuid: string; changes: string[] }
  | { kind: 'teardown_host'; agent: string; changes: string[] }
  /** Ironic and Nova steps (run by the enrolment stage, not the executor); `agent` of the node, or ''. */
  | { kind: 'enrol' | 'unenrol'; agent: string; name: string; changes: string[] }
  | { kind: 'flavor'; agent: ''; name: string; changes: string[] };

/** The kinds of {@link Action}. */
export type ActionKind = Action['kind'];

/** The name an action is reported under (the node, or the agent for host actions). */
export function actionTarget(a: Action): string {
  switch (a.kind) {
    case 'setup_host':
    case 'teardown_host':
      return a.agent;
    case 'delete':
    case 'enrol':
    case 'unenrol':
    case 'flavor':
      return a.name;
    default:
      return a.request.node.name;
  }
}

/** A plan: actions in the order they run (host setup, deletions, then node changes). */
export interface Plan {
  cluster: string;
  actions: Action[];
  /** Desired nodes that already match. */
  unchanged: number;
  warnings: string[];
  /** How the cluster got its name (describeNameSource), for plans of a spec. */
  nameSource?: string;
  /** Why an apply of this plan is refused without prune (prune.ts), for plans of a spec. */
  pruneRequired?: string;
}

/** Driver → which BMC endpoints a node gets. Redfish is on for every node: it costs no port. */
export function bmcFor(driver: IronicDriver): { ipmi: boolean; redfish: boolean } {
  return { ipmi: driver === 'ipmi', redfish: true };
}
