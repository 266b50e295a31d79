/** Planning: desired (spec) vs observed (agents) → actions. What others may use from coordinator/planner. */
export { actionTarget, bmcFor, type Action, type NodeRequest, type ObservedNode, type Plan } from './types.js';
export { desiredLabels, FINGERPRINT_LABEL } from './labels.js';
export { plan, diffVm, diffBmc, keepers, type PlanInput } from './plan.js';
export { planPruneRefusal, pruneError, pruneMessage, prunePlanWarning, pruneRefusal } from './prune.js';
