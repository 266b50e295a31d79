import { KeyedMutex, type FieldError, type Logger } from '../../common/index.js';
import type { CallOptions, DomainNic, NicWiring, NodeSpec, NodeStatus } from '../compute/index.js';
import { applyHostOps } from './host-ops.js';
import { HostViewCache, readHostView } from './host-view.js';
import type { HostLinks } from './ip-links.js';
import { ownedBy } from './marks.js';
import { NodeNics } from './nic-wiring.js';
import type { OvsSwitch } from './ovs.js';
import type { PlaneContext } from './plane-context.js';
import { setupPhysnets } from './physnet-setup.js';
import { PhysnetTable } from './physnet-table.js';
import { teardownPhysnets } from './physnet-teardown.js';
import type { BridgeType, HostChange, PhysnetMapping, PhysnetState } from './types.js';
import { WriteBatcher } from './write-batcher.js';

/** Options of the network plane. */
export interface NetworkPlaneOptions {
  /** Host name, for error messages ("host hv1: physnet p1: ..."). */
  hostname: string;
  /**
   * The agent owning what this plane creates (its id), marked on every bridge, uplink and port:
   * several agents on one host (another libvirt URI, a test's) each manage only their own.
   */
  owner: string;
  /** Whether objects marked before owners were recorded (no owner mark) are this agent's. */
  ownsUnmarked: boolean;
  links: HostLinks;
  /** Open vSwitch, or null where it is not installed/running. */
  ovs: OvsSwitch | null;
  log: Logger;
  /** How long a read of the host's links may be reused by idempotence checks (ms). Default 2000. */
  viewTtlMs?: number;
}

/**
 * Physical networks and node NIC wiring on one host, on Linux bridges or Open vSwitch.
 *
 * Per physnet: a tenks bridge (`tb-<physnet>`), plugged into the mapped source device: an interface
 * directly (or through a VLAN link), a Linux bridge through a veth pair, an OVS bridge through patch
 * ports (or a veth pair when the tenks bridge is a Linux bridge). Per node NIC: a veth pair whose
 * switch-side end sits in the tenks bridge whether or not the VM runs, and whose other end is the
 * lower device of the VM's macvtap (passthrough). Everything carries tenks marks (aliases,
 * external_ids), which are the only record: the state is read back from the host.
 */
export class NetworkPlane implements NicWiring {
  private readonly hostLock = new KeyedMutex();
  private readonly nics: NodeNics;

  private constructor(private readonly ctx: PlaneContext) {
    this.nics = new NodeNics(ctx);
  }

  /** Creates the plane and reads the physnets already set up on this host. */
  static async create(o: NetworkPlaneOptions): Promise<NetworkPlane> {
    const { links, ovs, log } = o;
    const view = new HostViewCache(() => readHostView(links, ovs), o.viewTtlMs ?? 2000);
    const batcher = new WriteBatcher({
      apply: (ops) => applyHostOps(ops, links, ovs, { noWait: true }),
      invalidate: () => {
        view.invalidate();
      },
      log,
    });
    const owned = ownedBy(o.owner, o.ownsUnmarked);
    const plane = new NetworkPlane({
      hostname: o.hostname,
      owner: o.owner,
      owned,
      links,
      ovs,
      datapath: ovs ? await ovs.datapathType() : 'netdev',
      physnets: new PhysnetTable(owned),
      view,
      apply: (ops, opts) => applyHostOps(ops, links, ovs, opts),
      submit: (ops, replan) => batcher.submit(ops, replan),
      log,
    });
    await plane.load();
    return plane;
  }

  /** OVS datapath type used for new bridges (`system` with the kernel module, else `netdev`). */
  get ovsDatapath(): 'system' | 'netdev' {
    return this.ctx.datapath;
  }

  /** Whether Open vSwitch can be used here. */
  get ovsAvailable(): boolean {
    return this.ctx.ovs !== null;
  }

  /** Rebuilds the physnet table from the marks on the host's bridges. */
  async load(): Promise<void> {
    this.ctx.physnets.load(await this.ctx.view.get(true));
  }

  /** Physnets set up on this host. */
  list(): PhysnetState[] {
    return this.ctx.physnets.list();
  }

  /** Ensures the tenks bridge and uplink of every mapping, for `cluster`. Idempotent. */
  setup(
    cluster: string,
    bridgeType: BridgeType,
    mappings: readonly PhysnetMapping[],
    o: CallOptions = {},
  ): Promise<HostChange> {
    return this.hostLock.run('host', () => setupPhysnets(this.ctx, cluster, bridgeType, mappings, o));
  }

  /** Removes the physnets of `cluster` (every cluster when empty) that no other cluster uses, and its node ports. */
  teardown(cluster: string, o: CallOptions = {}): Promise<HostChange> {
    return this.hostLock.run('host', () => teardownPhysnets(this.ctx, cluster, o));
  }

  check(spec: NodeSpec): Promise<FieldError[]> {
    return this.nics.check(spec);
  }

  verify(spec: NodeSpec): Promise<boolean> {
    return this.nics.verify(spec);
  }

  attach(spec: NodeSpec, o: CallOptions = {}): Promise<DomainNic[]> {
    return this.nics.attach(spec, o);
  }

  describe(spec: NodeSpec): NodeStatus['nics'] {
    return this.nics.describe(spec);
  }

  detach(spec: NodeSpec, o: CallOptions = {}): Promise<string[]> {
    return this.nics.detach(spec, o);
  }
}
