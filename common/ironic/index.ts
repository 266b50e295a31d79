/** The Ironic side of a node (shared by the coordinator's enrolment and tenksctl's exports). */
export * from './desired.js';
