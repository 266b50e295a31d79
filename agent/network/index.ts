/** The agent's networking plane, as the rest of the agent sees it. */
export { NetworkPlane } from './network-plane.js';
export type { BridgeType, PhysnetState } from './types.js';
export { IpLinks } from './ip-links.js';
export { Ovs } from './ovs.js';
