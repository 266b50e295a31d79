/**
 * Errors in how tenksctl was called: an unknown command, a missing or extra argument, a malformed
 * flag. They are INVALID_SPEC, exit status 2 ("invalid input or spec" in the README's exit codes),
 * like a bad spec; their hint points at --help, not at spec fields to fix.
 */
import { TenksError, type PowerAction } from '../common/index.js';

/** The hint of every usage error. */
export const USAGE_HINT = 'see tenksctl --help';

/** A usage error; `field` names the argument or flag (`-o json` shows it). */
export function usageError(message: string, field?: string): TenksError {
  return new TenksError('INVALID_SPEC', message, { hint: USAGE_HINT, ...(field === undefined ? {} : { field }) });
}

/** Refuses arguments past the first `allowed` ones of `command`. */
export function noMoreArgs(args: readonly string[], allowed: number, command: string): void {
  if (args.length > allowed) throw usageError(`unexpected argument '${args[allowed] ?? ''}' for ${command}`, 'ARGS');
}

/** Power actions as tenksctl spells them (`power ACTION NAME`), in the order --help lists them. */
const POWER_WORDS: ReadonlyMap<string, PowerAction> = new Map([
  ['on', 'on'],
  ['off', 'off'],
  ['soft-off', 'soft_off'],
  ['reset', 'reset'],
  ['nmi', 'nmi'],
  ['cycle', 'cycle'],
]);

/** The power action `word` names (`soft-off` → `soft_off`). */
export function parsePowerAction(word: string | undefined): PowerAction {
  const action = word === undefined ? undefined : POWER_WORDS.get(word);
  if (action === undefined) throw usageError(`power needs one of ${[...POWER_WORDS.keys()].join(', ')}`, 'ACTION');
  return action;
}
