/** Host tools as the agent's adapters run them: one way to spawn a process, one error mapping. */
export { runCommand, CommandError } from './command.js';
