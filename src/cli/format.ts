/** Text output of the CLI: aligned tables for people, JSON lines and CSV for programs. */
export type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Columns padded to their widest cell; `maxWidth` cuts long free text with an ellipsis. */
export function formatTable(rows: readonly object[], columns: readonly string[], maxWidth = 60): string {
  const clip = (text: string) => (text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text);
  const body = rows.map((row) =>
    columns.map((column) => clip(cell((row as Row)[column]).replace(/\s+/g, " "))),
  );
  const widths = columns.map((column, i) =>
    Math.max(column.length, ...body.map((line) => line[i]?.length ?? 0)),
  );
  const render = (line: readonly string[]) =>
    line
      .map((text, i) => text.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [render(columns), render(widths.map((w) => "-".repeat(w))), ...body.map(render)].join("\n");
}

/** RFC 4180: fields with a comma, quote, CR or LF are quoted, quotes doubled, lines end in CRLF. */
export function csvField(value: unknown): string {
  const text = cell(value);
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
  return rows.map((row) => JSON.stringify(row)).join("\n") + (rows.length > 0 ? "\n" : "");
}
