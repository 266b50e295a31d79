/** Planning: desired (spec) vs observed (agents) → actions. */
export * from './types.js';
export * from './labels.js';
export { plan, diffVm, diffBmc, keepers, type PlanInput } from './plan.js';
export {
  planPruneRefusal,
  pruneError,
  pruneMessage,
  prunePlanWarning,
  pruneRefusal,
  type PruneRefusal,
} from './prune.js';
