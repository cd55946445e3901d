import { visibleOnPage } from "../domain/visible.js";

/** The report's smallest parts: escaping every value, and a table of escaped cells. */

/** Everything that reaches the page passes through here: audit values are free text from outside. */
export function escapeHtml(value: unknown): string {
  const text = value === undefined || value === null ? "" : String(value);
  // Control characters are shown as escapes, as the CLI's tables show them: a bidi override in a
  // note must not reorder what the reader sees, nor a C1 control hide in the page.
  return visibleOnPage(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface Column {
  header: string;
  /** A class for the column's <col> (its width) and cells. */
  col?: string;
  numeric?: boolean;
}

export function table(
  columns: readonly Column[],
  rows: readonly string[][],
  id: string,
  flagged: readonly string[][] = [],
): string {
  const cols = columns.map((c) => `<col${c.col ? ` class="${c.col}"` : ""}>`).join("");
  const th = columns
    .map(
      (c) =>
        `<th${c.numeric ? ' class="n"' : ""} scope="col">${escapeHtml(c.header).replace(/_/g, "_<wbr>")}</th>`,
    )
    .join("");
  const body = rows
    .map(
      (row) =>
        `<tr>${row.map((cell, i) => `<td${columns[i]?.numeric ? ' class="n"' : ""}>${cell}</td>`).join("")}</tr>`,
    )
    .join("\n");
  const flaggedBody = flagged
    .map(
      (row) =>
        `\n<tr class="unreadable">${row.map((cell, i) => `<td${columns[i]?.numeric ? ' class="n"' : ""}>${cell}</td>`).join("")}</tr>`,
    )
    .join("");
  return `<table id="${id}"><colgroup>${cols}</colgroup><thead><tr>${th}</tr></thead><tbody>\n${body}${flaggedBody}\n</tbody></table>`;
}
