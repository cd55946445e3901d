/** An exemption's `until`: how it is written in a config, and the last instant it protects. */
import { custom } from "../domain/check.js";

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_PATTERN = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const UNTIL_PROBLEM = "must be a date (YYYY-MM-DD) or an ISO-8601 date-time with a time zone";

function isCalendarDate(text: string): boolean {
  const match = DATE_PATTERN.exec(text);
  if (!match) return false;
  const [, y, m, d] = match.map(Number) as [number, number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** `until` as written: a calendar date `YYYY-MM-DD`, or a date-time normalized to UTC ISO-8601. */
function normalizeUntil(value: string | Date): string | undefined {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return undefined;
    // A YAML 1.1 reader turns a bare date into midnight UTC; read that back as the date it was.
    const iso = value.toISOString();
    return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso;
  }
  if (DATE_PATTERN.test(value)) return isCalendarDate(value) ? value : undefined;
  const match = DATE_TIME_PATTERN.exec(value);
  if (!match || !isCalendarDate(match[1] ?? "")) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

/** A string or a Date (a YAML reader's), normalized; anything else is refused with one message. */
export const untilSchema = custom<string, string | Date>((input, report) => {
  const until = typeof input === "string" || input instanceof Date ? normalizeUntil(input) : undefined;
  if (until === undefined) report.issue({ code: "custom", input, message: UNTIL_PROBLEM });
  return until ?? "";
});

/** The last instant an exemption protects: the end of the `until` day (UTC), or the `until` instant. */
export function exemptionEnd(exemption: { until?: string | undefined }): Date | undefined {
  if (exemption.until === undefined) return undefined;
  const date = DATE_PATTERN.exec(exemption.until);
  if (!date) return new Date(exemption.until);
  const [, y, m, d] = date.map(Number) as [number, number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1) - 1);
}

export function isExemptionActive(exemption: { until?: string | undefined }, now: Date): boolean {
  const end = exemptionEnd(exemption);
  return end === undefined || now.getTime() <= end.getTime();
}
