import { canonicalConfigJson, configHash, type JanitorConfig } from "../config/config.js";
import { describeError, LeaseHeldError } from "../domain/errors.js";
import { type SweepLogger, silentLogger } from "../domain/logger.js";
import { maskEmails } from "../domain/mask.js";
import type { Outcome, OutcomeCounts, RunStatus } from "../domain/outcomes.js";
import { findingsOf, headProblems } from "../evidence/findings.js";
import type { RunRecord, RunSealed } from "../ports/records.js";
import type { RunJournal } from "../ports/run-journal.js";
import { plans, recordPlan } from "./approval.js";
import { cancelAll } from "./cancel.js";
import { keepLease, type LeaseKeeper } from "./lease.js";
import { type PlannedSweep, planSweep } from "./plan.js";
import { prepare } from "./prepare.js";
import { closeMarks, recordFinalsTogether } from "./record.js";
import { ORGANIZATION_SCOPE } from "./scope.js";
import type { ActionSummary, RunState, RunSummary, SweepDeps, SweepRequest } from "./types.js";

export { type SweepLogger, silentLogger } from "../domain/logger.js";
export type { ActionSummary, RunState, RunSummary, SweepDeps, SweepRequest } from "./types.js";

/** Outcomes that leave a match unresolved: the run is partial (exit 3). */
const UNFINISHED: readonly Outcome[] = ["DEFERRED", "FAILED"];

/**
 * One sweep: list, decide, and for each decision record the intent, act, record the outcome.
 * Nothing is canceled without an intent on record, and nothing the planner did not select.
 *
 * A live run first takes the organization's lease, before its run item exists: a run that finds
 * the lease held throws LeaseHeldError and leaves nothing behind. A dry run cancels nothing and
 * reconciles nothing, so it needs no lease.
 */
export async function sweep(request: SweepRequest, deps: SweepDeps): Promise<RunSummary> {
  const log = deps.logger ?? silentLogger;
  const lease = await takeLease(request, deps, log);
  try {
    const begun = await startOrReplay(request, deps, log);
    if ("replayed" in begun) return begun.replayed;
    // The trail is checked while the organization is listed: the listing reads the handshakes and
    // enters them in the ledger, and touches no sealed run's chain; what is left over is linked
    // (prepare) only once the check is done.
    const checking = checkTrail(deps, log);
    // Renewing starts once the run item exists, so the first renewal notes the lease on it at once.
    const keeper = lease.keep();
    const runWith = (findings: readonly string[]): RunState => ({
      request,
      deps,
      log,
      dryRun: isDryRun(request),
      scope: request.scope ?? ORGANIZATION_SCOPE,
      findings,
      lease: keeper,
    });
    const planning = planSweep(runWith([]), begun.started);
    // Its failure is taken up below, once the check is done; until then it is not unhandled.
    planning.catch(() => {});
    const run = runWith(await checking);
    // The run's decisions, in the order the phases made them.
    const actions: ActionSummary[] = [];
    let reconciled = 0;
    let planned: PlannedSweep | undefined;
    let plan: RunSummary["plan"];
    let ending: Ending;
    try {
      // Completing what interrupted runs left and listing the organization touch different things
      // (earlier runs' items; the handshakes as they are now), so neither waits for the other;
      // nothing of this run is recorded or canceled before both are done.
      const [prepared, listed] = await Promise.allSettled([prepare(run), planning]);
      if (prepared.status === "rejected") throw prepared.reason;
      if (listed.status === "rejected") throw listed.reason;
      reconciled = prepared.value;
      planned = listed.value;
      actions.push(...(await recordFinalsTogether(run, planned.finals)));
      // The plan names only handshakes whose PLANNED item is on record, and is written after them.
      if (plans(run)) plan = await recordPlan(run, planned.decisions, actions);
      actions.push(...(await cancelAll(run, planned.toCancel, planned.ledger)));
      if (!run.dryRun) await closeMarks(run, planned.decisions, actions);
      ending = { status: planned.blocked ? "BLOCKED" : statusOf(actions) };
    } catch (error) {
      ending = { status: "FAILED", error: describeError(error) };
      log.error("run failed", { error: maskEmails(describeError(error)) });
    }
    // The ledger is entered behind the run, the cancel phase handing it each CANCELED outcome as it
    // is recorded; its head must be on the run item before the seal.
    const ledger = await planned?.ledger?.finish();
    const summary = await finishSweep(run, {
      ...begun,
      ...ending,
      listing: planned?.listing,
      reconciled,
      actions,
    });
    return {
      ...summary,
      ...planOf(request, plan),
      ...(ledger === undefined ? {} : { ledger }),
    };
  } finally {
    await lease.release();
  }
}

/**
 * The check before a run extends the trail (src/evidence/findings.ts): the organization's chain
 * head, as verify checks it. Each problem is an integrity finding, logged at ERROR; a check that
 * cannot be made is only a warning, as the next run makes it again.
 */
async function checkTrail(deps: SweepDeps, log: SweepLogger): Promise<string[]> {
  if (deps.evidence === undefined) return [];
  let problems: string[];
  try {
    problems = await headProblems(deps.evidence);
  } catch (error) {
    log.warn("could not check the trail before extending it; the next run checks it", {
      error: describeError(error),
    });
    return [];
  }
  const findings = findingsOf(problems);
  for (const finding of findings) {
    log.error("integrity finding: the trail is not as it was sealed; nothing left over is linked", {
      finding: maskEmails(finding),
    });
  }
  return findings;
}

/** The plan the run recorded, or the one it applied, for its summary. */
function planOf(request: SweepRequest, recorded: RunSummary["plan"]): Pick<RunSummary, "plan"> {
  if (recorded !== undefined) return { plan: recorded };
  const apply = request.apply;
  if (apply === undefined) return {};
  const { plan } = apply.stored;
  return {
    plan: {
      planId: plan.planId,
      expiresAt: plan.expiresAt,
      maker: plan.maker,
      handshakes: plan.entries.length,
      approver: apply.approver,
    },
  };
}

function isDryRun(request: SweepRequest): boolean {
  return request.config.dryRun || request.dryRun === true;
}

/** The organization's lease as a run holds it: renewed from `keep()` on, freed by `release()`. */
interface LeaseHold {
  /** Starts renewing; undefined when the run took no lease. */
  keep(): LeaseKeeper | undefined;
  /** Never throws. */
  release(): Promise<void>;
}

const NO_LEASE: LeaseHold = { keep: () => undefined, release: async () => {} };

/**
 * Takes the lease of a live sweep of the organization; throws LeaseHeldError when another run
 * holds it. A dry run cancels nothing and reconciles nothing, and a real-time run's caller holds
 * its one handshake's claim: neither takes the lease.
 */
async function takeLease(request: SweepRequest, deps: SweepDeps, log: SweepLogger): Promise<LeaseHold> {
  const { lease: store, now } = deps;
  if (isDryRun(request) || !(request.scope ?? ORGANIZATION_SCOPE).takesLease) return NO_LEASE;
  const claim = await store.acquireLease(request.runId);
  if (!claim.acquired) throw new LeaseHeldError(claim.holder, now().getTime());
  let keeper: LeaseKeeper | undefined;
  return {
    keep() {
      keeper = keepLease({ store, runId: request.runId, lease: claim.lease, now, log });
      return keeper;
    },
    async release() {
      if (keeper) await keeper.release();
      // A replayed run never started renewing; the lease is freed all the same.
      else await store.releaseLease(request.runId).catch(() => false);
    },
  };
}

type Begun = { replayed: RunSummary } | { record: RunRecord; started: Date };

/**
 * The start phase: the run item, then the config it applies. A run id that has already finished
 * (a retried event) is replayed: its recorded summary comes back and nothing is done again.
 */
async function startOrReplay(request: SweepRequest, deps: SweepDeps, log: SweepLogger): Promise<Begun> {
  const started = deps.now();
  const record: RunRecord = {
    runId: request.runId,
    trigger: request.trigger,
    actor: request.actor,
    status: "RUNNING",
    dryRun: isDryRun(request),
    startedAt: started.toISOString(),
    counts: {},
    listed: 0,
    candidates: 0,
    matched: 0,
    configVersion: request.config.version,
    configHash: configHash(request.config),
    ...(request.note ? { note: request.note } : {}),
  };
  const begun = await deps.journal.startRun(record);
  await noteConfig(deps.journal, request.config, record.configHash, log);
  if (!begun.created && begun.run.status !== "RUNNING") {
    log.info("run already finished; nothing done again", { status: begun.run.status });
    const summary = summaryOf(
      { ...begun.run, endedAt: begun.run.endedAt ?? record.startedAt },
      started,
      [],
      0,
      true,
    );
    return { replayed: { ...summary, limit: request.config.maxCancellationsPerRun } };
  }
  return { record, started };
}

/**
 * Keeps the config this run applies, for the audit report. Only a record of what was in force:
 * a failure is logged and the run goes on, and the report then says the config is not on record.
 */
async function noteConfig(
  journal: Pick<RunJournal, "recordConfig">,
  config: JanitorConfig,
  hash: string,
  log: SweepLogger,
): Promise<void> {
  try {
    await journal.recordConfig(hash, canonicalConfigJson(config));
  } catch (error) {
    log.warn("could not record the config in the audit table", {
      configHash: hash,
      error: describeError(error),
    });
  }
}

/** How the phases ended: the run's status, and why it failed if it did. */
interface Ending {
  status: RunStatus;
  error?: string;
}

/** What the finish phase needs of the phases before it. */
interface FinishInput extends Ending {
  record: RunRecord;
  started: Date;
  /** Undefined when the run failed before it had planned. */
  listing: PlannedSweep["listing"] | undefined;
  reconciled: number;
  actions: readonly ActionSummary[];
}

/**
 * The finish phase: the counts read back from the stored items, the run item completed, the
 * summary. The lease is released after it, by the caller.
 */
async function finishSweep(run: RunState, input: FinishInput): Promise<RunSummary> {
  const { journal, now } = run.deps;
  const { log } = run;
  const { actions } = input;
  const record: RunRecord = { ...input.record, ...input.listing, status: input.status };
  if (run.findings.length > 0) record.findings = [...run.findings];
  if (input.error !== undefined) record.error = input.error;
  record.endedAt = now().toISOString();
  try {
    record.counts = countStored(actions, await journal.runOutcomes(record.runId));
  } catch (error) {
    // A write that timed out may have landed after all: these counts may not match the items.
    record.counts = countOutcomes(actions);
    record.countsStale = true;
    log.warn("could not read the run's items back; its counts are what it saw and may be stale", {
      error: describeError(error),
    });
  }
  let checkpoint: { checkpoint: string } | { checkpointError: string } | undefined;
  try {
    const sealed = await journal.finishRun(record);
    // An anchor outside the table: the logs keep what the run item was when the run ended.
    if (sealed) log.info("run sealed", { ...sealed });
    if (sealed && !run.dryRun) checkpoint = await writeCheckpoint(run, record, sealed);
  } catch (error) {
    // The actions are on record; only the run item's totals are missing. Say so, don't hide it.
    log.error("could not record the end of the run", { error: describeError(error) });
    if (record.status === "COMPLETED") record.status = "PARTIAL";
  }
  log.info("run finished", { status: record.status, counts: record.counts });
  const summary = summaryOf(
    record as RunRecord & { endedAt: string },
    input.started,
    actions,
    input.reconciled,
    false,
  );
  return {
    ...summary,
    limit: run.request.config.maxCancellationsPerRun,
    ...(record.countsStale ? { countsStale: true } : {}),
    ...checkpoint,
  };
}

function statusOf(actions: readonly ActionSummary[]): RunStatus {
  return actions.some((a) => UNFINISHED.includes(a.outcome)) ? "PARTIAL" : "COMPLETED";
}

/**
 * The run's counts from its stored items: an item's stored outcome wins over what the run saw (a
 * write that timed out on the client may have landed), and a decision with no stored outcome (its
 * write failed, or its cancel was interrupted) counts as the run saw it.
 */
export function countStored(
  actions: readonly ActionSummary[],
  stored: ReadonlyMap<string, Outcome | undefined>,
): OutcomeCounts {
  const seen = new Map<string, Outcome>();
  for (const action of actions) seen.set(action.handshakeId, action.outcome);
  const counts: OutcomeCounts = {};
  const add = (outcome: Outcome) => {
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  };
  for (const [handshakeId, outcome] of stored) {
    const counted = outcome ?? seen.get(handshakeId);
    if (counted !== undefined) add(counted);
  }
  for (const [handshakeId, outcome] of seen) if (!stored.has(handshakeId)) add(outcome);
  return counts;
}

export function countOutcomes(actions: readonly ActionSummary[]): OutcomeCounts {
  const counts: OutcomeCounts = {};
  for (const { outcome } of actions) counts[outcome] = (counts[outcome] ?? 0) + 1;
  return counts;
}

function summaryOf(
  run: RunRecord & { endedAt: string },
  started: Date,
  actions: readonly ActionSummary[],
  reconciled: number,
  replayed: boolean,
): RunSummary {
  return {
    runId: run.runId,
    status: run.status,
    dryRun: run.dryRun,
    trigger: run.trigger,
    actor: run.actor,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    durationMs: Math.max(0, Date.parse(run.endedAt) - started.getTime()),
    listed: run.listed,
    candidates: run.candidates,
    matched: run.matched,
    limit: 0,
    counts: run.counts,
    reconciled,
    configHash: run.configHash,
    replayed,
    actions: [...actions],
    ...(run.error ? { error: run.error } : {}),
    ...(run.findings !== undefined && run.findings.length > 0 ? { findings: [...run.findings] } : {}),
  };
}

/**
 * The run's checkpoint, outside the table (docs/checkpoints.md). Its failure loses nothing: the
 * run's records are in the table and sealed; `audit verify` then finds the run without one.
 */
async function writeCheckpoint(
  run: RunState,
  record: RunRecord,
  sealed: RunSealed,
): Promise<{ checkpoint: string } | { checkpointError: string } | undefined> {
  const store = run.deps.checkpoints;
  if (store === undefined) return undefined;
  try {
    const { key } = await store.write({
      runId: record.runId,
      startedAt: record.startedAt,
      endedAt: record.endedAt ?? run.deps.now().toISOString(),
      status: record.status,
      seal: sealed.seal,
      chainHead: sealed.chainHead,
      chainLength: sealed.chainLength,
      counts: record.counts,
    });
    run.log.info("checkpoint written", { key });
    return { checkpoint: key };
  } catch (error) {
    const checkpointError = describeError(error);
    run.log.error("checkpoint not written; the run's records stand in the table", { error: checkpointError });
    return { checkpointError };
  }
}
