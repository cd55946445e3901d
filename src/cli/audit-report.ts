import { writeFile } from "node:fs/promises";
import { wire } from "../app.js";
import { ConfigError } from "../domain/errors.js";
import type { AuditReader } from "../evidence/reader.js";
import type { LedgerReader } from "../ports/ledger.js";
import type { PlanStore, StoredPlan } from "../ports/plans.js";
import type { ReadAction, ReadRun } from "../ports/records.js";
import { type ConfigOnRecord, renderReport } from "../report/html.js";
import { isFullListing, type LedgerCoverageFacts } from "../report/population-section.js";
import { defineCommand, EXIT_CODES_READ, parseCommandArgs } from "./args.js";
import {
  isUnreadable,
  PERIOD_NOTE,
  PERIOD_OPTIONS,
  period,
  settingsOrIssues,
  TABLE_ENV,
  warnUnreadable,
} from "./audit-shared.js";
import { verifyRuns } from "./audit-verify.js";
import { ExitCode } from "./exit-codes.js";
import type { CliIo } from "./io.js";

/** `audit report`: the period as one self-contained HTML page, its integrity verdict first. */

/**
 * How far before its coverage's date the coverage's run may have started (its lease, the
 * completion of earlier runs' intents): the run is found by its id within this much.
 */
const COVERAGE_RUN_SLACK_MS = 86_400_000;

export const AUDIT_REPORT = defineCommand({
  name: "audit report",
  summary: "one self-contained HTML report of the period",
  options: {
    ...PERIOD_OPTIONS,
    out: { type: "string", value: "FILE", required: true, description: "the HTML file to write (required)" },
  },
  details: [
    "The report holds totals per outcome and per rule, cancellations per day, the runs and every action of the period.",
    "It opens with the population the handshake ledger holds for the period and a completeness statement: from when the ledger covers the organization, the last full listing before the period (the runs are read back from the period's start until one is found), and every interval over 30 days without a full listing.",
    PERIOD_NOTE,
  ],
  exitCodes: EXIT_CODES_READ,
  environment: TABLE_ENV,
});

export async function report(argv: string[], io: CliIo): Promise<number> {
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
  const population = [];
  for await (const record of store.queryPopulation({ since, until })) population.push(record);
  const coverage = await coverageFacts(store, since);
  // The same verification as `audit verify --since --until`, shown at the top of the report.
  const verdict = await verifyRuns(store, [], { since, until });
  const plans = await plansNamed(store, actions);
  const html = renderReport({
    plans,
    population,
    coverage,
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

/** The plans the items name, as stored; an id with no plan on record is left out. */
async function plansNamed(
  store: Pick<PlanStore, "readPlan">,
  actions: readonly ReadAction[],
): Promise<StoredPlan[]> {
  const ids = [...new Set(actions.flatMap((action) => (action.planId === undefined ? [] : [action.planId])))];
  const plans: StoredPlan[] = [];
  for (const id of ids.sort()) {
    const stored = await store.readPlan(id);
    if (stored !== undefined) plans.push(stored);
  }
  return plans;
}

/** The config each distinct hash of the runs names, as recorded; a hash without one is left out. */
async function configsOnRecord(
  store: AuditReader,
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

/**
 * The ledger's coverage and the last full listing before the period, by Query only: the run
 * months from the period's start back to the coverage's, newest first, read until one is found.
 */
async function coverageFacts(
  store: Pick<AuditReader, "runsBefore"> & Pick<LedgerReader, "ledgerCoverage">,
  since: Date,
): Promise<LedgerCoverageFacts> {
  const coverage = await store.ledgerCoverage();
  if (coverage === undefined) return {};
  // The coverage's run started a moment before its listing, which is when the coverage is dated.
  const floor = new Date(Date.parse(coverage.at) - COVERAGE_RUN_SLACK_MS);
  for await (const run of store.runsBefore(since, floor)) {
    if (isFullListing(run, coverage)) return { coverage, before: run };
  }
  return { coverage };
}
