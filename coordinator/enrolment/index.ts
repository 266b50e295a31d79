/** Enrolment in Ironic and Nova flavors. */
export * from './cloud-access.js';
export * from './diff.js';
export * from './enrol.js';
export * from './flavors.js';
export * from './stage.js';
