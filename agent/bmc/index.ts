/** The agent's BMC plane, as the rest of the agent sees it. */
export { BmcManager, type BmcManagerOptions, type BmcSettings, type BmcEndpoints } from './manager.js';
export type { BmcBackend, BmcBootDevice, BmcInventory, BmcPowerAction, FirmwareSupport } from './backend.js';
export { IpmiBmc } from './ipmi/bmc.js';
export { socketTransport, type BmcTransport } from './transport.js';
export type { IpmiListener } from './ipmi/server.js';
export type { BmcStore } from './store.js';
