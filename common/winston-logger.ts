import winston from 'winston';
import type { LogFields, Logger } from './logger.js';

/** Where and how a process logs. */
export interface LoggerOptions {
  level: 'debug' | 'info' | 'warn' | 'error';
  /** `json` for daemons (journald), `text` for humans. */
  format: 'json' | 'text';
  /** `stdout` for daemons; `stderr` for tenksctl so stdout stays clean. */
  stream: 'stdout' | 'stderr';
}

const SECRET_KEY = /pass(word)?|secret|token|key$/i;

/** Replaces values of secret-looking keys, as a last line of defence: callers must not log secrets. */
function redact(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return fields;
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_KEY.test(k) ? '***' : v;
  return out;
}

function wrap(w: winston.Logger): Logger {
  return {
    debug: (m, f) => w.debug(m, redact(f)),
    info: (m, f) => w.info(m, redact(f)),
    warn: (m, f) => w.warn(m, redact(f)),
    error: (m, f) => w.error(m, redact(f)),
    child: (f) => wrap(w.child(redact(f) ?? {})),
  };
}

/** Builds the winston logger. Only `main.ts` files call this. */
export function createWinstonLogger(options: LoggerOptions): Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss' }),
          winston.format.printf((info) => {
            const { level, message, timestamp, ...rest } = info;
            const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
            return `${String(timestamp)} ${level} ${String(message)}${extra}`;
          }),
        );
  const w = winston.createLogger({
    level: options.level,
    format,
    // Console transport with every level on the chosen stream (stderr for tenksctl keeps stdout clean).
    transports: [
      // winston's typings declare Console apart from TransportStream, though it extends it.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
      new winston.transports.Console(
        options.stream === 'stderr'
          ? { stderrLevels: ['error', 'warn', 'info', 'debug'] }
          : { stderrLevels: [], consoleWarnLevels: [] },
      ),
    ],
  });
  return wrap(w);
}
