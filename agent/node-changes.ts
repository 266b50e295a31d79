import type { BmcManager, BmcSettings } from './bmc/index.js';
import {
  compileNodeSpec,
  type CallOptions,
  type DeleteResult,
  type EnsureResult,
  type NodeManager,
  type NodeRef,
  type RawNodeSpec,
} from './compute/index.js';

/**
 * A node and its BMC changed as one unit, under the node's lock (NodeManager.serialise), which
 * power actions, firmware and media changes take too. Ensuring the node and then its BMC in one
 * hold means a second EnsureNode of the node (a coordinator retrying a call that timed out while
 * the first still runs) finds the BMC the first one started instead of binding another socket,
 * and a DeleteNode never runs between the two and leaves a BMC without its node. BMC power
 * actions take only the node's lock (through NodeManager.power), so there is one lock per node
 * and no order between locks to get wrong.
 */
export class NodeChanges {
  constructor(
    private readonly nodes: NodeManager,
    private readonly bmc: BmcManager,
  ) {}

  /** Creates or updates a node, then (unless a dry run) its BMC. */
  async ensure(raw: RawNodeSpec, bmc: BmcSettings, o: CallOptions & { dryRun?: boolean } = {}): Promise<EnsureResult> {
    const spec = compileNodeSpec(raw);
    return this.nodes.serialise(spec.name, async (lock) => {
      const r = await this.nodes.ensureHeld(lock, spec, o);
      if (o.dryRun) return r;
      const b = await this.bmc.ensureHeld(lock, r.node, bmc);
      if (!b.changed) return r;
      return { ...r, changed: true, changes: [...r.changes, 'BMC updated'] };
    });
  }

  /** Stops the node's BMC first, so nothing powers the node on while it goes, then removes the node. */
  async delete(ref: NodeRef, o: CallOptions = {}): Promise<DeleteResult> {
    const name = await this.nodes.lockName(ref, o);
    if (name === null) return { existed: false, removed: [] };
    return this.nodes.serialise(name, async (lock) => {
      const node = await this.nodes.get(ref, o).catch(() => null);
      const bmcRemoved = node ? await this.bmc.removeHeld(lock, node.uuid) : false;
      const r = await this.nodes.deleteHeld(lock, ref, o);
      return bmcRemoved ? { ...r, removed: ['BMC', ...r.removed] } : r;
    });
  }
}
