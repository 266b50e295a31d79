/** Runs a program to its end. */
import { hostOutput } from '../../test/helpers/host-exec.js';

/** Runs a program; resolves with stdout, rejects naming it with its stderr. */
export function run(file: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return hostOutput(file, args, timeoutMs);
}
