/** What every side (agent, coordinator, CLI) may use from common/. */
export * from './errors.js';
export * from './logger.js';
export * from './config.js';
export * from './config-files.js';
export * from './daemon-config.js';
export * from './sizes.js';
export * from './semaphore.js';
export * from './lifecycle.js';
export * from './daemon-main.js';
export * from './fence.js';
export * from './process-guard.js';
export * from './grpc/errors.js';
export * from './grpc/tls.js';
export * from './grpc/client.js';
export * from './grpc/agent-wire.js';
export * from './grpc/agent-client.js';
export * from './grpc/coordinator-wire.js';
export * from './grpc/coordinator-client.js';
// For the servers' mapping modules (agent/rpc, coordinator/rpc): the messages both sides share.
export { bmcInfoToPb, hostInfoToPb, nodeStatusToPb, physnetToPb } from './grpc/agent-messages.js';
export {
  bootModeName,
  bridgeTypeName,
  nodeEventTypeToPb,
  operationStateToPb,
  powerActionName,
  powerStateToPb,
} from './grpc/enums.js';
export * from './grpc/server.js';
export * from './grpc/serve.js';
export * from './grpc/reflection.js';
export { createWinstonLogger, type LoggerOptions } from './winston-logger.js';
export * from './spec/index.js';
export * from './nats/index.js';
export * from './ironic/index.js';
// The daemons' APIs in tenks terms: every type, and the one set the CLI reads.
export type * from './api/index.js';
export { TERMINAL_OPERATION_STATES } from './api/index.js';
