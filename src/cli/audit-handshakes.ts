/**
 * `audit handshakes` and `audit handshake`: the handshake ledger for people (docs/audit.md, "The
 * ledger"). The population of a period, each handshake with its last known state, the verdict on
 * it and the janitor's actions on it; and one handshake's lifecycle, its ledger entries and the
 * actions on it interleaved in time. DynamoDB Query only.
 */
import { wire } from "../app.js";
import { ConfigError } from "../domain/errors.js";
import { HANDSHAKE_ID_PATTERN } from "../domain/handshake.js";
import { LEDGER_VERDICTS, type ReadLedgerRecord } from "../ports/ledger.js";
import type { ReadAction } from "../ports/records.js";
import { defineCommand, EXIT_CODES_READ, oneOf, parseCommandArgs } from "./args.js";
import * as shared from "./audit-shared.js";
import { ExitCode } from "./exit-codes.js";
import { type Row, visible } from "./format.js";
import type { CliIo } from "./io.js";

const VERDICT_FILTERS = [...LEDGER_VERDICTS, "escaped"] as const;
const FORMAT_OPTION = {
  type: "string",
  value: "F",
  description: "table (default, for people), json (one object per line) or csv (RFC 4180)",
} as const;
const WIDE = {
  type: "boolean",
  description:
    "table format: print every cell whole (default: cells over 60 characters are cut, ending in …)",
} as const;

const POPULATION_COLUMNS = [
  "handshakeId",
  "requestedAt",
  "action",
  "target",
  "targetType",
  "requester",
  "state",
  "verdict",
  "escaped",
  "ruleId",
  "selection",
  "exemption",
  "configHash",
  "firstSeenAt",
  "firstSeenRun",
  "changedAt",
  "changedRun",
  "goneAt",
  "expiresAt",
  "notes",
  "flags",
  "actions",
];
const POPULATION_TABLE = [
  "requestedAt",
  "handshakeId",
  "action",
  "target",
  "state",
  "verdict",
  "ruleId",
  "actions",
  "goneAt",
  "flags",
];
const LIFECYCLE_COLUMNS = [
  "at",
  "entry",
  "runId",
  "state",
  "verdict",
  "ruleId",
  "outcome",
  "reason",
  "escaped",
  "flags",
];
const LIFECYCLE_TABLE = ["at", "entry", "runId", "state", "verdict", "ruleId", "outcome", "reason"];

export const AUDIT_HANDSHAKES = defineCommand({
  name: "audit handshakes",
  summary:
    "the population: every handshake requested in the period that the janitor saw, its last known state, the verdict on it and the janitor's actions on it",
  options: {
    ...shared.PERIOD_OPTIONS,
    state: {
      type: "string",
      value: "S",
      description: "handshakes whose last known state is S (OPEN, ACCEPTED, …)",
    },
    verdict: {
      type: "string",
      value: "V",
      description: `handshakes with this verdict: ${VERDICT_FILTERS.join(", ")} (selected by a rule and closed by the invitee first)`,
    },
    target: {
      type: "string",
      value: "P",
      description: "handshakes whose target matches P (* and ? wildcards, case-insensitive)",
    },
    format: FORMAT_OPTION,
    wide: WIDE,
  },
  details: [
    "The period is of requestedAt (first seen, for an entry that lacks it). The ledger keeps handshakes after AWS stops listing them (30 days after they close): goneAt says when a full listing first lacked one.",
    shared.PERIOD_NOTE,
  ],
  exitCodes: EXIT_CODES_READ,
  environment: shared.TABLE_ENV,
});

export const AUDIT_HANDSHAKE = defineCommand({
  name: "audit handshake",
  summary: "one handshake's lifecycle: its ledger entries and the janitor's actions on it, in time",
  operands: "HANDSHAKE",
  options: { format: FORMAT_OPTION, wide: WIDE },
  details: ["HANDSHAKE is a handshake id (h-…), as `audit handshakes` lists it."],
  exitCodes: EXIT_CODES_READ,
  environment: shared.TABLE_ENV,
});

/** `*` and `?` wildcards, anchored, case-insensitive; everything else literal. */
function wildcard(pattern: string): RegExp {
  const body = [...pattern]
    .map((char) => (char === "*" ? ".*" : char === "?" ? "." : char.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`, "i");
}

function actionText(action: ReadAction): string {
  return `${action.outcome ?? "INTENT"} ${action.at ?? ""} (${action.runId})`.trim();
}

export async function handshakes(argv: string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(AUDIT_HANDSHAKES, argv).values;
  const issues: string[] = [];
  const range = shared.period(args, issues);
  const verdict = oneOf("--verdict", args.verdict, VERDICT_FILTERS, issues);
  const format = oneOf("--format", args.format, shared.FORMATS, issues) ?? "table";
  const settings = shared.settingsOrIssues(io.env, issues);
  if (issues.length > 0 || range === undefined) throw new ConfigError(issues);
  const target = args.target === undefined ? undefined : wildcard(args.target);
  const state = args.state?.toUpperCase();
  const { audit } = wire(settings);

  const records: ReadLedgerRecord[] = [];
  for await (const record of audit.queryPopulation(range)) {
    if (state !== undefined && record.state !== state) continue;
    if (verdict === "escaped" ? record.escaped !== true : verdict !== undefined && record.verdict !== verdict)
      continue;
    if (target !== undefined && !target.test(record.target ?? "")) continue;
    records.push(record);
  }
  // The janitor's actions on them: those recorded from the period's start on, by time.
  const actions = new Map<string, ReadAction[]>();
  if (records.length > 0) {
    const wanted = new Set(records.map((r) => r.handshakeId));
    for await (const action of audit.queryActions({ since: range.since, until: new Date() })) {
      if (!wanted.has(action.handshakeId)) continue;
      actions.set(action.handshakeId, [...(actions.get(action.handshakeId) ?? []), action]);
    }
  }
  const rows: Row[] = records.map((record) => {
    const done = actions.get(record.handshakeId) ?? [];
    const row: Row = { ...record };
    if (format === "table") {
      row.actions = done.map(actionText).join("; ");
      row.verdict = record.escaped === true ? `${record.verdict ?? "?"}, escaped` : record.verdict;
      row.flags = record.flags?.join("; ");
    } else if (format === "csv") {
      row.actions = done.map(actionText).join("; ");
      row.flags = record.flags?.join("; ");
    } else {
      row.actions = done.map((a) => ({ runId: a.runId, at: a.at, outcome: a.outcome, ruleId: a.ruleId }));
    }
    return row;
  });
  io.out(
    shared.render(
      rows,
      format,
      POPULATION_COLUMNS,
      POPULATION_TABLE,
      "no handshakes in the ledger match",
      args.wide === true,
    ),
  );
  shared.warnUnreadable(io, rows.filter(shared.isUnreadable).length);
  return ExitCode.Done;
}

export async function handshake(argv: string[], io: CliIo): Promise<number> {
  const { values: args, positionals } = parseCommandArgs(AUDIT_HANDSHAKE, argv);
  const issues: string[] = [];
  const [id, ...extra] = positionals;
  if (id === undefined) issues.push("HANDSHAKE: give a handshake id (h-…)");
  else if (!HANDSHAKE_ID_PATTERN.test(id) && !/^unidentified-[0-9a-f]{16}$/.test(id)) {
    issues.push(`HANDSHAKE: ${visible(id)} is not a handshake id`);
  }
  if (extra.length > 0) issues.push(`HANDSHAKE: one handshake at a time, not ${positionals.length}`);
  const format = oneOf("--format", args.format, shared.FORMATS, issues) ?? "table";
  const settings = shared.settingsOrIssues(io.env, issues);
  if (issues.length > 0 || id === undefined) throw new ConfigError(issues);
  const { audit } = wire(settings);
  const { record, entries } = await audit.handshakeLedger(id);
  const rows: Row[] = entries.map((entry) => ({
    ...entry,
    entry: entry.kind ?? "?",
    state: entry.previousState === undefined ? entry.state : `${entry.previousState} -> ${entry.state}`,
    ...(format === "json" ? {} : { flags: entry.flags?.join("; ") }),
  }));
  for await (const action of audit.queryActions({ handshakeId: id })) {
    rows.push({ ...action, entry: "action" });
  }
  rows.sort((a, b) => String(a.at ?? "").localeCompare(String(b.at ?? "")));
  if (format === "table" && record !== undefined) {
    const gone = record.goneAt === undefined ? "" : `, no longer listed by AWS since ${record.goneAt}`;
    const escaped = record.escaped === true ? ", escaped" : "";
    io.out(
      visible(
        `${id}: ${record.action ?? "?"} to ${record.target ?? "(no target)"}, ${record.state ?? "?"}; verdict ${record.verdict ?? "?"}${escaped}${gone}`,
      ),
    );
  }
  io.out(
    shared.render(
      rows,
      format,
      LIFECYCLE_COLUMNS,
      LIFECYCLE_TABLE,
      `nothing recorded about ${id}`,
      args.wide === true,
    ),
  );
  shared.warnUnreadable(
    io,
    rows.filter(shared.isUnreadable).length + (record !== undefined && shared.isUnreadable(record) ? 1 : 0),
  );
  return ExitCode.Done;
}
