import { OUTCOMES, type Outcome } from "../core/outcomes.js";
import type { AuditAction, ReadAction, ReadRun } from "../core/ports.js";

export interface ReportInput {
  since: Date;
  until: Date;
  generatedAt: Date;
  tableName: string;
  /** Items that could not be read in full come flagged and are listed flagged. */
  actions: readonly ReadAction[];
  runs: readonly ReadRun[];
}

/** Everything that reaches the page passes through here: audit values are free text from outside. */
export function escapeHtml(value: unknown): string {
  const text = value === undefined || value === null ? "" : String(value);
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

/** Every UTC day from since's to until's (inclusive of a partial last day), as YYYY-MM-DD. */
export function daysBetween(since: Date, until: Date): string[] {
  const days: string[] = [];
  const start = Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate());
  // An until at midnight exactly ends the day before: `--until 2026-04-01` means through March 31.
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

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;margin:2rem auto;max-width:1200px;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
.meta{color:#57606a;margin:0}
.cards{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:1rem}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .75rem;min-width:7rem}
.card b{display:block;font-size:1.4rem}
.card.CANCELED{border-color:#cf222e}.card.CANCELED b{color:#cf222e}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{border-bottom:1px solid #eaeef2;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.outcome{font-weight:600}.outcome.CANCELED{color:#cf222e}.outcome.FAILED{color:#9a6700}
svg .bar{fill:#cf222e}svg text{font-size:10px;fill:#57606a}svg .axis{stroke:#8c959f}
footer{margin-top:2rem;color:#57606a;font-size:12px}
tr.unreadable td{background:#fff8c5}.warning{color:#9a6700;font-weight:600}
`;

/** Where an action counts: its outcome, PENDING without one, UNREADABLE when it is flagged. */
type Bucket = Outcome | "PENDING" | "UNREADABLE";

function bucket(action: ReadAction): Bucket {
  return action.unreadable !== undefined ? "UNREADABLE" : (action.outcome ?? "PENDING");
}

function totalsByOutcome(actions: readonly ReadAction[]): Map<Bucket, number> {
  const totals = new Map<Bucket, number>();
  for (const action of actions) {
    const key = bucket(action);
    totals.set(key, (totals.get(key) ?? 0) + 1);
  }
  return totals;
}

function chart(days: readonly string[], perDay: Map<string, number>): string {
  const width = 1100;
  const height = 180;
  const left = 30;
  const bottom = 20;
  const max = Math.max(1, ...perDay.values());
  const step = (width - left) / Math.max(1, days.length);
  const barWidth = Math.max(1, step * 0.8);
  const scale = (height - bottom - 10) / max;
  const parts: string[] = [
    `<line class="axis" x1="${left}" y1="${height - bottom}" x2="${width}" y2="${height - bottom}"/>`,
    `<text x="0" y="12">${max}</text><text x="0" y="${height - bottom}">0</text>`,
  ];
  // A label every week at most keeps a quarter's ninety days legible.
  const labelEvery = Math.max(1, Math.ceil(days.length / 13));
  days.forEach((d, i) => {
    const x = left + i * step;
    const count = perDay.get(d) ?? 0;
    if (count > 0) {
      const h = count * scale;
      parts.push(
        `<rect class="bar" data-day="${d}" data-count="${count}" x="${x.toFixed(1)}" y="${(height - bottom - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}"><title>${d}: ${count} canceled</title></rect>`,
      );
    }
    if (i % labelEvery === 0) parts.push(`<text x="${x.toFixed(1)}" y="${height - 5}">${d.slice(5)}</text>`);
  });
  return `<svg id="per-day" role="img" aria-label="cancellations per day" viewBox="0 0 ${width} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>`;
}

function table(
  headers: readonly string[],
  rows: readonly string[][],
  id: string,
  numeric = new Set<number>(),
  flagged: ReadonlySet<number> = new Set(),
) {
  const th = headers.map((h, i) => `<th${numeric.has(i) ? ' class="n"' : ""}>${escapeHtml(h)}</th>`).join("");
  const body = rows
    .map(
      (row, r) =>
        `<tr${flagged.has(r) ? ' class="unreadable"' : ""}>${row.map((cell, i) => `<td${numeric.has(i) ? ' class="n"' : ""}>${cell}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return `<table id="${id}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/**
 * One self-contained page: inline CSS and SVG, no script, no font, no image, and a CSP that
 * forbids every fetch, so opening an archived report never reaches out anywhere.
 */
export function renderReport(input: ReportInput): string {
  const { actions, runs } = input;
  const period = `${input.since.toISOString()} – ${input.until.toISOString()}`;
  const totals = totalsByOutcome(actions);
  const outcomeKeys = [...OUTCOMES, "PENDING" as const, "UNREADABLE" as const].filter((o) => totals.has(o));
  const cards = [
    `<div class="card" data-outcome="ALL"><b>${actions.length}</b>actions</div>`,
    ...outcomeKeys.map(
      (o) => `<div class="card ${o}" data-outcome="${o}"><b>${totals.get(o) ?? 0}</b>${escapeHtml(o)}</div>`,
    ),
  ].join("");

  const rules = new Map<string, Map<string, number>>();
  for (const action of actions) {
    const rule = action.ruleId ?? "?";
    const perOutcome = rules.get(rule) ?? new Map<string, number>();
    const key = bucket(action);
    perOutcome.set(key, (perOutcome.get(key) ?? 0) + 1);
    rules.set(rule, perOutcome);
  }
  const ruleRows = [...rules.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([rule, perOutcome]) => [
      escapeHtml(rule),
      ...outcomeKeys.map((o) => String(perOutcome.get(o) ?? 0)),
      String([...perOutcome.values()].reduce((a, b) => a + b, 0)),
    ]);
  const ruleNumeric = new Set(outcomeKeys.map((_, i) => i + 1).concat(outcomeKeys.length + 1));

  // An item that could not be read in full is listed with what could be read, and why not all
  // in a last column that only a report with such items has.
  const anyUnreadable = [...runs, ...actions].some((item) => item.unreadable !== undefined);
  const flagColumn = anyUnreadable ? ["unreadable"] : [];
  const flagCell = (item: { unreadable?: string }) => (anyUnreadable ? [escapeHtml(item.unreadable)] : []);
  const flaggedRows = (items: readonly { unreadable?: string }[]) =>
    new Set(items.flatMap((item, i) => (item.unreadable !== undefined ? [i] : [])));
  const yesNo = (value: boolean | undefined) => (value === undefined ? "" : value ? "yes" : "no");
  const unreadableCount = [...runs, ...actions].filter((item) => item.unreadable !== undefined).length;

  const runRows = runs.map((run) => [
    escapeHtml(run.startedAt),
    escapeHtml(run.runId),
    escapeHtml(run.trigger),
    escapeHtml(run.actor),
    escapeHtml(run.status),
    yesNo(run.dryRun),
    escapeHtml(
      Object.entries(run.counts ?? {})
        .map(([o, n]) => `${o} ${n}`)
        .join(", "),
    ),
    run.endedAt && run.startedAt
      ? ((Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)
      : "",
    escapeHtml(run.configHash),
    escapeHtml(run.note),
    ...flagCell(run),
  ]);

  const actionRows = actions.map((a) => [
    escapeHtml(a.at),
    escapeHtml(a.runId),
    escapeHtml(a.handshakeId),
    `<span class="outcome ${escapeHtml(bucket(a))}">${escapeHtml(a.outcome ?? bucket(a))}</span>`,
    escapeHtml(a.ruleId),
    escapeHtml(a.matchedRules?.join(", ")),
    yesNo(a.dryRun),
    escapeHtml(`${a.trigger ?? "?"} / ${a.actor ?? "?"}`),
    escapeHtml(a.action),
    escapeHtml(a.target),
    escapeHtml(a.reason),
    escapeHtml(a.error),
    ...flagCell(a),
  ]);
  const readable = actions.filter((a): a is AuditAction => a.unreadable === undefined);

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>handshake-janitor audit report ${escapeHtml(period)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>handshake-janitor audit report</h1>
<p class="meta">Period <b>${escapeHtml(period)}</b> · table ${escapeHtml(input.tableName)} · generated ${escapeHtml(input.generatedAt.toISOString())}</p>
<p class="meta">${runs.length} runs started in the period; ${actions.length} actions recorded in it.</p>
${unreadableCount === 0 ? "" : `<p class="meta warning" id="unreadable">${unreadableCount} items could not be read in full: they are listed flagged, with what could be read. <code>audit verify</code> names what is wrong.</p>\n`}
<div class="cards" id="totals">${cards}</div>
<h2>Cancellations per day</h2>
${chart(daysBetween(input.since, input.until), cancellationsPerDay(readable))}
<h2>By rule</h2>
${table(["rule", ...outcomeKeys, "total"], ruleRows, "by-rule", ruleNumeric)}
<h2>Runs</h2>
${table(["started", "run", "trigger", "actor", "status", "dry run", "counts", "duration s", "config hash", "note", ...flagColumn], runRows, "runs", new Set([7]), flaggedRows(runs))}
<h2>Actions</h2>
${table(["at", "run", "handshake", "outcome", "rule", "matched rules", "dry run", "trigger / actor", "action", "target", "reason", "error", ...flagColumn], actionRows, "actions", new Set(), flaggedRows(actions))}
<footer>Every action the audit table holds for the period, from DynamoDB Query on the byTime index. Check integrity with <code>audit verify --since … --until …</code>.</footer>
</body>
</html>
`;
}
