/** The agent's BMC plane, as the rest of the agent sees it. */
export { BmcManager, type BmcSettings, type BmcEndpoints } from './manager.js';
export type { BmcTransport } from './transport.js';
export type { IpmiListener } from './ipmi/server.js';
export type { BmcStore } from './store.js';
