/** tenksctl's logger: notices on stderr (through the current progress view), debug lines only with --debug. */
import type { LogFields, Logger } from '../common/index.js';

function line(level: string, message: string, fields: LogFields | undefined): string {
  const f = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  return `${level}: ${message}${f}`;
}

/** A Logger writing through `note` (one line per call): warnings and errors always, the rest with `debug`. */
export function cliLogger(note: (line: string) => void, debug: boolean, base: LogFields = {}): Logger {
  const out = (level: string, message: string, fields?: LogFields): void => {
    note(line(level, message, { ...base, ...fields }));
  };
  return {
    debug: (m, f) => {
      if (debug) out('debug', m, f);
    },
    info: (m, f) => {
      if (debug) out('info', m, f);
    },
    warn: (m, f) => {
      out('warning', m, f);
    },
    error: (m, f) => {
      out('error', m, f);
    },
    child: (fields) => cliLogger(note, debug, { ...base, ...fields }),
  };
}
