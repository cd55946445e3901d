import { readFile } from "node:fs/promises";
import { wire } from "../app.js";
import { chainedActions, DEFAULT_QUERY_WINDOW_DAYS } from "../aws/audit/index.js";
import { ConfigError } from "../domain/errors.js";
import { compareWithTable, ledgerHeadOf, verifyArchive } from "../evidence/archive.js";
import { type CheckpointPort, checkpointProblems } from "../evidence/checkpoints.js";
import { idOfFinding } from "../evidence/findings.js";
import { type RunEvidence, verifyRun } from "../evidence/integrity.js";
import { type ChainedLedgerEntry, verifyLedgerChain } from "../evidence/ledger.js";
import { orgChainProblems } from "../evidence/org-chain.js";
import type { AuditReader, StoredAction } from "../evidence/reader.js";
import { defineCommand, parseCommandArgs } from "./args.js";
import { PERIOD_NOTE, PERIOD_OPTIONS, period, settingsOrIssues, TABLE_ENV } from "./audit-shared.js";
import { ExitCode } from "./exit-codes.js";
import { visible } from "./format.js";
import type { CliIo } from "./io.js";

/** `audit verify`: the runs' chains, seals, keys and counts, the checkpoints, or an archive. */

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
    "With --file, the archive's runs instead: every chain and seal recomputed from the file, each run's handshake ledger chain checked against the head its seal covers, then every run's seal, action and ledger entry compared with the table's.",
    "With AUDIT_CHECKPOINT_BUCKET, a period's runs are also compared with the checkpoints the live runs left in that bucket (docs/checkpoints.md): a run erased from the table, or rewritten with every hash recomputed, is caught. Unset, a note on stderr says that the verdict covers only what the table says of itself.",
  ],
  exitCodes: `${ExitCode.Done} intact (or nothing to verify); ${ExitCode.IntegrityProblem} a problem found, one line each; ${ExitCode.Error} error (e.g. the audit table does not exist); ${ExitCode.Invalid} invalid arguments, nothing called`,
  environment: `${TABLE_ENV}, AUDIT_CHECKPOINT_BUCKET, AWS_ENDPOINT_URL_S3`,
});

export async function verify(argv: string[], io: CliIo): Promise<number> {
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
  // Acknowledged findings do not count against the verdict; they are said beside it all the same.
  for (const line of result.acknowledged ?? []) io.err(`note: ${visible(line)}\n`);
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
  /** Integrity findings someone acknowledged, one line each: not problems, still said. */
  acknowledged?: string[];
  /** How many checkpoints the table was compared with; undefined when none were read. */
  checkpoints?: number;
}

function verdictLine({ runs, items, problems }: Verification): string {
  return problems.length === 0
    ? `intact: ${runs} runs, ${items} action items`
    : `${problems.length} problems in ${runs} runs, ${items} action items`;
}

/**
 * The integrity findings the runs recorded (src/evidence/findings.ts): each one not acknowledged
 * is a problem; the acknowledged ones are answered as lines of their own, who and why.
 */
async function findingLines(
  store: AuditReader,
  evidence: ReadonlyMap<string, RunEvidence | undefined>,
  problems: string[],
  range?: { since: Date; until: Date },
): Promise<string[]> {
  const acknowledged: string[] = [];
  const said = new Set<string>();
  const say = async (by: string, finding: string) => {
    const id = idOfFinding(finding);
    if (said.has(id)) return;
    said.add(id);
    const ack = await store.findingAcknowledgement(id);
    if (ack === undefined) {
      problems.push(
        `${by}: integrity finding ${finding} (not acknowledged: audit acknowledge ${id} --note ...)`,
      );
    } else {
      acknowledged.push(
        `${by}: integrity finding ${id} acknowledged by ${ack.actor} at ${ack.at}: ${ack.note}`,
      );
    }
  };
  for (const [runId, run] of evidence) {
    const findings = run?.record.findings;
    if (!Array.isArray(findings)) continue;
    for (const finding of findings as string[]) await say(`run ${runId}`, finding);
  }
  // Findings made in the period outside any run's record (a plan refused as edited, say).
  if (range !== undefined) {
    for await (const { finding, by } of store.findingsIn(range)) {
      await say(by.startsWith("plan ") ? by : `run ${by}`, finding);
    }
  }
  return acknowledged;
}

/** A run that entered the handshake ledger: its entries are checked against its ledger head. */
function hasLedger(run: RunEvidence): boolean {
  return typeof run.record.ledgerLength === "number" && run.record.ledgerLength > 0;
}

/** A finished run that started and ended inside the range: the range's items hold all of its own. */
function wholeIn(run: RunEvidence, range: { since: Date; until: Date }): boolean {
  const { status, startedAt, endedAt } = run.record;
  if (status === "RUNNING" || typeof startedAt !== "string" || typeof endedAt !== "string") return false;
  return Date.parse(startedAt) >= range.since.getTime() && Date.parse(endedAt) < range.until.getTime();
}

/**
 * The runs named, and those of the period: found through their run items (RUN months) and through
 * their action items (ACTION months), so a run whose run item is gone or re-dated is still checked.
 */
export async function verifyRuns(
  store: AuditReader,
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
  // The period read once: its run items (RUN months) and its action items (ACTION months), kept
  // by run. A run that started and ended inside the period has all its items among them.
  const seen = new Map<string, RunEvidence>();
  const gathered = new Map<string, StoredAction[]>();
  if (range) {
    for await (const run of store.exportRuns(range)) {
      add(run.runId);
      seen.set(run.runId, run);
    }
    for await (const action of store.exportActions(range)) {
      add(action.keyRunId);
      const kept = gathered.get(action.keyRunId);
      if (kept === undefined) gathered.set(action.keyRunId, [action]);
      else kept.push(action);
    }
  }
  for (const stored of saved) if (stored.checkpoint) add(stored.checkpoint.runId);
  let items = 0;
  const problems: string[] = [];
  const evidence = new Map<string, RunEvidence | undefined>();
  const check = (runId: string, run: RunEvidence | undefined, actions: readonly StoredAction[]) => {
    const { items: chained, unreadable } = chainedActions(actions);
    return [...unreadable, ...verifyRun(runId, run, chained)];
  };
  for (const runId of ids) {
    let run = seen.get(runId);
    let actions = gathered.get(runId) ?? [];
    let found =
      run !== undefined && range !== undefined && wholeIn(run, range)
        ? check(runId, run, actions)
        : undefined;
    // Its ledger entries are on no time index: read from its partition, they alone, once the
    // period's reads of its run item and actions are found intact.
    if (found?.length === 0 && run !== undefined && hasLedger(run)) {
      const ledger: ChainedLedgerEntry[] = [];
      for await (const entry of store.runLedger(runId)) ledger.push(entry);
      found.push(...verifyLedgerChain(runId, ledgerHeadOf(run.record), ledger));
    }
    // A run reaching outside the period, one named by --run or found only by its actions, and any
    // run the period's reads find fault with: read whole and consistently from the base table, so
    // that no problem rests on an index that may lag the table.
    if (found === undefined || found.length > 0) {
      const chain = await store.readChain(runId);
      run = chain.run;
      actions = chain.actions;
      found = check(runId, run, actions);
      // The run's ledger entries against the ledger head its seal covers (a missing run item is
      // named above already).
      if (chain.ledger !== undefined && chain.run !== undefined) {
        found.push(...verifyLedgerChain(runId, ledgerHeadOf(chain.run.record), chain.ledger));
      }
    }
    evidence.set(runId, run);
    items += actions.length;
    problems.push(...found);
  }
  // The organization's chain across the runs: a run deleted, reopened or rewritten breaks the
  // link of the run sealed after it, or the head's.
  problems.push(
    ...(await orgChainProblems(evidence, await store.orgHead(), (runId) => store.runEvidence(runId))),
  );
  const acknowledged = await findingLines(store, evidence, problems, range);
  if (checkpoints === undefined || range === undefined)
    return { runs: ids.length, items, problems, acknowledged };
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
  return { runs: ids.length, items, problems, acknowledged, checkpoints: saved.length };
}

/** An archive checked from the file alone, then against the table. */
async function verifyFile(store: AuditReader, file: string, out: (text: string) => void): Promise<number> {
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
  const { runs, problems, checkpoints } = verifyArchive(text);
  let items = 0;
  let entries = 0;
  const evidence = new Map<string, RunEvidence | undefined>();
  for (const [runId, archived] of runs) {
    items += archived.items.length;
    entries += archived.ledger.length;
    const chain = await store.readChain(runId);
    evidence.set(runId, chain.run);
    const { items: chained, unreadable } = chainedActions(chain.actions);
    // Never weaker than verifying the table: the run's own checks first (an item forged after the
    // export shows there), then the comparison with the archive.
    const own = [...unreadable, ...verifyRun(runId, chain.run, chained)];
    if (chain.run !== undefined && chain.ledger !== undefined) {
      own.push(...verifyLedgerChain(runId, ledgerHeadOf(chain.run.record), chain.ledger));
    }
    const compared = compareWithTable(runId, archived, {
      ...(chain.run ? { run: chain.run } : {}),
      items: chained,
      ...(chain.ledger ? { ledger: chain.ledger } : {}),
    });
    for (const line of [...own, ...compared]) if (!problems.includes(line)) problems.push(line);
  }
  // The organization's chain over the archived runs as the table holds them, as verify checks it.
  const links = await orgChainProblems(evidence, await store.orgHead(), (runId) => store.runEvidence(runId));
  for (const line of links) if (!problems.includes(line)) problems.push(line);
  // The table against the checkpoints the archive carries: a run erased or rewritten since is named.
  for (const stored of checkpoints) {
    const runId = stored.checkpoint?.runId ?? "";
    const table = evidence.has(runId) ? evidence.get(runId) : await store.runEvidence(runId);
    for (const line of checkpointProblems(stored, table)) if (!problems.includes(line)) problems.push(line);
  }
  // And the findings the archived runs recorded, as verify names them.
  const found: string[] = [];
  await findingLines(store, evidence, found);
  for (const line of found) if (!problems.includes(line)) problems.push(line);
  // The archive's text is as untrusted as the table's: shown as cells, never acted on.
  for (const line of problems) out(visible(line));
  const ledgerNote = entries > 0 ? `, ${entries} ledger entries` : "";
  out(
    `${verdictLine({ runs: runs.size, items, problems })}${ledgerNote} (archive ${file}, compared with the table)`,
  );
  return problems.length === 0 ? ExitCode.Done : ExitCode.IntegrityProblem;
}
