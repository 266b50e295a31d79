import { TenksError, type FieldError } from '../../common/index.js';
import type { CallOptions, DomainNic, NicWiring, NodeSpec, NodeStatus } from '../compute/index.js';
import { plugInto, type HostOps } from './host-ops.js';
import type { HostView } from './host-view.js';
import { ipLine } from './ip-links.js';
import { aliasOf, externalIdsOf, marksFromAlias, ROLE, type Marks } from './marks.js';
import { names } from './names.js';
import type { PlaneContext } from './plane-context.js';
import type { PhysnetState } from './types.js';
import { vethPairLines } from './veth.js';

/** The marks of the switch-side port of NIC `nic` of node `spec` (the VM-side end has role vm-port). */
function switchPortMarks(ctx: PlaneContext, spec: NodeSpec, nic: number, physnet: string): Marks {
  return {
    role: ROLE.switchPort,
    agent: ctx.owner,
    cluster: spec.cluster,
    node: spec.name,
    nic: String(nic),
    physnet,
  };
}

/**
 * Node NICs: per NIC a veth pair whose switch-side end sits in the physnet's tenks bridge whether or
 * not the VM runs, and whose other end is the lower device of the VM's macvtap (passthrough).
 */
export class NodeNics implements NicWiring {
  constructor(private readonly ctx: PlaneContext) {}

  private physnet(name: string): PhysnetState {
    const st = this.ctx.physnets.get(name);
    if (!st) throw new TenksError('NOT_FOUND', `physnet '${name}' is not set up on host ${this.ctx.hostname}`);
    return st;
  }

  /** Field errors for NICs whose physnet is not set up here, or whose device names are taken. */
  async check(spec: NodeSpec): Promise<FieldError[]> {
    const { hostname, physnets } = this.ctx;
    const errors: FieldError[] = [];
    const v = await this.ctx.view.get();
    spec.nics.forEach((_n, i) => {
      for (const name of [names.switchPort(spec.name, i), names.vmPort(spec.name, i)]) {
        const l = v.links.get(name);
        const m = l ? marksFromAlias(l.alias) : null;
        if (l && m?.node !== spec.name)
          errors.push({
            field: `node.nics[${i}]`,
            message: `host ${hostname}: a device named '${name}' already exists and is not this node's`,
          });
      }
    });
    if (spec.nics.length > 36)
      errors.push({ field: 'node.nics', message: `at most 36 NICs per node (got ${spec.nics.length})` });
    spec.nics.forEach((n, i) => {
      if (!physnets.has(n.physnet))
        errors.push({
          field: `node.nics[${i}].physnet`,
          message: `physnet '${n.physnet}' is not set up on host ${hostname} (set up: ${
            physnets
              .list()
              .map((p) => p.physnet)
              .join(', ') || 'none'
          })`,
        });
    });
    return errors;
  }

  /** True when every NIC's veth pair exists, is up, and its switch port sits in the right bridge. */
  async verify(spec: NodeSpec): Promise<boolean> {
    const v = await this.ctx.view.get();
    return spec.nics.every((n, i) => {
      const st = this.ctx.physnets.get(n.physnet);
      if (!st) return false;
      const sp = v.links.get(names.switchPort(spec.name, i));
      const vp = v.links.get(names.vmPort(spec.name, i));
      if (sp?.link !== vp?.name || !sp || !vp || !sp.up || !vp.up) return false;
      return st.bridgeType === 'linuxbridge' ? sp.master === st.bridge : v.ovsPorts.get(sp.name)?.bridge === st.bridge;
    });
  }

  async attach(spec: NodeSpec, o: CallOptions = {}): Promise<DomainNic[]> {
    const { ops, nics } = this.planAttach(spec, await this.ctx.view.get());
    if (o.signal?.aborted) throw new TenksError('CANCELLED', 'cancelled');
    await this.ctx.submit(ops, async () => this.planAttach(spec, await this.ctx.view.get()).ops);
    await this.note(spec, true);
    return nics;
  }

  /** What wires the NICs of `spec` on the host as `v` has it, and how each attaches. */
  private planAttach(spec: NodeSpec, v: HostView): { ops: HostOps; nics: DomainNic[] } {
    const ops: HostOps = { ip: [], ovs: [] };
    const nics = spec.nics.map((n, i): DomainNic => {
      const st = this.physnet(n.physnet);
      const sp = names.switchPort(spec.name, i);
      const vp = names.vmPort(spec.name, i);
      const marks = switchPortMarks(this.ctx, spec, i, n.physnet);
      const veth = vethPairLines(v.links, {
        a: sp,
        b: vp,
        aliasA: aliasOf(marks),
        aliasB: aliasOf({ ...marks, role: ROLE.vmPort }),
        quiet: true,
      });
      if (veth.length > 0) {
        ops.ip.push(...veth);
        // The fresh link is in no bridge yet.
        if (st.bridgeType === 'linuxbridge') ops.ip.push(ipLine.master(sp, st.bridge));
        else {
          const at = v.ovsPorts.get(sp);
          if (at && at.bridge !== st.bridge) ops.ovs.push(['del-port', at.bridge, sp]);
          ops.ovs.push(['--may-exist', 'add-port', st.bridge, sp], ['set', 'port', sp, ...externalIdsOf(marks)]);
        }
      } else {
        if (!v.links.get(sp)?.up) ops.ip.push(ipLine.up(sp));
        if (!v.links.get(vp)?.up) ops.ip.push(ipLine.up(vp));
        plugInto(ops, v, st.bridgeType, st.bridge, sp, marks);
      }
      if (n.mac === null) throw new TenksError('INTERNAL', `NIC ${i} of '${spec.name}' has no MAC`);
      return { mac: n.mac, attach: { type: 'direct', device: vp }, alias: `nic${i}` };
    });
    return { ops, nics };
  }

  describe(spec: NodeSpec): NodeStatus['nics'] {
    return spec.nics.map((n, i) => {
      const st = this.ctx.physnets.get(n.physnet);
      return {
        physnet: n.physnet,
        mac: n.mac ?? '',
        bridge: st?.bridge ?? '',
        bridgeMac: st?.bridgeMac ?? '',
        switchPort: names.switchPort(spec.name, i),
      };
    });
  }

  async detach(spec: NodeSpec, _o: CallOptions = {}): Promise<string[]> {
    if (spec.nics.length === 0) return [];
    const { ops, removed } = this.planDetach(spec, await this.ctx.view.get());
    await this.ctx.submit(ops, async () => this.planDetach(spec, await this.ctx.view.get()).ops);
    await this.note(spec, false);
    return removed;
  }

  /** What removes the switch-side ports of `spec` from the host as `v` has it. */
  private planDetach(spec: NodeSpec, v: HostView): { ops: HostOps; removed: string[] } {
    const ops: Required<HostOps> = { ovsFirst: [], ip: [], ipDelete: [], ovs: [] };
    const removed: string[] = [];
    spec.nics.forEach((_n, i) => {
      const sp = names.switchPort(spec.name, i);
      const vp = names.vmPort(spec.name, i);
      const at = v.ovsPorts.get(sp);
      // OVS first, so a port never points at a deleted link.
      if (at) ops.ovsFirst.push(['--if-exists', 'del-port', at.bridge, sp]);
      if (v.links.has(sp)) ops.ipDelete.push(sp);
      else if (v.links.has(vp)) ops.ipDelete.push(vp);
      if (at || v.links.has(sp) || v.links.has(vp)) removed.push(`switch port ${sp}`);
    });
    return { ops, removed };
  }

  /**
   * Records in the cached host view what a successful attach/detach did, so the next caller does
   * not re-read every link of the host (which would make wiring N nodes cost O(N^2)).
   */
  private async note(spec: NodeSpec, attached: boolean): Promise<void> {
    const v = await this.ctx.view.held();
    if (!v) return;
    spec.nics.forEach((n, i) => {
      const sp = names.switchPort(spec.name, i);
      const vp = names.vmPort(spec.name, i);
      if (!attached) {
        v.links.delete(sp);
        v.links.delete(vp);
        v.ovsPorts.delete(sp);
        return;
      }
      const st = this.ctx.physnets.get(n.physnet);
      if (!st) return;
      // The marks attach() set, so a later check() of this node recognises its own ports.
      const marks = switchPortMarks(this.ctx, spec, i, n.physnet);
      const base = { kind: 'veth', mac: '', up: true, loopback: false };
      v.links.set(sp, {
        ...base,
        name: sp,
        alias: aliasOf(marks),
        link: vp,
        master: st.bridgeType === 'linuxbridge' ? st.bridge : null,
      });
      v.links.set(vp, { ...base, name: vp, alias: aliasOf({ ...marks, role: ROLE.vmPort }), link: sp, master: null });
      if (st.bridgeType === 'openvswitch')
        v.ovsPorts.set(sp, {
          row: { name: sp, externalIds: {}, tag: null, datapathType: '', ports: [] },
          bridge: st.bridge,
        });
    });
  }
}
