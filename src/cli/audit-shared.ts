import { DEFAULT_QUERY_WINDOW_DAYS } from "../aws/audit/index.js";
import type { Environment } from "../settings.js";
import { parseTableSettings, type Settings } from "../settings.js";
import { type OptionTable, parseDate } from "./args.js";
import { formatCsv, formatJsonLines, formatTable, type Row } from "./format.js";
import type { CliIo } from "./io.js";

/** What the audit commands share: the period options and their reading, the table's settings. */

export const TABLE_ENV =
  "AUDIT_TABLE_NAME (required), AWS_REGION, the SDK's credential chain, AWS_ENDPOINT_URL_DYNAMODB";

export const PERIOD_OPTIONS = {
  since: {
    type: "string",
    value: "D",
    description: `start of the period, included (default: ${DEFAULT_QUERY_WINDOW_DAYS} days before --until)`,
  },
  until: { type: "string", value: "D", description: "end of the period, excluded (default: now)" },
} as const satisfies OptionTable;

export const PERIOD_NOTE =
  "D is a date, YYYY-MM-DD (its midnight UTC), or an ISO-8601 instant with a time zone. The period includes --since and excludes --until: --until 2026-04-01 ends with March.";

/**
 * The period every period command shares: --until defaults to now, --since to
 * DEFAULT_QUERY_WINDOW_DAYS before --until; --since is included, --until excluded.
 * Undefined when a date is invalid (the problem is in `issues`).
 */
export function period(
  args: { since?: string | undefined; until?: string | undefined },
  issues: string[],
): { since: Date; until: Date } | undefined {
  const before = issues.length;
  const sinceArg = parseDate("--since", args.since, issues);
  const untilArg = parseDate("--until", args.until, issues);
  if (issues.length > before) return undefined;
  const until = untilArg ?? new Date();
  const since = sinceArg ?? new Date(until.getTime() - DEFAULT_QUERY_WINDOW_DAYS * 86_400_000);
  if (since > until) {
    issues.push(
      untilArg
        ? "--until: must not be before --since"
        : `--since: ${since.toISOString()} is after now, the default --until`,
    );
    return undefined;
  }
  return { since, until };
}

/** The settings, with every problem of theirs (a missing AUDIT_TABLE_NAME too) added to `issues`. */
export function settingsOrIssues(env: Environment | undefined, issues: string[]): Settings {
  const parsed = parseTableSettings(env);
  issues.push(...parsed.issues);
  return parsed.settings;
}

export const FORMATS = ["table", "json", "csv"] as const;

/** The column that flags an item read only in part. */
export const UNREADABLE = "unreadable";

export function render(
  rows: Row[],
  format: (typeof FORMATS)[number],
  all: readonly string[],
  table: readonly string[],
  empty: string,
  wide = false,
): string {
  if (format === "json") return formatJsonLines(rows).trimEnd();
  // Every CSV record ends in CRLF, the last one too (RFC 4180); trimming it would leave the
  // printer's bare LF glued to the last field.
  if (format === "csv") return formatCsv(rows, [...all, UNREADABLE]);
  if (rows.length === 0) return empty;
  return formatTable(
    rows,
    rows.some(isUnreadable) ? [...table, UNREADABLE] : table,
    wide ? Number.POSITIVE_INFINITY : undefined,
  );
}

export function isUnreadable(row: { unreadable?: unknown }): boolean {
  return row.unreadable !== undefined;
}

/**
 * Readers show an item they cannot read in full, flagged, and finish (exit 0); the count goes to
 * stderr, so it is seen without disturbing the output.
 */
export function warnUnreadable(io: CliIo, count: number): void {
  if (count === 0) return;
  const items = count === 1 ? "1 audit item" : `${count} audit items`;
  io.err(
    `warning: ${items} could not be read in full, shown flagged '${UNREADABLE}'; audit verify names what is wrong\n`,
  );
}
