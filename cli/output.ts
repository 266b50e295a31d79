import { stringify } from 'yaml';
import { usageError } from './usage.js';

/** Output formats of every command. */
export type OutputFormat = 'table' | 'json' | 'yaml';

export function parseOutputFormat(s: string | undefined): OutputFormat {
  if (s === undefined || s === 'table' || s === 'json' || s === 'yaml') return s ?? 'table';
  throw usageError(`unknown output format '${s}' (use table, json or yaml)`, '-o');
}

/** A column of a table: header and how to read a cell from a row. */
export interface Column<T> {
  header: string;
  cell: (row: T) => string | number | boolean;
}

/** Renders rows as an aligned text table. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => String(c.cell(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (values: readonly string[]): string =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** Writes `data` as JSON/YAML, or as the table `render` makes. stdout only carries the result. */
export function emit(format: OutputFormat, data: unknown, render: () => string): void {
  if (format === 'json') process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else if (format === 'yaml') process.stdout.write(stringify(data));
  else process.stdout.write(render());
}
