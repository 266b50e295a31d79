/** Which kind of switch the tenks bridges of a physnet are. */
export type BridgeType = 'openvswitch' | 'linuxbridge';

/** A physnet mapping of this host: the source device, and an optional VLAN on it (0: none). */
export interface PhysnetMapping {
  physnet: string;
  device: string;
  vlan: number;
}

/** A physnet as set up on this host. */
export interface PhysnetState extends PhysnetMapping {
  bridge: string;
  bridgeMac: string;
  bridgeType: BridgeType;
  clusters: string[];
}

/** What the source device of a physnet is. */
export type SourceKind = 'interface' | 'linuxbridge' | 'ovsbridge';

/** Result of a host setup or teardown. */
export interface HostChange {
  changed: boolean;
  changes: string[];
}
