import { auditTableName } from "../app.js";
import { createAuditStore } from "../aws/audit-store.js";
import { ensureAuditTable } from "../aws/audit-table.js";
import { createClients } from "../aws/clients.js";
import { ConfigError } from "../core/errors.js";
import { OUTCOMES } from "../core/outcomes.js";
import { oneOf, parseCommandArgs, parseDate } from "./args.js";
import { formatCsv, formatJsonLines, formatTable, type Row } from "./format.js";

const FORMATS = ["table", "json", "csv"] as const;

/** Every attribute of the audit contract, in the order a person reads them. */
export const AUDIT_COLUMNS = [
  "at",
  "runId",
  "handshakeId",
  "outcome",
  "ruleId",
  "matchedRules",
  "dryRun",
  "trigger",
  "actor",
  "action",
  "target",
  "targetType",
  "requestedAt",
  "reason",
  "attempts",
  "error",
] as const;
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

export async function auditCommand(argv: string[], out: (text: string) => void): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "init":
      return init(rest, out);
    case "query":
      return query(rest, out);
    case "runs":
      return runs(rest, out);
    default:
      throw new ConfigError([`audit: unknown subcommand '${sub ?? ""}' (known: init, query, runs)`]);
  }
}

async function init(argv: string[], out: (text: string) => void): Promise<number> {
  parseCommandArgs("audit init", argv, {});
  const tableName = auditTableName();
  const result = await ensureAuditTable(createClients().dynamodb, tableName);
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
  const filter = {
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(args.rule ? { ruleId: args.rule } : {}),
    ...(args.handshake ? { handshakeId: args.handshake } : {}),
    ...(args.run ? { runId: args.run } : {}),
    ...(outcome ? { outcome } : {}),
  };
  for await (const item of store.queryActions(filter)) rows.push({ ...item });
  out(render(rows, format, AUDIT_COLUMNS, TABLE_COLUMNS, "no audit items match"));
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
    const durationS = run.endedAt ? (Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000 : undefined;
    rows.push({ ...run, durationS });
  }
  const all = [...RUN_COLUMNS, "listed", "candidates", "matched", "endedAt", "note"];
  out(render(rows, format, all, RUN_COLUMNS, "no runs in that period"));
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
  if (format === "csv") return formatCsv(rows, all).trimEnd();
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
