/** The agent's networking plane, as the rest of the agent sees it. */
export {
  NetworkPlane,
  type BridgeType,
  type PhysnetMapping,
  type PhysnetState,
  type HostChange,
  type SourceKind,
} from './network-plane.js';
export { IpLinks, ipLine, type LinkInfo } from './ip-links.js';
export { Ovs, type OvsRow } from './ovs.js';
export { names, ifName, ifNameProblem, hash36, IFNAME_MAX } from './names.js';
export { aliasOf, marksFromAlias, marksFromExternalIds, type Marks } from './marks.js';
