import { OUTCOMES, type Outcome } from "../domain/outcomes.js";
import type { ReadLedgerRecord } from "../ports/ledger.js";
import type { StoredPlan } from "../ports/plans.js";
import type { AuditAction, ReadAction, ReadRun, RunRecord } from "../ports/records.js";
import { type ConfigOnRecord, configSection } from "./config-section.js";
import { escapeHtml, table } from "./html-parts.js";
import { plansSection } from "./plans-section.js";
import { type LedgerCoverageFacts, populationSection } from "./population-section.js";

export type { ConfigOnRecord } from "./config-section.js";
export { escapeHtml } from "./html-parts.js";

export interface ReportInput {
  /** First instant of the period, included. */
  since: Date;
  /** End of the period, excluded: an action at exactly this instant is not in the report. */
  until: Date;
  generatedAt: Date;
  tableName: string;
  /** Items that could not be read in full come flagged and are listed flagged. */
  actions: readonly ReadAction[];
  runs: readonly ReadRun[];
  /**
   * The configs on record by hash (AuditReader.getConfig), for the hashes of `runs`. A hash
   * absent from the map is reported as not on record.
   */
  configs?: ReadonlyMap<string, ConfigOnRecord>;
  /**
   * What `audit verify` found for the period, shown first: one line per problem (none: intact).
   * Undefined: not verified, and the report says so.
   */
  verdict?: { runs: number; items: number; problems: readonly string[] };
  /** The plans the period's items name (four eyes, docs/approval.md), as stored. */
  plans?: readonly StoredPlan[];
  /** The handshake ledger's records of the handshakes requested in the period; absent, no Population section. */
  population?: readonly ReadLedgerRecord[];
  /** What the ledger records of its coverage, for the Population section's completeness statement. */
  coverage?: LedgerCoverageFacts;
}

/** The integrity verdict, at the top: a report of a tampered period must not look clean. */
function verdictBlock(verdict: ReportInput["verdict"]): string {
  if (verdict === undefined) {
    return `<div id="verdict" class="verdict unverified" data-verdict="unverified"><b>Not verified.</b> Run <code>audit verify</code> for this period.</div>`;
  }
  if (verdict.problems.length === 0) {
    return `<div id="verdict" class="verdict intact" data-verdict="intact"><b>Integrity: intact.</b> ${verdict.runs} runs and ${verdict.items} action items checked by <code>audit verify</code>: chains, seals, keys and counts.</div>`;
  }
  const lines = verdict.problems.map((line) => `<li>${escapeHtml(line)}</li>`).join("");
  return `<div id="verdict" class="verdict tampered" data-verdict="problems"><b>Integrity: ${verdict.problems.length} problems found.</b> The figures below come from a table that does not verify; do not rely on them until these are explained:<ul>${lines}</ul></div>`;
}

/**
 * The report's period: from `since` included to `until` excluded. A time that does not read as
 * one (an altered item) is kept: the store found it in the range, and the report must show it.
 */
export function inPeriod(iso: string | undefined, since: Date, until: Date): boolean {
  // An item whose time cannot be read stays: the store found it in the range.
  if (iso === undefined) return true;
  const t = Date.parse(iso);
  return !(t < since.getTime()) && !(t >= until.getTime());
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

/** Every UTC day from since's to until's (inclusive of a partial last day), as YYYY-MM-DD. */
export function daysBetween(since: Date, until: Date): string[] {
  const days: string[] = [];
  const start = Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate());
  // The period excludes until, so an until at midnight exactly ends the day before:
  // `--until 2026-04-01` means through March 31.
  const end = until.getTime() - 1;
  for (let t = start; t <= end; t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

export function cancellationsPerDay(actions: readonly AuditAction[]): Map<string, number> {
  const perDay = new Map<string, number>();
  for (const action of actions) {
    if (action.outcome === "CANCELED") perDay.set(day(action.at), (perDay.get(day(action.at)) ?? 0) + 1);
  }
  return perDay;
}

/**
 * Screen: at most 1200 px of content, so 1280 px shows everything without a horizontal scrollbar.
 * Print: A4 portrait, the same fixed table layout at a smaller size. Ids and timestamps are
 * monospace and never wrap (their columns are sized in `ch` for them); free text (reason, error,
 * target, actor, note) wraps at spaces, or anywhere when one word is longer than its column.
 */
const CSS = `
:root{--mono:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;margin:2rem auto;max-width:1200px;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
h3{font-size:.95rem;margin:1rem 0 .25rem}
.meta{color:#57606a;margin:0}.period{margin:.25rem 0}
.note{color:#57606a;margin:.25rem 0 .5rem;font-size:12.5px}
.warn{color:#9a6700;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.5rem}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.4rem .7rem;min-width:7rem}
.card b{display:block;font-size:1.3rem}
.card.CANCELED{border-color:#cf222e}.card.CANCELED b{color:#cf222e}
.card.dry{border-style:dashed}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:12px;margin-bottom:.5rem}
th,td{border-bottom:1px solid #eaeef2;padding:.2rem .3rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa;position:sticky;top:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.id,.ts,.mono{font-family:var(--mono);font-size:11px}
.id,.ts{white-space:nowrap;display:block}
.id.long{white-space:normal}
.nw,.word{white-space:nowrap}
col.w-key{font-family:var(--mono);font-size:11px;width:calc(37ch + .6rem)}
col.w-outcome{font-family:var(--mono);font-size:11px;width:calc(19ch + .6rem)}
col.w-status{font-family:var(--mono);font-size:11px;width:calc(11ch + .6rem)}
col.w-hash{font-family:var(--mono);font-size:11px;width:calc(13ch + .6rem)}
col.w-num{width:4.5rem}col.w-rule{width:26%}col.w-narrow{width:4rem}col.w-text{width:28%}
h3 .mono{font-size:inherit}
.count{display:block;white-space:nowrap;font-family:var(--mono);font-size:11px}
.outcome{font-weight:600;display:block}.outcome.CANCELED{color:#cf222e}.outcome.FAILED{color:#9a6700}
.tag{display:inline-block;border:1px dashed #8c959f;border-radius:3px;padding:0 .25rem;font-size:10.5px}
.sub{display:block;color:#57606a}
.err{display:block;color:#9a6700}
svg{display:block;max-width:100%;height:auto}
svg .bar{fill:#cf222e}svg text{font-size:10px;fill:#57606a}svg .axis{stroke:#8c959f}
footer{margin-top:2rem;color:#57606a;font-size:12px}
tr.unreadable td{background:#fff8c5}
@page{size:A4;margin:12mm 10mm}
@media print{
body{margin:0;max-width:none;padding:0;font-size:9pt}
h1{font-size:14pt}h2{font-size:11pt;margin-top:1rem;break-after:avoid}h3{break-after:avoid}
table{font-size:7.5pt}
.id,.ts,.mono,.count,col.w-key,col.w-outcome,col.w-status,col.w-hash{font-size:7pt}
th{position:static}
thead{display:table-header-group}
tr{break-inside:avoid}
svg,.cards{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
`;

type Tally = Map<Outcome | "PENDING", number>;

function tally(actions: readonly AuditAction[]): Tally {
  const totals: Tally = new Map();
  for (const action of actions) {
    const key = action.outcome ?? "PENDING";
    totals.set(key, (totals.get(key) ?? 0) + 1);
  }
  return totals;
}

function outcomeKeys(totals: Tally): (Outcome | "PENDING")[] {
  return [...OUTCOMES, "PENDING" as const].filter((o) => totals.has(o));
}

/** A day's bar is never wider than this (viewBox units), so one day is a bar, not a wall. */
const MAX_BAR = 28;
const MAX_STEP = 40;

function chart(days: readonly string[], perDay: Map<string, number>): string {
  const width = 1100;
  const height = 180;
  const left = 36;
  const bottom = 20;
  const max = Math.max(1, ...perDay.values());
  const step = Math.min(MAX_STEP, (width - left - 10) / Math.max(1, days.length));
  const barWidth = Math.min(MAX_BAR, Math.max(0.5, step * 0.75));
  const scale = (height - bottom - 14) / max;
  const right = left + step * days.length;
  const parts: string[] = [
    `<line class="axis" x1="${left}" y1="${height - bottom}" x2="${right.toFixed(1)}" y2="${height - bottom}"/>`,
    `<text x="0" y="14">${max}</text><text x="0" y="${height - bottom}">0</text>`,
  ];
  // Labels at least ~64 units apart: every day for a week, every few days for a month or a year.
  const labelEvery = Math.max(1, Math.ceil(64 / step));
  days.forEach((d, i) => {
    const x = left + i * step + (step - barWidth) / 2;
    const count = perDay.get(d) ?? 0;
    if (count > 0) {
      const h = count * scale;
      parts.push(
        `<rect class="bar" data-day="${d}" data-count="${count}" x="${x.toFixed(1)}" y="${(height - bottom - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}"><title>${d}: ${count} canceled</title></rect>`,
      );
    }
    if (i % labelEvery === 0) {
      parts.push(`<text x="${(left + i * step).toFixed(1)}" y="${height - 5}">${d.slice(5)}</text>`);
    }
  });
  return `<svg id="per-day" role="img" aria-label="cancellations per day" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>`;
}

/** An id or a timestamp: one line. Only an id longer than any the janitor makes may wrap. */
function token(value: string | undefined, kind: "id" | "ts" = "id"): string {
  const text = value ?? "";
  return `<span class="${kind}${kind === "id" && text.length > 40 ? " long" : ""}">${escapeHtml(text)}</span>`;
}

function cards(totals: Tally, kind: "live" | "dry"): string {
  const all = [...totals.values()].reduce((a, b) => a + b, 0);
  const dry = kind === "dry" ? " dry" : "";
  return [
    `<div class="card${dry}" data-outcome="ALL"><b>${all}</b>${kind === "live" ? "live decisions" : "dry-run decisions"}</div>`,
    ...outcomeKeys(totals).map(
      (o) =>
        `<div class="card ${o}${dry}" data-outcome="${o}"><b>${totals.get(o) ?? 0}</b>${escapeHtml(o)}</div>`,
    ),
  ].join("");
}

function byRule(actions: readonly AuditAction[], id: string, empty: string): string {
  if (actions.length === 0) return `<p class="note" id="${id}">${escapeHtml(empty)}</p>`;
  const keys = outcomeKeys(tally(actions));
  const rules = new Map<string, Tally>();
  for (const action of actions) {
    const perOutcome: Tally = rules.get(action.ruleId) ?? new Map();
    const key = action.outcome ?? "PENDING";
    perOutcome.set(key, (perOutcome.get(key) ?? 0) + 1);
    rules.set(action.ruleId, perOutcome);
  }
  const rows = [...rules.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([rule, perOutcome]) => [
      escapeHtml(rule),
      ...keys.map((o) => String(perOutcome.get(o) ?? 0)),
      String([...perOutcome.values()].reduce((a, b) => a + b, 0)),
    ]);
  return table(
    [
      { header: "rule", col: "w-rule" },
      ...keys.map((o) => ({ header: o, numeric: true })),
      { header: "total", numeric: true },
    ],
    rows,
    id,
  );
}

/** One line per outcome, each a single line: "CANCELED 30" never breaks inside. */
function countLines(counts: RunRecord["counts"]): string {
  return OUTCOMES.filter((o) => counts[o] !== undefined)
    .map((o) => `<span class="count word">${escapeHtml(`${o} ${counts[o]}`)}</span>`)
    .join("");
}

export function renderReport(input: ReportInput): string {
  const { since, until } = input;
  // The period is [since, until), as the store reads it; held here too, since the header says so.
  const allActions = input.actions.filter((a) => inPeriod(a.at, since, until));
  const allRuns = input.runs.filter((r) => inPeriod(r.startedAt, since, until));
  // An item that could not be read in full is listed flagged with what could be read, and left
  // out of every total, chart and config section, which need all of it.
  const actions = allActions.filter((a): a is AuditAction => a.unreadable === undefined);
  const runs = allRuns.filter((r): r is RunRecord => r.unreadable === undefined);
  const unreadableCount = allActions.length + allRuns.length - actions.length - runs.length;
  const sinceText = since.toISOString();
  const untilText = until.toISOString();
  const live = actions.filter((a) => !a.dryRun);
  const dry = actions.filter((a) => a.dryRun);
  const hashes = [...new Set(runs.map((r) => r.configHash))];

  const runRows = runs.map((run) => [
    `${token(run.startedAt, "ts")}${token(run.runId)}`,
    `${escapeHtml(run.trigger)}<span class="sub">${escapeHtml(run.actor)}</span>`,
    `<span class="word mono">${escapeHtml(run.status)}</span><span class="sub">${run.dryRun ? '<span class="tag">dry run</span>' : "live"}</span>${run.endedAt ? `<span class="sub">${((Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)}&nbsp;s</span>` : ""}`,
    countLines(run.counts),
    token(run.configHash),
    `${escapeHtml(run.note)}${run.error ? `<span class="err">${escapeHtml(run.error)}</span>` : ""}`,
  ]);

  const actionRows = actions.map((a) => {
    const outcome = a.outcome ?? "PENDING";
    const others = a.matchedRules.filter((r) => r !== a.ruleId);
    return [
      `${token(a.at, "ts")}${token(a.handshakeId)}${token(a.runId)}`,
      `<span class="outcome word mono ${escapeHtml(outcome)}">${escapeHtml(outcome)}</span>${a.dryRun ? '<span class="tag">dry run</span>' : ""}<span class="sub mono">${escapeHtml(a.ruleId)}</span>${others.length > 0 ? `<span class="sub mono">also ${escapeHtml(others.join(", "))}</span>` : ""}`,
      `${escapeHtml(a.trigger)}<span class="sub">${escapeHtml(a.actor)}</span>`,
      `${escapeHtml(a.action)}<span class="sub">${escapeHtml(a.target)}</span>`,
      `${escapeHtml(a.reason)}${a.error ? `<span class="err">${escapeHtml(a.error)}</span>` : ""}`,
    ];
  });

  const flaggedRunRows = allRuns.flatMap((run) =>
    run.unreadable === undefined
      ? []
      : [
          [
            `${token(run.startedAt, "ts")}${token(run.runId)}`,
            `${escapeHtml(run.trigger)}<span class="sub">${escapeHtml(run.actor)}</span>`,
            `<span class="word mono">${escapeHtml(run.status)}</span>`,
            "",
            token(run.configHash),
            `<span class="err">unreadable: ${escapeHtml(run.unreadable)}</span>`,
          ],
        ],
  );
  const flaggedActionRows = allActions.flatMap((a) =>
    a.unreadable === undefined
      ? []
      : [
          [
            `${token(a.at, "ts")}${token(a.handshakeId)}${token(a.runId)}`,
            `<span class="outcome word mono UNREADABLE">${escapeHtml(a.outcome ?? "UNREADABLE")}</span><span class="sub mono">${escapeHtml(a.ruleId)}</span>`,
            `${escapeHtml(a.trigger)}<span class="sub">${escapeHtml(a.actor)}</span>`,
            `${escapeHtml(a.action)}<span class="sub">${escapeHtml(a.target)}</span>`,
            `${escapeHtml(a.reason)}<span class="err">unreadable: ${escapeHtml(a.unreadable)}</span>`,
          ],
        ],
  );

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>handshake-janitor audit report ${escapeHtml(sinceText)} to ${escapeHtml(untilText)}</title>
<style>${CSS}${VERDICT_CSS}</style>
</head>
<body>
<h1>handshake-janitor audit report</h1>
${verdictBlock(input.verdict)}
<p class="period" id="period">Period: from <b>${escapeHtml(sinceText)}</b> (inclusive) to <b>${escapeHtml(untilText)}</b> (exclusive)</p>
<p class="meta">Actions whose time (<code>at</code>) is at or after the first instant and before the second; runs that started in the same interval. Table ${escapeHtml(input.tableName)} · generated <span class="nw">${escapeHtml(input.generatedAt.toISOString())}</span></p>
<p class="meta">${runs.length} runs started in the period; ${actions.length} actions recorded in it: ${live.length} by live runs, ${dry.length} by dry runs.</p>
${unreadableCount === 0 ? "" : `<p class="meta warn" id="unreadable">${unreadableCount} items could not be read in full: they are listed flagged, with what could be read, and left out of the totals. <code>audit verify</code> names what is wrong.</p>\n`}${input.population === undefined ? "" : `${populationSection(input.population, input.runs, since, until, input.coverage)}\n`}<div id="totals">
<div class="cards"><div class="card" data-outcome="ALL"><b>${actions.length}</b>actions recorded</div></div>
<h3>Live runs</h3>
<div class="cards" id="totals-live">${cards(tally(live), "live")}</div>
<h3>Dry runs (nothing canceled)</h3>
<div class="cards" id="totals-dry">${cards(tally(dry), "dry")}</div>
</div>
<h2>Cancellations per day (UTC)</h2>
${chart(daysBetween(since, until), cancellationsPerDay(live))}
<h2>By rule</h2>
<h3>Live runs</h3>
${byRule(live, "by-rule", "no decisions of live runs in the period")}
<h3>Dry runs (nothing canceled)</h3>
${byRule(dry, "by-rule-dry", "no decisions of dry runs in the period")}
<h2>Config in force</h2>
<div id="configs">
${hashes.length === 0 ? '<p class="note">no runs started in the period</p>' : hashes.map((h) => configSection(h, runs, input.configs?.get(h))).join("\n")}
</div>
<h2>Plans: who made them, who approved</h2>
<div id="plans">
${plansSection(input.plans ?? [])}
</div>
<h2>Runs</h2>
${table(
  [
    { header: "started · run", col: "w-key" },
    { header: "trigger · actor" },
    { header: "status · mode · duration", col: "w-status" },
    { header: "counts", col: "w-outcome" },
    { header: "config", col: "w-hash" },
    { header: "note · error" },
  ],
  runRows,
  "runs",
  flaggedRunRows,
)}
<h2>Actions</h2>
${table(
  [
    { header: "at · handshake · run", col: "w-key" },
    { header: "outcome · rule", col: "w-outcome" },
    { header: "trigger · actor" },
    { header: "action · target" },
    { header: "reason · error", col: "w-text" },
  ],
  actionRows,
  "actions",
  flaggedActionRows,
)}
<footer>Every action the audit table holds for the period, from DynamoDB Query on the byTime index. Check integrity with <code>audit verify --since … --until …</code>.</footer>
</body>
</html>
`;
}

const VERDICT_CSS =
  ".verdict{padding:.6em .9em;margin:.8em 0;border-radius:4px;border:1px solid}" +
  ".verdict.intact{background:#eef8ee;border-color:#3a7d3a}" +
  ".verdict.tampered{background:#fdecea;border-color:#b3261e;color:#5f1410}" +
  ".verdict.unverified{background:#fff8e1;border-color:#a67c00}" +
  ".verdict ul{margin:.4em 0 0;padding-left:1.2em;font-family:ui-monospace,monospace;font-size:.9em}";
