import type { HostView } from './host-view.js';
import { clustersOf, marksFromAlias, marksFromExternalIds, ROLE, type Marks } from './marks.js';
import type { BridgeType, PhysnetState } from './types.js';

function stateFrom(m: Marks, bridge: string, mac: string, bridgeType: BridgeType): PhysnetState {
  return {
    physnet: m.physnet ?? '',
    device: m.device ?? '',
    vlan: Number(m.vlan ?? 0),
    bridge,
    bridgeMac: mac,
    bridgeType,
    clusters: clustersOf(m),
  };
}

/** The physnets this agent set up on the host, read back from the marks on its bridges. */
export class PhysnetTable {
  private physnets = new Map<string, PhysnetState>();

  constructor(private readonly owned: (m: Marks | null) => m is Marks) {}

  /** Rebuilds the table from the bridges in `v`. */
  load(v: HostView): void {
    const physnets = new Map<string, PhysnetState>();
    for (const l of v.links.values()) {
      const m = marksFromAlias(l.alias);
      if (!this.owned(m) || m.role !== ROLE.bridge || l.kind !== 'bridge') continue;
      physnets.set(m.physnet ?? '', stateFrom(m, l.name, l.mac, 'linuxbridge'));
    }
    for (const b of v.ovsBridges.values()) {
      const m = marksFromExternalIds(b.externalIds);
      if (!this.owned(m) || m.role !== ROLE.bridge) continue;
      physnets.set(m.physnet ?? '', stateFrom(m, b.name, v.links.get(b.name)?.mac ?? '', 'openvswitch'));
    }
    physnets.delete('');
    this.physnets = physnets;
  }

  /** Every physnet, by name. */
  list(): PhysnetState[] {
    return [...this.physnets.values()].sort((a, b) => (a.physnet < b.physnet ? -1 : 1));
  }

  get(physnet: string): PhysnetState | undefined {
    return this.physnets.get(physnet);
  }

  has(physnet: string): boolean {
    return this.physnets.has(physnet);
  }

  /** Forgets a physnet that was torn down. */
  delete(physnet: string): void {
    this.physnets.delete(physnet);
  }
}
