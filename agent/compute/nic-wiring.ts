import type { FieldError } from '../../common/errors.js';
import type { CallOptions, DomainSpec } from './hypervisor.js';
import type { NodeSpec, NodeStatus } from './types.js';

/** Node NIC wiring: the port the networking plane implements for the node manager. */
export interface NicWiring {
  /** Checks every physnet of the spec is set up here; returns field errors otherwise. */
  check(spec: NodeSpec): Promise<FieldError[]>;
  /** True when every NIC's switch-side port and VM-side link exist and are wired (fast path). */
  verify(spec: NodeSpec): Promise<boolean>;
  /** Ensures the switch-side ports of a node and returns how each NIC attaches. */
  attach(spec: NodeSpec, o?: CallOptions): Promise<DomainSpec['nics']>;
  /** Reports each NIC of a node (bridge, switch port). */
  describe(spec: NodeSpec): NodeStatus['nics'];
  /** Removes the switch-side ports of a node. */
  detach(spec: NodeSpec, o?: CallOptions): Promise<string[]>;
}
