import { open, readFile, writeFile } from "node:fs/promises";
import { wire } from "../app.js";
import {
  type ActionFilter,
  type AuditQueries,
  chainedActions,
  DEFAULT_QUERY_WINDOW_DAYS,
} from "../aws/audit/index.js";
import { AUDIT_TTL_ATTRIBUTE } from "../aws/audit-table.js";
import { ensureAuditTable } from "../aws/audit-table-init.js";
import { type CheckpointPort, checkpointProblems } from "../core/checkpoints.js";
import { compareWithTable, type RunEvidence, verifyArchive, verifyRun } from "../core/integrity.js";
import { AUDIT_ATTRIBUTES, type ReadAction, type ReadRun } from "../core/ports.js";
import { ConfigError } from "../domain/errors.js";
import { OUTCOMES } from "../domain/outcomes.js";
import { jsonText } from "../domain/visible.js";
import { type ConfigOnRecord, renderReport } from "../report/html.js";
import { type Environment, loadSettings, parseTableSettings, type Settings } from "../settings.js";
import {
  type CommandSpec,
  defineCommand,
  EXIT_CODES_READ,
  type OptionTable,
  oneOf,
  parseCommandArgs,
  parseDate,
} from "./args.js";
import { ExitCode } from "./exit-codes.js";
import { csvField, formatCsv, formatJsonLines, formatTable, type Row, visible } from "./format.js";
import type { CliIo, CommandHandler } from "./io.js";

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
  "notifyError",
  "countsStale",
];
/**
 * Why an item could not be read in full (readers show it and carry on): the last column of CSV,
 * so its columns never change; in a table only when some row has it; in JSON only on that row.
 */
const UNREADABLE = "unreadable";
/** What an archive needs to be checked later: the contract plus the chain link. */
const EXPORT_COLUMNS = [
  "itemType",
  ...AUDIT_ATTRIBUTES,
  "chainSeq",
  "chainHash",
  "chainPrev",
  "seal",
  "chainHead",
  "chainLength",
  "awaitingLink",
  ...RUN_DATA_COLUMNS.filter((c) => !(AUDIT_ATTRIBUTES as readonly string[]).includes(c)),
  UNREADABLE,
];

const TABLE_ENV =
  "AUDIT_TABLE_NAME (required), AWS_REGION, the SDK's credential chain, AWS_ENDPOINT_URL_DYNAMODB";

const PERIOD_OPTIONS = {
  since: {
    type: "string",
    value: "D",
    description: `start of the period, included (default: ${DEFAULT_QUERY_WINDOW_DAYS} days before --until)`,
  },
  until: { type: "string", value: "D", description: "end of the period, excluded (default: now)" },
} as const satisfies OptionTable;

const PERIOD_NOTE =
  "D is a date, YYYY-MM-DD (its midnight UTC), or an ISO-8601 instant with a time zone. The period includes --since and excludes --until: --until 2026-04-01 ends with March.";

const WIDE_OPTION = {
  wide: {
    type: "boolean",
    description:
      "table format: print every cell whole (default: cells over 60 characters are cut, ending in …)",
  },
} as const satisfies OptionTable;

export const AUDIT_INIT = defineCommand({
  name: "audit init",
  summary: "create the audit table if it is missing, exactly as deployed",
  options: {},
  details: [
    "The deployed definition: keys, the four indexes, and TTL on expiresAt when AUDIT_RETENTION_DAYS is set. The deployment's table is handshake-janitor-<stage>-audit.",
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
    format: {
      type: "string",
      value: "F",
      description: "table (default, for people), json (one object per line) or csv (RFC 4180)",
    },
    ...WIDE_OPTION,
  },
  details: [
    PERIOD_NOTE,
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

export const AUDIT_REPORT = defineCommand({
  name: "audit report",
  summary: "one self-contained HTML report of the period",
  options: {
    ...PERIOD_OPTIONS,
    out: { type: "string", value: "FILE", required: true, description: "the HTML file to write (required)" },
  },
  details: [
    "The report holds totals per outcome and per rule, cancellations per day, the runs and every action of the period.",
    PERIOD_NOTE,
  ],
  exitCodes: EXIT_CODES_READ,
  environment: TABLE_ENV,
});

export const AUDIT_VERIFY = defineCommand({
  name: "audit verify",
  summary:
    "check the runs' hash chains, seals, keys and counts; one line per altered, missing or unlinked item",
  options: {
    run: { type: "string", multiple: true, value: "ID", description: "verify run ID (instead of a period)" },
    ...PERIOD_OPTIONS,
    file: {
      type: "string",
      value: "EXPORT",
      description:
        "verify an archive `audit export` wrote as JSON lines: offline from the file alone, then against the table",
    },
  },
  details: [
    PERIOD_NOTE,
    `Without --run, verifies the runs of the period (default: the last ${DEFAULT_QUERY_WINDOW_DAYS} days): those with a run item in the period and those with an action item in it; with --run and a period, both. A period without runs says "nothing to verify".`,
    "With --file, the archive's runs instead: every chain and seal recomputed from the file, then every run's seal and every action compared with the table's.",
    "With AUDIT_CHECKPOINT_BUCKET, a period's runs are also compared with the checkpoints the live runs left in that bucket (docs/checkpoints.md): a run erased from the table, or rewritten with every hash recomputed, is caught. Unset, a note on stderr says that the verdict covers only what the table says of itself.",
  ],
  exitCodes: `${ExitCode.Done} intact (or nothing to verify); ${ExitCode.IntegrityProblem} a problem found, one line each; ${ExitCode.Error} error (e.g. the audit table does not exist); ${ExitCode.Invalid} invalid arguments, nothing called`,
  environment: `${TABLE_ENV}, AUDIT_CHECKPOINT_BUCKET, AWS_ENDPOINT_URL_S3`,
});

export const AUDIT_EXPORT = defineCommand({
  name: "audit export",
  summary: "archive every run and action item of the period once, with their chain links",
  options: {
    ...PERIOD_OPTIONS,
    format: { type: "string", value: "F", description: "jsonl (default, one object per line) or csv" },
    out: { type: "string", value: "FILE", required: true, description: "the file to write (required)" },
  },
  details: [PERIOD_NOTE],
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
  { spec: AUDIT_EXPORT, handler: exportItems },
];

async function init(argv: string[], { out, env }: CliIo): Promise<number> {
  parseCommandArgs(AUDIT_INIT, argv);
  const { clients, tableName, settings } = wire(loadSettings(env));
  // TTL only when a retention is configured: otherwise no item carries the attribute anyway.
  const ttl = settings.auditRetentionDays === undefined ? {} : { ttlAttribute: AUDIT_TTL_ATTRIBUTE };
  const result = await ensureAuditTable(clients.dynamodb, tableName, ttl);
  out(result === "created" ? `created audit table ${tableName}` : `audit table ${tableName} already exists`);
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
  for await (const item of store.queryActions(filter)) rows.push({ ...item });
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

/**
 * The period every period command shares: --until defaults to now, --since to
 * DEFAULT_QUERY_WINDOW_DAYS before --until; --since is included, --until excluded.
 * Undefined when a date is invalid (the problem is in `issues`).
 */
function period(
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

async function report(argv: string[], io: CliIo): Promise<number> {
  const { out } = io;
  const args = parseCommandArgs(AUDIT_REPORT, argv).values;
  const issues: string[] = [];
  const range = period(args, issues);
  if (!args.out) issues.push("--out: required (the HTML file to write)");
  const settings = settingsOrIssues(io.env, issues);
  if (issues.length > 0 || !range || !args.out) throw new ConfigError(issues);
  const { since, until } = range;
  const { audit: store, tableName } = wire(settings);
  const actions: ReadAction[] = [];
  for await (const action of store.queryActions({ since, until })) actions.push(action);
  const runList: ReadRun[] = [];
  for await (const run of store.listRuns({ since, until })) runList.push(run);
  const configs = await configsOnRecord(store, runList);
  // The same verification as `audit verify --since --until`, shown at the top of the report.
  const verdict = await verifyRuns(store, [], { since, until });
  const html = renderReport({
    verdict,
    since,
    until,
    generatedAt: new Date(),
    tableName,
    actions,
    runs: runList,
    configs,
  });
  await writeFile(args.out, html);
  out(`wrote ${args.out}: ${actions.length} actions, ${runList.length} runs`);
  warnUnreadable(io, [...actions, ...runList].filter(isUnreadable).length);
  if (verdict.problems.length > 0) {
    io.err(
      `warning: the period does not verify: ${verdict.problems.length} problems, listed at the top of the report (audit verify names them)\n`,
    );
  }
  return ExitCode.Done;
}

/** The config each distinct hash of the runs names, as recorded; a hash without one is left out. */
async function configsOnRecord(
  store: AuditQueries,
  runList: readonly ReadRun[],
): Promise<Map<string, ConfigOnRecord>> {
  const configs = new Map<string, ConfigOnRecord>();
  const hashes = runList.flatMap((run) => (run.configHash === undefined ? [] : [run.configHash]));
  for (const hash of new Set(hashes)) {
    try {
      const json = await store.getConfig(hash);
      if (json !== undefined) configs.set(hash, { json });
    } catch (error) {
      configs.set(hash, { unreadable: error instanceof Error ? error.message : String(error) });
    }
  }
  return configs;
}

async function verify(argv: string[], io: CliIo): Promise<number> {
  const { out } = io;
  const args = parseCommandArgs(AUDIT_VERIFY, argv).values;
  const issues: string[] = [];
  const runIds = args.run ?? [];
  if (
    args.file !== undefined &&
    (runIds.length > 0 || args.since !== undefined || args.until !== undefined)
  ) {
    issues.push("--file: verifies the archive's runs; give it without --run, --since or --until");
  }
  // --run alone verifies those runs; otherwise the period's runs too (by default the last days).
  const periodWanted =
    args.file === undefined && (runIds.length === 0 || args.since !== undefined || args.until !== undefined);
  const range = periodWanted ? period(args, issues) : undefined;
  const settings = settingsOrIssues(io.env, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  const { audit: store, checkpoints } = wire(settings);
  if (args.file !== undefined) return verifyFile(store, args.file, out);
  const result = await verifyRuns(store, runIds, range, range ? checkpoints : undefined);
  if (result.runs === 0 && range) {
    out(
      `nothing to verify: no run started between ${range.since.toISOString()} (included) and ${range.until.toISOString()} (excluded)`,
    );
    return ExitCode.Done;
  }
  // Keys and read errors come from the table: shown like table cells, never acted on.
  for (const line of result.problems) out(visible(line));
  out(verdictLine(result));
  // What the verdict rests on, on stderr beside it: the verdict's own line stays one line.
  const basis =
    checkpoints === undefined
      ? "no checkpoints (AUDIT_CHECKPOINT_BUCKET unset): this verdict covers only what the table says of itself"
      : range === undefined
        ? "checkpoints are compared for a period (--since/--until), not for --run alone"
        : `compared with ${result.checkpoints ?? 0} checkpoints in s3://${settings.checkpointBucket}`;
  io.err(`note: ${basis}\n`);
  return result.problems.length === 0 ? ExitCode.Done : ExitCode.IntegrityProblem;
}

export interface Verification {
  runs: number;
  items: number;
  problems: string[];
  /** How many checkpoints the table was compared with; undefined when none were read. */
  checkpoints?: number;
}

function verdictLine({ runs, items, problems }: Verification): string {
  return problems.length === 0
    ? `intact: ${runs} runs, ${items} action items`
    : `${problems.length} problems in ${runs} runs, ${items} action items`;
}

/**
 * The runs named, and those of the period: found through their run items (RUN months) and through
 * their action items (ACTION months), so a run whose run item is gone or re-dated is still checked.
 */
export async function verifyRuns(
  store: AuditQueries,
  runIds: readonly string[],
  range: { since: Date; until: Date } | undefined,
  checkpoints?: CheckpointPort,
): Promise<Verification> {
  const ids = [...runIds];
  const add = (runId: string) => {
    if (!ids.includes(runId)) ids.push(runId);
  };
  // A checkpointed run is checked even when nothing of it is left in the table.
  const saved = range && checkpoints ? await checkpoints.list(range) : [];
  if (range) {
    for await (const run of store.listRuns(range)) add(run.runId);
    for await (const action of store.exportActions(range)) add(action.keyRunId);
  }
  for (const stored of saved) if (stored.checkpoint) add(stored.checkpoint.runId);
  let items = 0;
  const problems: string[] = [];
  const evidence = new Map<string, RunEvidence | undefined>();
  for (const runId of ids) {
    const chain = await store.readChain(runId);
    evidence.set(runId, chain.run);
    items += chain.actions.length;
    const { items: chained, unreadable } = chainedActions(chain.actions);
    problems.push(...unreadable, ...verifyRun(runId, chain.run, chained));
  }
  if (checkpoints === undefined || range === undefined) return { runs: ids.length, items, problems };
  for (const stored of saved) {
    problems.push(...checkpointProblems(stored, stored.checkpoint && evidence.get(stored.checkpoint.runId)));
  }
  // A live run that ended sealed while checkpoints were kept has one; one without is named.
  const checkpointed = new Set(
    saved.flatMap((stored) => (stored.checkpoint ? [stored.checkpoint.runId] : [])),
  );
  const firstKept = saved.reduce<string | undefined>(
    (first, stored) =>
      stored.checkpoint && (first === undefined || stored.checkpoint.startedAt < first)
        ? stored.checkpoint.startedAt
        : first,
    undefined,
  );
  for (const [runId, run] of evidence) {
    const started = String(run?.record.startedAt ?? "");
    if (run?.seal === undefined || run.record.dryRun !== false || checkpointed.has(runId)) continue;
    if (firstKept === undefined || started < firstKept) continue;
    problems.push(
      `run ${runId}: a live run that ended sealed, with no checkpoint in the bucket (its write failed, or it was removed)`,
    );
  }
  return { runs: ids.length, items, problems, checkpoints: saved.length };
}

/** An archive checked from the file alone, then against the table. */
async function verifyFile(store: AuditQueries, file: string, out: (text: string) => void): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigError([
      `--file: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
  if (text.startsWith("itemType,")) {
    throw new ConfigError([
      `--file: ${file} is a CSV export; verify reads the JSON lines one (audit export --format jsonl)`,
    ]);
  }
  const { runs, problems } = verifyArchive(text);
  let items = 0;
  for (const [runId, archived] of runs) {
    items += archived.items.length;
    const chain = await store.readChain(runId);
    const { items: chained, unreadable } = chainedActions(chain.actions);
    // Never weaker than verifying the table: the run's own checks first (an item forged after the
    // export shows there), then the comparison with the archive.
    const own = [...unreadable, ...verifyRun(runId, chain.run, chained)];
    const compared = compareWithTable(runId, archived, {
      ...(chain.run ? { run: chain.run } : {}),
      items: chained,
    });
    for (const line of [...own, ...compared]) if (!problems.includes(line)) problems.push(line);
  }
  // The archive's text is as untrusted as the table's: shown as cells, never acted on.
  for (const line of problems) out(visible(line));
  out(`${verdictLine({ runs: runs.size, items, problems })} (archive ${file}, compared with the table)`);
  return problems.length === 0 ? ExitCode.Done : ExitCode.IntegrityProblem;
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
  const { audit: store } = wire(settings);
  const file = await open(args.out, "w");
  let actions = 0;
  let runCount = 0;
  let unreadable = 0;
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
  } finally {
    await file.close();
  }
  out(`wrote ${args.out}: ${runCount} runs, ${actions} actions`);
  warnUnreadable(io, unreadable);
  return ExitCode.Done;
}

function render(
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

function isUnreadable(row: { unreadable?: unknown }): boolean {
  return row.unreadable !== undefined;
}

/**
 * Readers show an item they cannot read in full, flagged, and finish (exit 0); the count goes to
 * stderr, so it is seen without disturbing the output.
 */
function warnUnreadable(io: CliIo, count: number): void {
  if (count === 0) return;
  const items = count === 1 ? "1 audit item" : `${count} audit items`;
  io.err(
    `warning: ${items} could not be read in full, shown flagged '${UNREADABLE}'; audit verify names what is wrong\n`,
  );
}

/** The settings, with every problem of theirs (a missing AUDIT_TABLE_NAME too) added to `issues`. */
function settingsOrIssues(env: Environment | undefined, issues: string[]): Settings {
  const parsed = parseTableSettings(env);
  issues.push(...parsed.issues);
  return parsed.settings;
}
