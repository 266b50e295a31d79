/** `tenksctl validate|plan|apply|delete|teardown|get|describe|power|watch|info|cancel|export`: the coordinator side. */
import type { CoordinatorContext, CoordinatorFlags } from './coordinator-context.js';
import { runExport } from './export.js';
import { get, info } from './get-commands.js';
import { describe, power } from './node-commands.js';
import { cancel, deleteCluster, teardown, watch } from './operation-commands.js';
import { apply, needFiles, plan, validate } from './spec-commands.js';
import { usageError } from './usage.js';

type Command = (ctx: CoordinatorContext, args: string[], flags: CoordinatorFlags) => Promise<number>;

/** Each coordinator command; it resolves with the exit status (errors are thrown). */
const COMMANDS = {
  validate: (ctx, _args, flags) => validate(ctx, needFiles(flags, 'validate')),
  plan: (ctx, _args, flags) => plan(ctx, needFiles(flags, 'plan'), flags.prune === true),
  apply: (ctx, _args, flags) => apply(ctx, needFiles(flags, 'apply'), flags.prune === true),
  delete: deleteCluster,
  teardown,
  get,
  describe,
  power,
  watch: (ctx, args) => watch(ctx, args),
  info: (ctx) => info(ctx),
  cancel: (ctx, args) => cancel(ctx, args),
  export: runExport,
} satisfies Record<string, Command>;

/** Coordinator commands, for the dispatcher in main.ts. */
export const COORDINATOR_COMMANDS = Object.keys(COMMANDS) as readonly (keyof typeof COMMANDS)[];

/** Runs one coordinator command; resolves with the exit status (errors are thrown). */
export async function runCoordinatorCommand(
  ctx: CoordinatorContext,
  command: string,
  args: string[],
  flags: CoordinatorFlags,
): Promise<number> {
  if (!Object.hasOwn(COMMANDS, command)) throw usageError(`unknown command '${command}'`, 'COMMAND');
  return COMMANDS[command as keyof typeof COMMANDS](ctx, args, flags);
}
