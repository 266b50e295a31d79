/** Running plans against agents. */
export { execute, resultOf, type ExecuteHooks } from './executor.js';
export { RETRY, withRetry, type RetryPolicy } from './retry.js';
