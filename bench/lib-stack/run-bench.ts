/** How a bench reports: progress on stderr, one JSON object as the last line of stdout. */
import { daemonWarnings } from './daemon.js';
import type { Stack } from './stack.js';

/** A progress printer to stderr (stdout's last line is the bench's JSON). */
export function sayer(tag: string): (line: string) => void {
  return (line) => {
    process.stderr.write(`${tag}: ${line}\n`);
  };
}

/**
 * Runs a bench's body on `stack`: a failure is recorded in `result` (with the daemons' last
 * output) and sets a failing exit status; the stack is always stopped and removed; `result` is
 * printed as the last line.
 */
export async function runBench(
  stack: Stack,
  say: (line: string) => void,
  result: Record<string, unknown>,
  body: () => Promise<void>,
): Promise<void> {
  let failed = false;
  try {
    await body();
  } catch (e) {
    failed = true;
    result.error = e instanceof Error ? e.message : String(e);
    say(`FAILED: ${String(result.error)}`);
    for (const d of stack.daemons) say(d.tail(1500));
    process.exitCode = 1;
  } finally {
    result.daemon_warnings = daemonWarnings(stack.daemons);
    await stack.close(say);
  }
  if (!failed) say('done: everything started was stopped and removed');
  console.log(JSON.stringify(result));
}
