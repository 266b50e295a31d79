/** What every side (agent, coordinator, CLI) may use from common/. */
export {
  ErrorCode,
  type FieldError,
  grpcStatusOf,
  invalidSpec,
  isErrorCode,
  isTenksError,
  TenksError,
  toTenksError,
} from './errors.js';
export * from './logger.js';
export { compile, parseYaml, readYamlFile, zodErrors } from './config.js';
export {
  checkWritableDir,
  configError,
  type ConfigProblem,
  readConfigFile,
  readTlsIdentity,
  type TlsIdentity,
} from './config-files.js';
export * from './daemon-config.js';
export * from './sizes.js';
export * from './semaphore.js';
export { Lifecycle, onShutdownSignals, runDaemonMain } from './lifecycle.js';
export { runDaemon } from './daemon-main.js';
export * from './fence.js';
export { EXIT_UNCAUGHT } from './process-guard.js';
export * from './grpc/errors.js';
export {
  clientCredentials,
  HOST_PORT,
  readTls,
  silenceIpServerNameWarning,
  splitHostPort,
  type TlsFiles,
} from './grpc/tls.js';
export { channelOptions, dialCredentials, type DialOptions, unaryCall } from './grpc/client.js';
export * from './grpc/agent-wire.js';
export * from './grpc/agent-client.js';
export { CoordinatorWire } from './grpc/coordinator-wire.js';
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
export { implementation, serverStream, unary } from './grpc/server.js';
export { chooseServerCredentials, type GrpcServer, startGrpcServer } from './grpc/serve.js';
export {} from './grpc/reflection.js';
export { createWinstonLogger } from './winston-logger.js';
export * from './spec/index.js';
export * from './nats/index.js';
export * from './ironic/index.js';
// The daemons' APIs in tenks terms: every type, and the one set the CLI reads.
export type * from './api/index.js';
export { TERMINAL_OPERATION_STATES } from './api/index.js';
