/** NATS plumbing shared by the agent, the coordinator and tenksctl. */
export * from './names.js';
export * from './config.js';
export * from './connect.js';
export * from './heartbeat.js';
export * from './events.js';
export * from './json.js';
