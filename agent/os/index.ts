/** Host tools as the agent's adapters run them: one way to spawn a process, one error mapping. */
export { runCommand, CommandError, type CommandOptions } from './command.js';
