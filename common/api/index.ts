/** The daemons' APIs in tenks terms, as every side uses them (common/grpc maps them to the wire). */
export * from './agent.js';
export * from './coordinator.js';
