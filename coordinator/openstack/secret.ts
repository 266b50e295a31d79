/**
 * A password, token or application credential secret. It prints as `******` everywhere (string
 * conversion, JSON, util.inspect), so a config object can be logged or put in an error without
 * leaking it; only {@link Secret.reveal} gives the value, at the one place that sends it.
 */
import { inspect } from 'node:util';

const MASK = '******';

/** A secret string that does not show itself. */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The value, for the request that needs it. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}
