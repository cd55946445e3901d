import { jsonText, visible } from "../domain/visible.js";

export { visible };

/** Text output of the CLI: aligned tables for people, JSON lines and CSV for programs. */
export type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * Columns padded to their widest cell; `maxWidth` cuts long free text with an ellipsis. Runs of
 * whitespace (line breaks and tabs too) become one space, other control characters are `visible`.
 */
export function formatTable(rows: readonly object[], columns: readonly string[], maxWidth = 60): string {
  const clip = (text: string) => (text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text);
  const body = rows.map((row) =>
    columns.map((column) => clip(visible(cell((row as Row)[column]).replace(/\s+/g, " ")))),
  );
  const widths = columns.map((column, i) =>
    Math.max(column.length, ...body.map((line) => line[i]?.length ?? 0)),
  );
  const render = (line: readonly string[]) =>
    line
      .map((text, i) => text.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [render(columns.map(visible)), render(widths.map((w) => "-".repeat(w))), ...body.map(render)].join(
    "\n",
  );
}

/**
 * What a spreadsheet evaluates: a field that begins with = + - @ tab or CR (OWASP's CSV injection
 * list). Leading quotes are looked through, so a value that already begins with `'=` gets one more
 * and a reader that strips one `'` from fields matching /^'+[=+\-@\t\r]/ gets every value back.
 */
const FORMULA_START = /^'*[=+\-@\t\r]/;
/**
 * A plain decimal number, negative or in exponent form, is read as that number and nothing else:
 * it stays as it is. (The audit holds no negative numbers; counts and durations are never below 0.)
 */
const PLAIN_NUMBER = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;

/**
 * One field of RFC 4180 CSV, safe to open in a spreadsheet: a field that would begin a formula is
 * neutralised by a leading `'`, then fields with a comma, quote, CR or LF are quoted, quotes
 * doubled. Lines end in CRLF (formatCsv).
 */
export function csvField(value: unknown): string {
  const raw = cell(value);
  const text = FORMULA_START.test(raw) && !PLAIN_NUMBER.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function formatCsv(rows: readonly Row[], columns: readonly string[]): string {
  const lines = [
    columns.map(csvField).join(","),
    ...rows.map((row) => columns.map((c) => csvField(row[c])).join(",")),
  ];
  return `${lines.join("\r\n")}\r\n`;
}

export function formatJsonLines(rows: readonly Row[]): string {
  return rows.map((row) => jsonText(row)).join("\n") + (rows.length > 0 ? "\n" : "");
}
