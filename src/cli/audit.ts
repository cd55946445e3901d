import { open } from "node:fs/promises";
import { wire } from "../app.js";
import { DEFAULT_QUERY_WINDOW_DAYS } from "../aws/audit/index.js";
import { AUDIT_TTL_ATTRIBUTE } from "../aws/audit-table.js";
import { ensureAuditTable } from "../aws/audit-table-init.js";
import { ConfigError } from "../domain/errors.js";
import { OUTCOMES } from "../domain/outcomes.js";
import { jsonText } from "../domain/visible.js";
import type { ActionFilter } from "../evidence/reader.js";
import { LEDGER_ATTRIBUTES } from "../ports/ledger.js";
import { AUDIT_ATTRIBUTES, type ReadRun } from "../ports/records.js";
import { loadSettings } from "../settings.js";
import {
  type CommandSpec,
  defineCommand,
  EXIT_CODES_READ,
  type OptionTable,
  oneOf,
  parseCommandArgs,
} from "./args.js";
import { AUDIT_ACKNOWLEDGE, acknowledge } from "./audit-acknowledge.js";
import { AUDIT_HANDSHAKE, AUDIT_HANDSHAKES, handshake, handshakes } from "./audit-handshakes.js";
import { AUDIT_REPORT, report } from "./audit-report.js";
import {
  FORMATS,
  isUnreadable,
  PERIOD_NOTE,
  PERIOD_OPTIONS,
  period,
  render,
  settingsOrIssues,
  TABLE_ENV,
  UNREADABLE,
  warnUnreadable,
} from "./audit-shared.js";
import { AUDIT_VERIFY, verify } from "./audit-verify.js";
import { ExitCode } from "./exit-codes.js";
import { csvField, type Row } from "./format.js";
import type { CliIo, CommandHandler } from "./io.js";

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
  "notifyError",
  "countsStale",
];
/**
 * Why an item could not be read in full (readers show it and carry on): the last column of CSV,
 * so its columns never change; in a table only when some row has it; in JSON only on that row.
 */
/** What an archive needs to be checked later: the contract plus the chain link. */
const EXPORT_COLUMNS = [
  ...new Set([
    "itemType",
    ...AUDIT_ATTRIBUTES,
    "chainSeq",
    "chainHash",
    "chainPrev",
    "seal",
    "chainHead",
    "chainLength",
    "awaitingLink",
    ...RUN_DATA_COLUMNS,
    // A run's ledger chain (its head under the seal) and its ledger entries with their links.
    "ledgerHead",
    "ledgerLength",
    ...LEDGER_ATTRIBUTES,
    "ledgerSeq",
    "ledgerHash",
    "ledgerPrev",
  ]),
  UNREADABLE,
];

const WIDE_OPTION = {
  wide: {
    type: "boolean",
    description:
      "table format: print every cell whole (default: cells over 60 characters are cut, ending in …)",
  },
} as const satisfies OptionTable;

export const AUDIT_INIT = defineCommand({
  name: "audit init",
  summary:
    "create the audit table if it is missing, exactly as deployed; add the indexes an existing one lacks",
  options: {},
  details: [
    "The deployed definition: keys, the indexes of the actions and of the handshake ledger, and TTL on expiresAt when AUDIT_RETENTION_DAYS is set. The deployment's table is handshake-janitor-<stage>-audit.",
    "An existing table made before an index was defined (the handshake ledger's population, listed and lifecycle) gets it: one UpdateTable per missing index, as DynamoDB adds one at a time, each waited for until ACTIVE (at most 300 s each; a longer backfill goes on, and audit init run again waits for it). Each step is printed. A table whose keys or indexes differ otherwise is named and left as it is.",
  ],
  exitCodes: "0 created, or there already; 1 error; 2 invalid arguments",
  environment: `${TABLE_ENV}, AUDIT_RETENTION_DAYS`,
});

export const AUDIT_QUERY = defineCommand({
  name: "audit query",
  summary: "the audit items matching every criterion given, by DynamoDB Query (never Scan)",
  options: {
    ...PERIOD_OPTIONS,
    rule: { type: "string", value: "ID", description: "items whose first matching rule is ID" },
    handshake: { type: "string", value: "ID", description: "items about handshake ID" },
    run: { type: "string", value: "ID", description: "items of run ID" },
    outcome: { type: "string", value: "O", description: `items with this outcome: ${OUTCOMES.join(", ")}` },
    plan: {
      type: "string",
      value: "ID",
      description: "a plan's records: its PLANNED items, and what its apply canceled or found stale",
    },
    format: {
      type: "string",
      value: "F",
      description: "table (default, for people), json (one object per line) or csv (RFC 4180)",
    },
    ...WIDE_OPTION,
  },
  details: [
    PERIOD_NOTE,
    "--plan reads the period by time (as a query by time alone does) and keeps the items that name the plan (docs/approval.md).",
    `Without --since and --until, a query by --run, --handshake or --rule reads all time; a query by time alone reads the last ${DEFAULT_QUERY_WINDOW_DAYS} days.`,
  ],
  exitCodes: EXIT_CODES_READ,
  environment: TABLE_ENV,
});

export const AUDIT_RUNS = defineCommand({
  name: "audit runs",
  summary: "the runs that started in the period: trigger, actor, status, counts, duration, config hash",
  options: {
    ...PERIOD_OPTIONS,
    format: {
      type: "string",
      value: "F",
      description: "table (default), json (one object per line) or csv (one column per outcome)",
    },
    ...WIDE_OPTION,
  },
  details: [PERIOD_NOTE],
  exitCodes: EXIT_CODES_READ,
  environment: TABLE_ENV,
});

export const AUDIT_EXPORT = defineCommand({
  name: "audit export",
  summary:
    "archive every run and action item of the period once, and the runs' handshake ledger entries, with their chain links",
  options: {
    ...PERIOD_OPTIONS,
    format: { type: "string", value: "F", description: "jsonl (default, one object per line) or csv" },
    out: { type: "string", value: "FILE", required: true, description: "the file to write (required)" },
  },
  details: [
    PERIOD_NOTE,
    "Each run of the period comes with its handshake ledger entries (SEEN, STATE, GONE), linked in the run's ledger chain that its seal covers; the ledger's per-handshake records are not exported: they are a summary of the entries that later runs change, covered by no seal.",
    "With AUDIT_CHECKPOINT_BUCKET, a JSON-lines export also carries the period's checkpoints (docs/checkpoints.md), one row each: verifying the file (`audit verify` with the export) compares the archive and the table with them.",
  ],
  exitCodes: EXIT_CODES_READ,
  environment: TABLE_ENV,
});

/** The audit subcommands, in the order the help lists them. */
export const AUDIT_COMMANDS: ReadonlyArray<{ spec: CommandSpec; handler: CommandHandler }> = [
  { spec: AUDIT_INIT, handler: init },
  { spec: AUDIT_QUERY, handler: query },
  { spec: AUDIT_RUNS, handler: runs },
  { spec: AUDIT_REPORT, handler: report },
  { spec: AUDIT_VERIFY, handler: verify },
  { spec: AUDIT_ACKNOWLEDGE, handler: acknowledge },
  { spec: AUDIT_EXPORT, handler: exportItems },
  { spec: AUDIT_HANDSHAKES, handler: handshakes },
  { spec: AUDIT_HANDSHAKE, handler: handshake },
];

async function init(argv: string[], { out, env }: CliIo): Promise<number> {
  parseCommandArgs(AUDIT_INIT, argv);
  const { clients, tableName, settings } = wire(loadSettings(env));
  // TTL only when a retention is configured: otherwise no item carries the attribute anyway.
  const ttl = settings.auditRetentionDays === undefined ? {} : { ttlAttribute: AUDIT_TTL_ATTRIBUTE };
  const result = await ensureAuditTable(clients.dynamodb, tableName, { ...ttl, progress: out });
  out(
    result === "created"
      ? `created audit table ${tableName}`
      : result === "upgraded"
        ? `audit table ${tableName} already existed; its missing indexes were added`
        : `audit table ${tableName} already exists`,
  );
  return ExitCode.Done;
}

async function query(argv: string[], io: CliIo): Promise<number> {
  const { out } = io;
  const args = parseCommandArgs(AUDIT_QUERY, argv).values;
  const issues: string[] = [];
  // A query by key reads all time unless a period is given; by time alone, the default period.
  const keyed = args.run !== undefined || args.handshake !== undefined || args.rule !== undefined;
  const periodGiven = args.since !== undefined || args.until !== undefined;
  const range: { since?: Date; until?: Date } = keyed && !periodGiven ? {} : (period(args, issues) ?? {});
  const { since, until } = range;
  const outcome = oneOf("--outcome", args.outcome, OUTCOMES, issues);
  const format = oneOf("--format", args.format, FORMATS, issues) ?? "table";
  const settings = settingsOrIssues(io.env, issues);
  if (issues.length > 0) throw new ConfigError(issues);

  const { audit: store } = wire(settings);
  const rows: Row[] = [];
  const filter: ActionFilter = {
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(args.rule ? { ruleId: args.rule } : {}),
    ...(args.handshake ? { handshakeId: args.handshake } : {}),
    ...(args.run ? { runId: args.run } : {}),
    ...(outcome ? { outcome } : {}),
  };
  for await (const item of store.queryActions(filter)) {
    if (args.plan === undefined || item.planId === args.plan) rows.push({ ...item });
  }
  // Marks say when they fall due; other outcomes have no such column.
  const columns =
    outcome === "MARKED"
      ? [...TABLE_COLUMNS.slice(0, 5), "cancelAfter", ...TABLE_COLUMNS.slice(5)]
      : TABLE_COLUMNS;
  out(render(rows, format, AUDIT_ATTRIBUTES, columns, "no audit items match", args.wide === true));
  warnUnreadable(io, rows.filter(isUnreadable).length);
  return ExitCode.Done;
}

async function runs(argv: string[], io: CliIo): Promise<number> {
  const { out } = io;
  const args = parseCommandArgs(AUDIT_RUNS, argv).values;
  const issues: string[] = [];
  const range = period(args, issues);
  const format = oneOf("--format", args.format, FORMATS, issues) ?? "table";
  const settings = settingsOrIssues(io.env, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  const { audit: store } = wire(settings);
  const rows: Row[] = [];
  for await (const run of store.listRuns(range ?? {})) {
    rows.push(runRow(run, format));
  }
  out(render(rows, format, RUN_DATA_COLUMNS, RUN_COLUMNS, "no runs in that period", args.wide === true));
  warnUnreadable(io, rows.filter(isUnreadable).length);
  return ExitCode.Done;
}

function durationSeconds(run: ReadRun): number | undefined {
  return run.endedAt && run.startedAt
    ? (Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000
    : undefined;
}

function runRow(run: ReadRun, format: string): Row {
  // An unreadable run item may have no counts to show.
  const { counts = {}, ...rest } = run;
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

const EXPORT_FORMATS = ["jsonl", "csv"] as const;

async function exportItems(argv: string[], io: CliIo): Promise<number> {
  const { out } = io;
  const args = parseCommandArgs(AUDIT_EXPORT, argv).values;
  const issues: string[] = [];
  const range = period(args, issues);
  const format = oneOf("--format", args.format, EXPORT_FORMATS, issues) ?? "jsonl";
  if (!args.out) issues.push("--out: required (the file to write)");
  const settings = settingsOrIssues(io.env, issues);
  if (issues.length > 0 || !range || !args.out) throw new ConfigError(issues);
  const { since, until } = range;
  const { audit: store, checkpoints } = wire(settings);
  const file = await open(args.out, "w");
  let kept = 0;
  let actions = 0;
  let runCount = 0;
  let entries = 0;
  let unreadable = 0;
  const withLedger: string[] = [];
  try {
    const line = (row: Row) =>
      format === "jsonl"
        ? `${jsonText(row)}\n`
        : `${EXPORT_COLUMNS.map((c) => csvField(row[c])).join(",")}\r\n`;
    if (format === "csv") await file.write(`${EXPORT_COLUMNS.map(csvField).join(",")}\r\n`);
    // Written as the pages arrive: an archive of years of audit never has to fit in memory.
    for await (const { read: run, seal, head, awaitingLink } of store.exportRuns({ since, until })) {
      // The seal and the chain end it covers: what `audit verify --file` checks the table against.
      const sealed = {
        ...(seal === undefined ? {} : { seal }),
        chainHead: head.hash,
        chainLength: head.length,
        awaitingLink: [...awaitingLink].sort(),
      };
      const { unreadable: why, ...readable } = runRow(run, format === "jsonl" ? "json" : "csv");
      await file.write(
        line({ itemType: "run", ...readable, ...sealed, ...(why ? { unreadable: why } : {}) }),
      );
      runCount += 1;
      if (isUnreadable(run)) unreadable += 1;
      // Read apart from the period's items: ledger entries are not on the byTime index.
      if ((run.ledgerLength ?? 0) > 0) withLedger.push(run.runId);
    }
    for await (const { record, link } of store.exportActions({ since, until })) {
      const chainLink = { chainSeq: link.seq, chainHash: link.hash, chainPrev: link.prev };
      // The flag stays last, after the chain link, as in the CSV columns.
      const { unreadable: why, ...content } = record;
      await file.write(
        line({ itemType: "action", ...content, ...chainLink, ...(why ? { unreadable: why } : {}) }),
      );
      actions += 1;
      if (why !== undefined) unreadable += 1;
    }
    for (const runId of withLedger) {
      for await (const { read, seq, prev, hash } of store.runLedger(runId)) {
        const { unreadable: why, ...content } = read;
        const link = { ledgerSeq: seq, ledgerHash: hash, ledgerPrev: prev };
        await file.write(
          line({ itemType: "ledger", ...content, ...link, ...(why ? { unreadable: why } : {}) }),
        );
        entries += 1;
        if (why !== undefined) unreadable += 1;
      }
    }
    // The period's checkpoints travel with the archive (JSON lines): verify --file compares both.
    if (checkpoints !== undefined && format === "jsonl") {
      for (const stored of await checkpoints.list({ since, until })) {
        await file.write(
          line({ itemType: "checkpoint", key: stored.key, versions: stored.versions, ...stored.checkpoint }),
        );
        kept += 1;
      }
    }
  } finally {
    await file.close();
  }
  const ledgerNote = entries > 0 ? `, ${entries} ledger entries` : "";
  out(
    `wrote ${args.out}: ${runCount} runs, ${actions} actions${ledgerNote}${kept > 0 ? `, ${kept} checkpoints` : ""}`,
  );
  warnUnreadable(io, unreadable);
  return ExitCode.Done;
}
