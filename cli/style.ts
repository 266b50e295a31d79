/** Terminal styling: ANSI colours only on a terminal, and never with NO_COLOR or TERM=dumb. */
import type { Env } from './config.js';

/** A stream that may be a terminal. */
export interface MaybeTty {
  isTTY?: boolean;
}

/** True when output to `stream` may use ANSI escapes (https://no-color.org). */
export function useColor(stream: MaybeTty, env: Env): boolean {
  if (stream.isTTY !== true) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return env.TERM !== 'dumb';
}

/** Colour names this CLI uses. */
export type Colour = 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold';

const CODES: Record<Colour, [number, number]> = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22],
};

/** Paints text, or returns it unchanged when colour is off. */
export type Paint = (colour: Colour, text: string) => string;

/** A painter that colours when `enabled`. */
export function painter(enabled: boolean): Paint {
  if (!enabled) return (_c, text) => text;
  return (c, text) => `\x1b[${CODES[c][0]}m${text}\x1b[${CODES[c][1]}m`;
}
