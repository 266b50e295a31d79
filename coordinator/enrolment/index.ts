/** What the rest of the coordinator may use from coordinator/enrolment/: Ironic nodes and Nova flavors of a cluster. */
export { checkCloudAccess, cloudNeeds, wantsOpenStack } from './cloud-access.js';
export { isNoop } from './diff.js';
export { describeFlavorChange, desiredFlavors, diffFlavors, FLAVOR_MARK } from './flavors.js';
export {
  deleteFlavors,
  enrolCluster,
  enrolledNodes,
  planEnrolment,
  unenrolNodes,
  type StageProgress,
} from './stage.js';
