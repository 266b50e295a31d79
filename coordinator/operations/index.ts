/** What the rest of the coordinator may use from coordinator/operations/. */
export { NatsEventSink } from './events.js';
export { cloudOf, type FlowDeps } from './flow-deps.js';
export { compileSpec, planCluster, pruneRefusalOf } from './plan-cluster.js';
export { previewEnrolment } from './preview-enrolment.js';
export { OperationRunner } from './runner.js';
