import { open, writeFile } from "node:fs/promises";
import { auditTableName } from "../app.js";
import {
  type ActionFilter,
  chainedActions,
  createAuditStore,
  retentionDaysFromEnv,
} from "../aws/audit-store.js";
import { AUDIT_TTL_ATTRIBUTE, ensureAuditTable } from "../aws/audit-table.js";
import { createClients } from "../aws/clients.js";
import { ConfigError } from "../core/errors.js";
import { verifyChain } from "../core/integrity.js";
import { OUTCOMES } from "../core/outcomes.js";
import { AUDIT_ATTRIBUTES, type AuditAction, type RunRecord } from "../core/ports.js";
import { renderReport } from "../report/html.js";
import { oneOf, parseCommandArgs, parseDate } from "./args.js";
import { csvField, formatCsv, formatJsonLines, formatTable, type Row } from "./format.js";

const FORMATS = ["table", "json", "csv"] as const;

const TABLE_COLUMNS = ["at", "runId", "handshakeId", "outcome", "ruleId", "target", "reason"] as const;
const RUN_COLUMNS = [
  "startedAt",
  "runId",
  "status",
  "dryRun",
  "trigger",
  "actor",
  "counts",
  "durationS",
  "configHash",
];
/** Machine formats get one column per outcome, so a spreadsheet can sum them. */
const RUN_DATA_COLUMNS = [
  "runId",
  "startedAt",
  "endedAt",
  "durationS",
  "status",
  "dryRun",
  "trigger",
  "actor",
  ...OUTCOMES,
  "listed",
  "candidates",
  "matched",
  "configVersion",
  "configHash",
  "note",
  "error",
  "countsStale",
];
/** What an archive needs to be checked later: the contract plus the chain link. */
const EXPORT_COLUMNS = [
  "itemType",
  ...AUDIT_ATTRIBUTES,
  "chainSeq",
  "chainHash",
  "chainPrev",
  ...RUN_DATA_COLUMNS.filter((c) => !(AUDIT_ATTRIBUTES as readonly string[]).includes(c)),
];
/** `audit verify` found a missing or altered item: distinct from 1 (could not check at all). */
export const EXIT_INTEGRITY = 5;

export async function auditCommand(argv: string[], out: (text: string) => void): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "init":
      return init(rest, out);
    case "query":
      return query(rest, out);
    case "runs":
      return runs(rest, out);
    case "report":
      return report(rest, out);
    case "verify":
      return verify(rest, out);
    case "export":
      return exportItems(rest, out);
    default:
      throw new ConfigError([
        `audit: unknown subcommand '${sub ?? ""}' (known: init, query, runs, report, verify, export)`,
      ]);
  }
}

async function init(argv: string[], out: (text: string) => void): Promise<number> {
  parseCommandArgs("audit init", argv, {});
  const tableName = auditTableName();
  // TTL only when a retention is configured: otherwise no item carries the attribute anyway.
  const ttl = retentionDaysFromEnv() === undefined ? {} : { ttlAttribute: AUDIT_TTL_ATTRIBUTE };
  const result = await ensureAuditTable(createClients().dynamodb, tableName, ttl);
  out(result === "created" ? `created audit table ${tableName}` : `audit table ${tableName} already exists`);
  return 0;
}

async function query(argv: string[], out: (text: string) => void): Promise<number> {
  const args = parseCommandArgs("audit query", argv, {
    since: { type: "string" },
    until: { type: "string" },
    rule: { type: "string" },
    handshake: { type: "string" },
    run: { type: "string" },
    outcome: { type: "string" },
    format: { type: "string" },
  });
  const issues: string[] = [];
  const since = parseDate("--since", args.since, issues);
  const until = parseDate("--until", args.until, issues);
  if (since && until && since > until) issues.push("--until: must not be before --since");
  const outcome = oneOf("--outcome", args.outcome, OUTCOMES, issues);
  const format = oneOf("--format", args.format, FORMATS, issues) ?? "table";
  const tableName = tableOrIssue(issues);
  if (issues.length > 0) throw new ConfigError(issues);

  const store = createAuditStore({ client: createClients().dynamodb, tableName });
  const rows: Row[] = [];
  const filter: ActionFilter = {
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(args.rule ? { ruleId: args.rule } : {}),
    ...(args.handshake ? { handshakeId: args.handshake } : {}),
    ...(args.run ? { runId: args.run } : {}),
    ...(outcome ? { outcome } : {}),
  };
  for await (const item of store.queryActions(filter)) rows.push({ ...item });
  out(render(rows, format, AUDIT_ATTRIBUTES, TABLE_COLUMNS, "no audit items match"));
  return 0;
}

async function runs(argv: string[], out: (text: string) => void): Promise<number> {
  const args = parseCommandArgs("audit runs", argv, {
    since: { type: "string" },
    until: { type: "string" },
    format: { type: "string" },
  });
  const issues: string[] = [];
  const since = parseDate("--since", args.since, issues);
  const until = parseDate("--until", args.until, issues);
  const format = oneOf("--format", args.format, FORMATS, issues) ?? "table";
  const tableName = tableOrIssue(issues);
  if (issues.length > 0) throw new ConfigError(issues);
  const store = createAuditStore({ client: createClients().dynamodb, tableName });
  const rows: Row[] = [];
  for await (const run of store.listRuns({ ...(since ? { since } : {}), ...(until ? { until } : {}) })) {
    rows.push(runRow(run, format));
  }
  out(render(rows, format, RUN_DATA_COLUMNS, RUN_COLUMNS, "no runs in that period"));
  return 0;
}

function durationSeconds(run: RunRecord): number | undefined {
  return run.endedAt ? (Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000 : undefined;
}

function runRow(run: RunRecord, format: string): Row {
  const { counts, ...rest } = run;
  const base: Row = { ...rest, durationS: durationSeconds(run) };
  if (format === "table") {
    const text = OUTCOMES.filter((o) => counts[o] !== undefined)
      .map((o) => `${o} ${counts[o]}`)
      .join(", ");
    return { ...base, counts: run.countsStale ? `${text} (may be stale)` : text };
  }
  if (format === "json") return { ...base, counts };
  return { ...base, ...Object.fromEntries(OUTCOMES.map((o) => [o, counts[o] ?? 0])) };
}

function period(
  command: string,
  args: { since?: string | undefined; until?: string | undefined },
  issues: string[],
  required: boolean,
) {
  const since = parseDate("--since", args.since, issues);
  const until = parseDate("--until", args.until, issues);
  if (required && args.since === undefined) issues.push(`--since: required for '${command}'`);
  if (since && until && since > until) issues.push("--until: must not be before --since");
  return { since, until };
}

async function report(argv: string[], out: (text: string) => void): Promise<number> {
  const args = parseCommandArgs("audit report", argv, {
    since: { type: "string" },
    until: { type: "string" },
    out: { type: "string" },
  });
  const issues: string[] = [];
  const { since, until: untilArg } = period("audit report", args, issues, true);
  if (!args.out) issues.push("--out: required (the HTML file to write)");
  const tableName = tableOrIssue(issues);
  if (issues.length > 0 || !since || !args.out) throw new ConfigError(issues);
  const until = untilArg ?? new Date();
  const store = createAuditStore({ client: createClients().dynamodb, tableName });
  const actions: AuditAction[] = [];
  for await (const action of store.queryActions({ since, until })) actions.push(action);
  const runList: RunRecord[] = [];
  for await (const run of store.listRuns({ since, until })) runList.push(run);
  const html = renderReport({ since, until, generatedAt: new Date(), tableName, actions, runs: runList });
  await writeFile(args.out, html);
  out(`wrote ${args.out}: ${actions.length} actions, ${runList.length} runs`);
  return 0;
}

async function verify(argv: string[], out: (text: string) => void): Promise<number> {
  const args = parseCommandArgs("audit verify", argv, {
    run: { type: "string", multiple: true },
    since: { type: "string" },
    until: { type: "string" },
  });
  const issues: string[] = [];
  const { since, until } = period("audit verify", args, issues, false);
  const runIds = args.run ?? [];
  if (runIds.length === 0 && !since) issues.push("audit verify: give --run ID or --since D [--until D]");
  const tableName = tableOrIssue(issues);
  if (issues.length > 0) throw new ConfigError(issues);
  const store = createAuditStore({ client: createClients().dynamodb, tableName });
  const ids = [...runIds];
  if (since) {
    for await (const run of store.listRuns({ since, ...(until ? { until } : {}) })) ids.push(run.runId);
  }
  let items = 0;
  let problems = 0;
  for (const runId of ids) {
    const chain = await store.readChain(runId);
    items += chain.actions.length;
    const { items: chained, unreadable } = chainedActions(chain.actions);
    const found = [
      ...unreadable,
      ...verifyChain({ runId, ...(chain.head ? { head: chain.head } : {}) }, chained),
    ];
    for (const line of found) out(line);
    problems += found.length;
  }
  out(
    problems === 0
      ? `intact: ${ids.length} runs, ${items} action items`
      : `${problems} problems in ${ids.length} runs, ${items} action items`,
  );
  return problems === 0 ? 0 : EXIT_INTEGRITY;
}

const EXPORT_FORMATS = ["jsonl", "csv"] as const;

async function exportItems(argv: string[], out: (text: string) => void): Promise<number> {
  const args = parseCommandArgs("audit export", argv, {
    since: { type: "string" },
    until: { type: "string" },
    format: { type: "string" },
    out: { type: "string" },
  });
  const issues: string[] = [];
  const { since, until: untilArg } = period("audit export", args, issues, true);
  const format = oneOf("--format", args.format, EXPORT_FORMATS, issues) ?? "jsonl";
  if (!args.out) issues.push("--out: required (the file to write)");
  const tableName = tableOrIssue(issues);
  if (issues.length > 0 || !since || !args.out) throw new ConfigError(issues);
  const until = untilArg ?? new Date();
  const store = createAuditStore({ client: createClients().dynamodb, tableName });
  const file = await open(args.out, "w");
  let actions = 0;
  let runCount = 0;
  try {
    const line = (row: Row) =>
      format === "jsonl"
        ? `${JSON.stringify(row)}\n`
        : `${EXPORT_COLUMNS.map((c) => csvField(row[c])).join(",")}\r\n`;
    if (format === "csv") await file.write(`${EXPORT_COLUMNS.map(csvField).join(",")}\r\n`);
    // Written as the pages arrive: an archive of years of audit never has to fit in memory.
    for await (const run of store.listRuns({ since, until })) {
      await file.write(line({ itemType: "run", ...runRow(run, format === "jsonl" ? "json" : "csv") }));
      runCount += 1;
    }
    for await (const { action, link, keyRunId, keyHandshakeId } of store.exportActions({ since, until })) {
      const chainLink = { chainSeq: link.seq, chainHash: link.hash, chainPrev: link.prev };
      const content = action ?? { runId: keyRunId, handshakeId: keyHandshakeId };
      await file.write(line({ itemType: "action", ...content, ...chainLink }));
      actions += 1;
    }
  } finally {
    await file.close();
  }
  out(`wrote ${args.out}: ${runCount} runs, ${actions} actions`);
  return 0;
}

function render(
  rows: Row[],
  format: (typeof FORMATS)[number],
  all: readonly string[],
  table: readonly string[],
  empty: string,
): string {
  if (format === "json") return formatJsonLines(rows).trimEnd();
  // Every CSV record ends in CRLF, the last one too (RFC 4180); trimming it would leave the
  // printer's bare LF glued to the last field.
  if (format === "csv") return formatCsv(rows, all);
  return rows.length === 0 ? empty : formatTable(rows, table);
}

function tableOrIssue(issues: string[]): string {
  try {
    return auditTableName();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.issues);
    return "";
  }
}
