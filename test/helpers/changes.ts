/**
 * Lets a test wait for a state that fakes or callbacks reach asynchronously, instead of sleeping for
 * a guessed time: whatever the test may wait on calls {@link Changes.changed} when it changes, and
 * {@link Changes.until} resolves at the first change after which the condition holds.
 */
export class Changes {
  private readonly checks = new Set<() => void>();

  /** Something changed: re-checks every pending condition. */
  readonly changed = (): void => {
    for (const check of [...this.checks]) check();
  };

  /**
   * Resolves once `cond()` holds (at once when it already does); rejects after `timeoutMs`, naming
   * `what`. Keep the deadline below mocha's timeout so a failure says what did not happen.
   */
  until(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        this.checks.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.checks.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.checks.add(check);
    });
  }
}
