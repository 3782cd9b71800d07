/** Output: human tables by default, JSON with --json (one document, or NDJSON for streams). */

export type Row = Record<string, unknown>;

const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** A plain text table: a header row, then one row per item, columns padded to their widest cell. */
export function table(rows: Row[], columns: string[]): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((r) => columns.map((c) => cell(r[c]).replace(/\s+/g, ' ')));
  const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((r) => r[i].length))));
  const line = (values: string[]) => values.map((v, i) => (v.length > widths[i] ? `${v.slice(0, widths[i] - 1)}…` : v.padEnd(widths[i]))).join('  ').trimEnd();
  return `${[line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}

export function print(json: boolean | undefined, value: unknown, human: () => string) {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : human());
}
