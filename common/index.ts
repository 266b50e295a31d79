/** What every side (agent, coordinator, CLI) may use from common/. */
export * from './errors.js';
export * from './logger.js';
export * from './config.js';
export * from './sizes.js';
export * from './semaphore.js';
export * from './lifecycle.js';
export * from './grpc/errors.js';
export * from './grpc/tls.js';
export * from './grpc/client.js';
export * from './grpc/agent-client.js';
export * from './grpc/coordinator-client.js';
export * from './grpc/server.js';
export * from './grpc/serve.js';
export * from './grpc/reflection.js';
export { createWinstonLogger, type LoggerOptions } from './winston-logger.js';
export * from './spec/index.js';
export * from './nats/index.js';
export * from './ironic/index.js';
