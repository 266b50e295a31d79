import type { HostLinks, LinkInfo } from './ip-links.js';
import { marksFromAlias, marksFromExternalIds, type Marks } from './marks.js';
import type { OvsRow, OvsSwitch } from './ovs.js';
import type { BridgeType } from './types.js';

/** The host's links and OVS rows at one moment. */
export interface HostView {
  links: Map<string, LinkInfo>;
  ovsBridges: Map<string, OvsRow>;
  /** OVS port name → its row and bridge. */
  ovsPorts: Map<string, { row: OvsRow; bridge: string }>;
}

/** Reads the host's links and, where Open vSwitch runs, its bridges and ports. */
export async function readHostView(links: HostLinks, ovs: OvsSwitch | null): Promise<HostView> {
  const [linkList, ovsRows] = await Promise.all([
    links.list(),
    ovs ? ovs.bridgesAndPorts() : Promise.resolve({ bridges: [], ports: [] }),
  ]);
  const ovsBridges = ovsRows.bridges;
  const ovsPorts = new Map<string, { row: OvsRow; bridge: string }>();
  if (ovsBridges.length > 0) {
    const ports = new Map(ovsRows.ports.map((p) => [p.name, p]));
    for (const b of ovsBridges)
      for (const p of b.ports) {
        const row = ports.get(p);
        if (row) ovsPorts.set(p, { row, bridge: b.name });
      }
  }
  return {
    links: new Map(linkList.map((l) => [l.name, l])),
    ovsBridges: new Map(ovsBridges.map((b) => [b.name, b])),
    ovsPorts,
  };
}

/** The marks of tenks bridge `bridge` of the given type as the view has them, or null. */
export function bridgeMarks(v: HostView, bridgeType: BridgeType, bridge: string): Marks | null {
  return bridgeType === 'linuxbridge'
    ? marksFromAlias(v.links.get(bridge)?.alias)
    : marksFromExternalIds(v.ovsBridges.get(bridge)?.externalIds ?? {});
}

/**
 * One read of the host shared by the idempotence checks of concurrent callers for `ttlMs`: reading
 * every link of a host with thousands of ports is what would make wiring N nodes cost O(N^2).
 */
export class HostViewCache {
  private view: { at: number; value: Promise<HostView> } | null = null;

  constructor(
    private readonly read: () => Promise<HostView>,
    private readonly ttlMs: number,
  ) {}

  /** The host view, reused for `ttlMs` unless `fresh`. */
  get(fresh = false): Promise<HostView> {
    if (!fresh && this.view && Date.now() - this.view.at < this.ttlMs) return this.view.value;
    const value = this.read();
    this.view = { at: Date.now(), value };
    value.catch(() => {
      if (this.view?.value === value) this.view = null;
    });
    return value;
  }

  /** Forgets the view: the next {@link get} reads the host. */
  invalidate(): void {
    this.view = null;
  }

  /** The view held now, to record a change in; null when none is held or its read failed. */
  async held(): Promise<HostView | null> {
    if (!this.view) return null;
    return this.view.value.catch(() => null);
  }
}
