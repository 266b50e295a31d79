/** The scheduler: where new nodes go. Pure functions; what others may use from coordinator/scheduler. */
export { schedule } from './schedule.js';
export { nodeDemand } from './demand.js';
export type { HostInventory, NodeDemand, PlacedNode, ScheduleInput, ScheduleOptions, ScheduleResult } from './types.js';
