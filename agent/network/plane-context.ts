import type { Logger } from '../../common/index.js';
import type { ApplyOptions, HostOps } from './host-ops.js';
import type { HostViewCache } from './host-view.js';
import type { HostLinks } from './ip-links.js';
import type { Marks } from './marks.js';
import type { OvsSwitch } from './ovs.js';
import type { PhysnetTable } from './physnet-table.js';

/** What the setup, teardown and NIC wiring of one network plane share. */
export interface PlaneContext {
  /** Host name, for error messages ("host hv1: physnet p1: ..."). */
  hostname: string;
  /** The agent owning what the plane creates (its id), marked on everything it makes. */
  owner: string;
  /** Whether marks are of an object of this agent. */
  owned: (m: Marks | null) => m is Marks;
  links: HostLinks;
  /** Open vSwitch, or null where it is not installed/running. */
  ovs: OvsSwitch | null;
  /** OVS datapath type of new bridges. */
  datapath: 'system' | 'netdev';
  physnets: PhysnetTable;
  view: HostViewCache;
  /** Applies host changes now (setup and teardown, under the host lock). */
  apply(ops: HostOps, o: ApplyOptions): Promise<void>;
  /**
   * Applies host changes together with concurrent callers' (node NICs); `replan` works them out
   * again from the host as it is, should the batch they went in fail.
   */
  submit(ops: HostOps, replan: () => Promise<HostOps>): Promise<void>;
  log: Logger;
}
