/**
 * The report's Population section (docs/audit.md, "The ledger"): the handshakes requested in the
 * period as the ledger holds them, by last known state and by verdict, the escaped ones named,
 * and how complete the ledger's view of the period is.
 */
import type { LedgerCoverage, ReadLedgerRecord } from "../ports/ledger.js";
import type { ReadRun } from "../ports/records.js";
import { escapeHtml, table } from "./html-parts.js";

/** AWS lists a closed handshake for 30 days: a longer gap between full listings may hide some. */
const LISTING_MEMORY_MS = 30 * 86_400_000;

function counted(records: readonly ReadLedgerRecord[], key: (r: ReadLedgerRecord) => string): string[][] {
  const counts = new Map<string, number>();
  for (const record of records) counts.set(key(record), (counts.get(key(record)) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => [`<span class="word mono">${escapeHtml(name)}</span>`, String(count)]);
}

/** What the ledger records of its own coverage, and the last full listing before the period. */
export interface LedgerCoverageFacts {
  /** The ledger's first full listing of the organization; undefined while none is recorded. */
  coverage?: LedgerCoverage;
  /** The last full listing before the period that the ledger covers; undefined: none found. */
  before?: ReadRun;
}

/**
 * A run that listed the whole organization and entered it in the ledger: a sweep that finished
 * without failing (a real-time run sees one handshake; a running one may yet fail), started once
 * the ledger covered the organization (an earlier run, of a janitor without the ledger, entered
 * nothing).
 */
export function isFullListing(run: ReadRun, coverage: LedgerCoverage | undefined): boolean {
  if (coverage === undefined || run.startedAt === undefined) return false;
  if (run.trigger === "event" || run.status === "FAILED" || run.status === "RUNNING") return false;
  return run.runId === coverage.runId || run.startedAt >= coverage.at;
}

/**
 * How complete the ledger's view of the period is: from when it covers the organization, the last
 * full listing before the period, and every interval longer than AWS's 30 days with no full
 * listing, from that listing (or the start of the period) to the end of the period.
 */
export function completeness(
  runs: readonly ReadRun[],
  since: Date,
  until: Date,
  { coverage, before }: LedgerCoverageFacts = {},
): string[] {
  if (coverage === undefined) {
    return [
      "The ledger records no full listing of the organization: it may miss handshakes of the whole period.",
    ];
  }
  const listings = runs
    .filter((run) => isFullListing(run, coverage))
    .map((run) => Date.parse(run.startedAt ?? ""))
    .sort((a, b) => a - b);
  const lines = [
    `The ledger covers the organization from ${coverage.at}, its first full listing (run ${coverage.runId}).`,
  ];
  const coveredBefore = Date.parse(coverage.at) < since.getTime();
  if (before?.startedAt !== undefined) {
    lines.push(`The last full listing before the period: ${before.startedAt} (run ${before.runId}).`);
  } else if (coveredBefore) {
    lines.push("No full listing before the period is on record.");
  }
  const start = before?.startedAt === undefined ? since.getTime() : Date.parse(before.startedAt);
  const points = [start, ...listings, until.getTime()];
  const gaps: string[] = [];
  for (let i = 1; i < points.length; i += 1) {
    const from = points[i - 1] ?? 0;
    const to = points[i] ?? 0;
    if (to - from > LISTING_MEMORY_MS)
      gaps.push(`${new Date(from).toISOString()} to ${new Date(to).toISOString()}`);
  }
  lines.push(
    gaps.length === 0
      ? "No interval of the period went more than 30 days without a full listing: every handshake AWS listed in it was seen."
      : `Intervals longer than 30 days without a full listing, in which handshakes opened and closed may be missing: ${gaps.join("; ")}.`,
  );
  return lines;
}

export function populationSection(
  records: readonly ReadLedgerRecord[],
  runs: readonly ReadRun[],
  since: Date,
  until: Date,
  facts: LedgerCoverageFacts = {},
): string {
  const escaped = records.filter((r) => r.escaped === true);
  const flagged = records.filter((r) => r.unreadable !== undefined || (r.flags?.length ?? 0) > 0);
  const countColumns = (header: string) => [{ header }, { header: "handshakes", numeric: true }];
  const escapedRows = escaped.map((r) => [
    `<span class="mono">${escapeHtml(r.handshakeId)}</span>`,
    `${escapeHtml(r.action)}<span class="sub">${escapeHtml(r.target)}</span>`,
    `<span class="word mono">${escapeHtml(r.state)}</span>`,
    `<span class="mono">${escapeHtml(r.ruleId)}</span>`,
    escapeHtml(r.requestedAt),
  ]);
  return `<h2 id="population">Population</h2>
<p class="meta">${records.length} handshakes requested in the period, as the ledger holds them (kept after AWS stops listing them); ${escaped.length} escaped: a rule would have selected them, and their invitee closed them before the janitor acted.${flagged.length === 0 ? "" : ` ${flagged.length} entries lack fields or could not be read in full.`}</p>
${completeness(runs, since, until, facts)
  .map((line) => `<p class="meta" data-completeness>${escapeHtml(line)}</p>`)
  .join("\n")}
<h3>By last known state</h3>
${table(
  countColumns("state"),
  counted(records, (r) => r.state ?? "unreadable"),
  "population-state",
)}
<h3>By verdict</h3>
${table(
  countColumns("verdict"),
  counted(records, (r) => r.verdict ?? "unreadable"),
  "population-verdict",
)}
<h3>Escaped</h3>
${escaped.length === 0 ? '<p class="meta">None.</p>' : table([{ header: "handshake" }, { header: "action and target" }, { header: "state" }, { header: "rule" }, { header: "requested" }], escapedRows, "population-escaped")}`;
}
