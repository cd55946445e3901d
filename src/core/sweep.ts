import { LeaseHeldError, type LeaseHolder, OutcomeConflictError } from "../domain/errors.js";
import { CANDIDATE_STATES, type Handshake } from "../domain/handshake.js";
import { maskEmails } from "../domain/mask.js";
import type { Outcome, OutcomeCounts, RunStatus, Trigger } from "../domain/outcomes.js";
import { describeError } from "./backoff.js";
import { canonicalConfigJson, configHash, type JanitorConfig } from "./config.js";
import { marksByHandshake } from "./grace.js";
import { keepLease, type LeaseKeeper } from "./lease.js";
import { createPlanner, type Decision } from "./plan.js";
import type {
  AuditAction,
  AuditPort,
  ClaimResult,
  FinalResult,
  HandshakeClaims,
  OpenMark,
  OrganizationsPort,
  RunRecord,
} from "./ports.js";

/** Structured logging as Powertools' Logger offers it; the CLI passes a quiet one. */
export interface SweepLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLogger: SweepLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface SweepRequest {
  config: JanitorConfig;
  runId: string;
  trigger: Trigger;
  actor: string;
  /** Forces a dry run even when the config says dryRun: false; never the other way round. */
  dryRun?: boolean;
  ruleIds?: string[];
  handshakeIds?: string[];
  note?: string;
  /** Epoch ms after which no new cancellation starts; the rest is DEFERRED. */
  deadline?: number;
  /** CancelHandshake calls in flight at once; the pacer sets the rate. */
  concurrency?: number;
  /**
   * What the run acts on. `organization` (the default: schedule, manual invoke, CLI) takes the
   * organization's lease when live, completes the intents interrupted runs left pending, and
   * claims each handshake (SweepDeps.claims) while cancelling it. `handshake` is the real-time
   * path: its caller holds the one handshake's claim, it takes no lease (an invitation must not
   * wait for a whole sweep) and reconciles nothing (many such runs go at once; none may complete
   * another's intent while that one's cancel is in flight).
   */
  scope?: "organization" | "handshake";
}

export interface SweepDeps {
  organizations: OrganizationsPort;
  audit: AuditPort;
  /**
   * Per-handshake claims, shared with the real-time path: a sweep claims a handshake before its
   * intent and releases it after the outcome, and reconciles another run's intent only under its
   * claim. Without it (unit tests of the loop alone) nothing is claimed.
   */
  claims?: HandshakeClaims;
  now: () => Date;
  logger?: SweepLogger;
}

export interface ActionSummary {
  handshakeId: string;
  outcome: Outcome;
  ruleId: string;
  matchedRules: string[];
  action: string;
  target: string;
  reason: string;
  attempts: number;
  error?: string;
  /** On a MARKED action: when a later run cancels it, if it still matches then. */
  cancelAfter?: string;
}

export interface RunSummary {
  runId: string;
  status: RunStatus;
  dryRun: boolean;
  trigger: Trigger;
  actor: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  listed: number;
  candidates: number;
  matched: number;
  limit: number;
  counts: OutcomeCounts;
  /** Intents of earlier, interrupted runs that this run completed. */
  reconciled: number;
  configHash: string;
  /** True when the run id had already finished and nothing was done again. */
  replayed: boolean;
  actions: ActionSummary[];
  error?: string;
  /** The counts are what the run saw, not read back from the stored items (the read failed). */
  countsStale?: true;
}

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
  const { audit, now } = deps;
  const dryRun = request.config.dryRun || request.dryRun === true;
  if (dryRun || request.scope === "handshake") return sweepHolding(request, deps, undefined);
  const claim = await audit.acquireLease(request.runId);
  if (!claim.acquired) throw new LeaseHeldError(claim.holder, now().getTime());
  const holding: Holding = { lease: claim.lease };
  try {
    return await sweepHolding(request, deps, holding);
  } finally {
    if (holding.keeper) await holding.keeper.release();
    // A replayed run never started renewing; the lease is freed all the same.
    else await audit.releaseLease(request.runId).catch(() => false);
  }
}

/** The lease a live run took, and its keeper once the run item exists to note it on. */
interface Holding {
  lease: LeaseHolder;
  keeper?: LeaseKeeper;
}

async function sweepHolding(
  request: SweepRequest,
  deps: SweepDeps,
  holding: Holding | undefined,
): Promise<RunSummary> {
  const { organizations, audit, now } = deps;
  const log = deps.logger ?? silentLogger;
  const dryRun = request.config.dryRun || request.dryRun === true;
  const started = now();
  const run: RunRecord = {
    runId: request.runId,
    trigger: request.trigger,
    actor: request.actor,
    status: "RUNNING",
    dryRun,
    startedAt: started.toISOString(),
    counts: {},
    listed: 0,
    candidates: 0,
    matched: 0,
    configVersion: request.config.version,
    configHash: configHash(request.config),
    ...(request.note ? { note: request.note } : {}),
  };

  const begun = await audit.startRun(run);
  await recordConfig(audit, request.config, run.configHash, log);
  if (!begun.created && begun.run.status !== "RUNNING") {
    log.info("run already finished; nothing done again", { status: begun.run.status });
    const summary = summaryOf(
      { ...begun.run, endedAt: begun.run.endedAt ?? run.startedAt },
      started,
      [],
      0,
      true,
    );
    return { ...summary, limit: request.config.maxCancellationsPerRun };
  }

  // Renewing starts once the run item exists, so the first renewal notes the lease on it at once.
  if (holding) holding.keeper = keepLease({ audit, runId: request.runId, lease: holding.lease, now, log });
  const lease = holding?.keeper;
  const actions: ActionSummary[] = [];
  let reconciled = 0;
  try {
    await linkUnchained(audit, log);
    if (!dryRun && request.scope !== "handshake")
      reconciled = await reconcile(request.runId, request.deadline, lease, deps, log);
    const marks = marksByHandshake(await audit.listOpenMarks());
    const decided = await listAndPlan(request, organizations, started, marks);
    Object.assign(run, {
      listed: decided.listed,
      candidates: decided.candidates,
      matched: decided.decisions.length,
    });
    log.info("planned", {
      listed: decided.listed,
      candidates: decided.candidates,
      matched: decided.decisions.length,
      selected: decided.selected,
      limit: decided.limit,
    });

    const context: Context = { request, deps, dryRun, log, actions, lease };
    if (decided.blocked) {
      log.warn("safety cap exceeded: nothing is canceled", {
        selected: decided.selected,
        limit: decided.limit,
      });
      await recordFinals(
        context,
        decided.decisions.map((decision) =>
          decision.kind === "exempted" || decision.kind === "close"
            ? (finalOf(decision, false) as Final)
            : {
                decision,
                outcome: "BLOCKED",
                reason: `${decision.reason}; blocked: ${decided.selected} selected, limit ${decided.limit}`,
              },
        ),
      );
    } else {
      // What calls nothing is recorded first, in batches; then the cancellations, one by one.
      const finals: Final[] = [];
      const queue: Decision[] = [];
      for (const decision of decided.decisions) {
        const final = finalOf(decision, dryRun);
        if (final === undefined) queue.push(decision);
        else finals.push(final);
      }
      await recordFinals(context, finals);
      const workers = Math.max(1, request.concurrency ?? 4);
      // decide() turns every failure into an outcome, so no worker stops early and none is left running.
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (let decision = queue.shift(); decision; decision = queue.shift()) {
            await decide(context, decision);
          }
        }),
      );
    }
    if (!dryRun) await closeMarks(context, decided.decisions);
    run.status = decided.blocked ? "BLOCKED" : statusOf(actions);
  } catch (error) {
    run.status = "FAILED";
    run.error = describeError(error);
    log.error("run failed", { error: maskEmails(describeError(error)) });
  }

  const ended = now();
  run.endedAt = ended.toISOString();
  try {
    run.counts = countStored(actions, await audit.runOutcomes(run.runId));
  } catch (error) {
    // A write that timed out may have landed after all: these counts may not match the items.
    run.counts = countOutcomes(actions);
    run.countsStale = true;
    log.warn("could not read the run's items back; its counts are what it saw and may be stale", {
      error: describeError(error),
    });
  }
  try {
    const sealed = await audit.finishRun(run);
    // An anchor outside the table: the logs keep what the run item was when the run ended.
    if (sealed) log.info("run sealed", { ...sealed });
  } catch (error) {
    // The actions are on record; only the run item's totals are missing. Say so, don't hide it.
    log.error("could not record the end of the run", { error: describeError(error) });
    if (run.status === "COMPLETED") run.status = "PARTIAL";
  }
  log.info("run finished", { status: run.status, counts: run.counts });
  const summary = summaryOf(run as RunRecord & { endedAt: string }, started, actions, reconciled, false);
  return {
    ...summary,
    limit: request.config.maxCancellationsPerRun,
    ...(run.countsStale ? { countsStale: true } : {}),
  };
}

/**
 * Each page is planned as it arrives and then dropped: the sweep holds the decisions, never every
 * handshake of the organization at once.
 */
async function listAndPlan(
  request: SweepRequest,
  organizations: OrganizationsPort,
  now: Date,
  marks: ReadonlyMap<string, OpenMark>,
) {
  const only = { ruleIds: request.ruleIds, handshakeIds: request.handshakeIds };
  const planner = createPlanner({ config: request.config, now, only: defined(only), marks });
  for await (const page of organizations.listHandshakes()) planner.add(page);
  return planner.finish();
}

interface Context {
  request: SweepRequest;
  deps: SweepDeps;
  dryRun: boolean;
  log: SweepLogger;
  actions: ActionSummary[];
  /** Undefined in a dry run, which needs no lease. */
  lease: LeaseKeeper | undefined;
}

function baseItem(context: Context, decision: Decision): AuditAction {
  const { handshake } = decision;
  return {
    runId: context.request.runId,
    handshakeId: handshake.id,
    ruleId: decision.ruleId,
    matchedRules: decision.matchedRules,
    dryRun: context.dryRun,
    at: context.deps.now().toISOString(),
    trigger: context.request.trigger,
    actor: context.request.actor,
    action: handshake.action,
    target: handshake.target?.value ?? "",
    targetType: handshake.target?.type ?? "UNKNOWN",
    ...(handshake.requestedAt ? { requestedAt: handshake.requestedAt.toISOString() } : {}),
    reason: decision.reason,
    attempts: 0,
  };
}

function remember(context: Context, item: AuditAction, outcome: Outcome): void {
  const summary: ActionSummary = {
    handshakeId: item.handshakeId,
    outcome,
    ruleId: item.ruleId,
    matchedRules: item.matchedRules,
    action: item.action,
    target: item.target,
    reason: item.reason,
    attempts: item.attempts,
    ...(item.error ? { error: item.error } : {}),
    ...(item.cancelAfter ? { cancelAfter: item.cancelAfter } : {}),
  };
  context.actions.push(summary);
  context.log.info("decision", {
    handshakeId: item.handshakeId,
    outcome,
    ruleId: item.ruleId,
    target: maskEmails(item.target),
    attempts: item.attempts,
    ...(item.error ? { error: maskEmails(item.error) } : {}),
  });
}

/** A decision whose outcome is known without calling CancelHandshake. */
interface Final {
  decision: Decision;
  outcome: Outcome;
  reason: string;
  error?: string;
}

/** The final outcome of a decision that calls nothing; undefined for one that cancels. */
function finalOf(decision: Decision, dryRun: boolean): Final | undefined {
  // A dry run changes no mark: it makes none, and closes none.
  const stays =
    "closesMark" in decision && decision.closesMark && dryRun ? " (dry run: the mark stays open)" : "";
  if (decision.kind === "exempted")
    return { decision, outcome: "EXEMPTED", reason: `${decision.reason}${stays}` };
  if (decision.kind === "failed")
    return { decision, outcome: "FAILED", reason: decision.reason, error: decision.error };
  if (decision.kind === "close")
    return dryRun
      ? {
          decision,
          outcome: "DRY_RUN",
          reason: `would record ${decision.outcome}: ${decision.reason}${stays}`,
        }
      : { decision, outcome: decision.outcome, reason: decision.reason };
  if (decision.kind === "mark")
    return dryRun
      ? {
          decision,
          outcome: "DRY_RUN",
          reason: `would mark, due at ${decision.cancelAfter}: ${decision.reason}${stays}`,
        }
      : { decision, outcome: "MARKED", reason: decision.reason };
  if (dryRun) return { decision, outcome: "DRY_RUN", reason: `${decision.reason}${stays}` };
  return undefined;
}

function finalItem(context: Context, final: Final): AuditAction {
  const { decision, outcome, reason, error } = final;
  const cancelAfter =
    decision.kind === "mark" && outcome === "MARKED" ? { cancelAfter: decision.cancelAfter } : {};
  return { ...baseItem(context, decision), outcome, reason, ...(error ? { error } : {}), ...cancelAfter };
}

/** Outcomes after which an open mark has served: acted on, superseded, or moot. */
const CLOSING: readonly Outcome[] = ["CANCELED", "ALREADY_CLOSED", "STATE_CHANGED", "EXEMPTED", "MARKED"];

/**
 * Closes the marks this run decided about, once the decision's outcome is on record. A mark whose
 * cancel was deferred or failed stays open, so the next run tries again; a close that fails is
 * logged and the mark stays open, and the next run closes it with what it finds then.
 */
async function closeMarks(context: Context, decisions: readonly Decision[]): Promise<void> {
  const outcomes = new Map(context.actions.map((action) => [action.handshakeId, action.outcome]));
  for (const decision of decisions) {
    const mark = decision.kind === "failed" ? undefined : decision.closesMark;
    const outcome = outcomes.get(decision.handshake.id);
    if (mark === undefined || outcome === undefined || !CLOSING.includes(outcome)) continue;
    try {
      await context.deps.audit.closeMark(mark, context.request.runId);
    } catch (error) {
      context.log.warn("could not close a mark; the next run closes it", {
        markRunId: mark.runId,
        handshakeId: mark.handshakeId,
        error: describeError(error),
      });
    }
  }
}

/** Reports a final item as the store answered for it: written, found from before, or not on record. */
function rememberFinal(context: Context, item: AuditAction, result: FinalResult | undefined): void {
  if (result === undefined || "failed" in result) {
    const why = result?.failed ?? "the store gave no answer for it";
    remember(context, { ...item, error: `audit write failed: ${why}` }, "FAILED");
  } else if (!result.created && result.existing.outcome) {
    remember(context, result.existing, result.existing.outcome);
  } else {
    if (result.created) warnUnlinked(context.log, item, result.unlinked);
    remember(context, item, item.outcome ?? "FAILED");
  }
}

/** The item is on record; only its chain link is missing, and the next run adds it. */
function warnUnlinked(log: SweepLogger, item: AuditAction, unlinked: string | undefined): void {
  if (unlinked === undefined) return;
  log.warn("recorded, not yet linked into the run's hash chain; the next run links it", {
    handshakeId: item.handshakeId,
    error: unlinked,
  });
}

/**
 * Final items a fault kept out of their runs' chains (stored, not linked) are linked before
 * anything else; a failure here is only logged, as the items stay marked for the next run.
 */
async function linkUnchained(audit: AuditPort, log: SweepLogger): Promise<void> {
  try {
    const linked = await audit.linkUnchained();
    if (linked > 0) log.info("linked audit items a fault had left out of their chains", { linked });
  } catch (error) {
    log.warn("could not link the audit items left out of their chains", { error: describeError(error) });
  }
}

/**
 * Keeps the config this run applies, for the audit report. Only a record of what was in force:
 * a failure is logged and the run goes on, and the report then says the config is not on record.
 */
async function recordConfig(
  audit: AuditPort,
  config: JanitorConfig,
  hash: string,
  log: SweepLogger,
): Promise<void> {
  try {
    await audit.recordConfig(hash, canonicalConfigJson(config));
  } catch (error) {
    log.warn("could not record the config in the audit table", {
      configHash: hash,
      error: describeError(error),
    });
  }
}

/** Outcomes decided without calling CancelHandshake, written together (a transaction per batch). */
async function recordFinals(context: Context, finals: readonly Final[]): Promise<void> {
  if (finals.length === 0) return;
  const items = finals.map((final) => finalItem(context, final));
  let results: FinalResult[];
  try {
    results = await context.deps.audit.recordFinals(items);
  } catch (failure) {
    results = items.map(() => ({ failed: describeError(failure) }));
  }
  items.forEach((item, index) => {
    rememberFinal(context, item, results[index]);
  });
}

/** One outcome decided without calling CancelHandshake, on its own: one conditional write. */
async function recordFinal(context: Context, final: Final): Promise<void> {
  const item = finalItem(context, final);
  let result: FinalResult;
  try {
    result = await context.deps.audit.recordAction(item);
  } catch (failure) {
    result = { failed: describeError(failure) };
  }
  rememberFinal(context, item, result);
}

/** A decision to cancel: intent, CancelHandshake, outcome. */
async function decide(context: Context, decision: Decision): Promise<void> {
  const { deadline } = context.request;
  if (deadline !== undefined && context.deps.now().getTime() >= deadline) {
    return recordFinal(context, {
      decision,
      outcome: "DEFERRED",
      reason: `${decision.reason}; out of time, left for the next run`,
    });
  }
  if (context.lease !== undefined && !context.lease.held()) {
    return recordFinal(context, {
      decision,
      outcome: "DEFERRED",
      reason: `${decision.reason}; ${context.lease.lapse() ?? "the lease is lost"}, left for the next run`,
    });
  }

  const claims = context.request.scope === "handshake" ? undefined : context.deps.claims;
  const handshakeId = decision.handshake.id;
  if (claims !== undefined) {
    let claim: ClaimResult;
    try {
      claim = await takeClaim(claims, handshakeId, context.request.runId, claimTtl(context), context.deps);
    } catch (failure) {
      // Unsure whether another run acts on it: no intent, no cancel; the next run decides it again.
      return recordFinal(context, {
        decision,
        outcome: "DEFERRED",
        reason: `${decision.reason}; its claim could not be taken (${describeError(failure)}), left for the next run`,
      });
    }
    if (!claim.taken) {
      return recordFinal(context, {
        decision,
        outcome: "DEFERRED",
        reason: `${decision.reason}; claimed by ${claim.holder} until ${claim.until.toISOString()}, left for the next run`,
      });
    }
  }
  let keepClaim = false;
  try {
    keepClaim = await cancelUnderClaim(context, decision);
  } finally {
    // A cancel whose outcome is unknown keeps its claim until it expires: the intent stays
    // pending, and no one else acts on the handshake before the next run looks it up.
    if (claims !== undefined && !keepClaim) await releaseClaim(claims, handshakeId, context);
  }
}

/**
 * Takes a handshake's claim for a run of organization scope, which holds the organization's
 * lease. A claim another sweep run holds is that run's only while it is live: one whose run item
 * says it lost the lease (or finished) is taken over rather than waited out. A holder without a
 * run item of its name (a real-time invocation, `event-…/request`) keeps its claim until it
 * expires.
 */
async function takeClaim(
  claims: HandshakeClaims,
  handshakeId: string,
  runId: string,
  ttlMs: number,
  deps: SweepDeps,
): Promise<ClaimResult> {
  const first = await claims.claimHandshake(handshakeId, runId, ttlMs);
  if (first.taken) return first;
  const liveness = await deps.audit.runLiveness(first.holder);
  if (liveness === undefined || isLive(liveness, deps.now())) return first;
  return claims.claimHandshake(handshakeId, runId, ttlMs, { replacing: first.holder });
}

/** How long a sweep holds a handshake's claim: through the run's deadline, or ten minutes. */
function claimTtl(context: Context): number {
  const { deadline } = context.request;
  const left = deadline === undefined ? 10 * 60_000 : Math.max(0, deadline - context.deps.now().getTime());
  return left + 60_000;
}

async function releaseClaim(claims: HandshakeClaims, handshakeId: string, context: Context): Promise<void> {
  try {
    await claims.releaseHandshake(handshakeId, context.request.runId);
  } catch (failure) {
    // Nothing is lost: the claim expires by itself.
    context.log.warn("could not release a handshake's claim; it expires by itself", {
      handshakeId,
      error: describeError(failure),
    });
  }
}

/**
 * Intent, CancelHandshake, outcome, under the handshake's claim. True when the cancel's outcome
 * is unknown (the intent stays pending), so the claim is kept until it expires.
 */
async function cancelUnderClaim(context: Context, decision: Decision): Promise<boolean> {
  const { deadline } = context.request;
  const { audit, organizations } = context.deps;
  const intent = baseItem(context, decision);
  try {
    const put = await audit.recordAction(intent);
    if (!put.created && put.existing.outcome) {
      // This run already decided this handshake (a retried event): report, never act twice.
      remember(context, put.existing, put.existing.outcome);
      return false;
    }
  } catch (failure) {
    // No intent on record means no cancellation.
    remember(context, { ...intent, error: `intent not recorded: ${describeError(failure)}` }, "FAILED");
    return false;
  }

  let result: Awaited<ReturnType<OrganizationsPort["cancelHandshake"]>>;
  try {
    result = await organizations.cancelHandshake(decision.handshake.id, defined({ deadline }));
  } catch (failure) {
    // Whether the cancel happened is unknown: the intent stays pending for the next run to resolve.
    remember(context, { ...intent, error: `cancel interrupted: ${describeError(failure)}` }, "FAILED");
    return true;
  }
  const final: AuditAction = {
    ...intent,
    outcome: result.outcome,
    attempts: result.attempts,
    at: context.deps.now().toISOString(),
    ...(result.error ? { error: result.error } : {}),
  };
  try {
    const linking = await audit.recordOutcome(intent.runId, intent.handshakeId, {
      outcome: result.outcome,
      attempts: result.attempts,
      at: final.at,
      ...(result.error ? { error: result.error } : {}),
    });
    warnUnlinked(context.log, final, linking.unlinked);
    remember(context, final, result.outcome);
  } catch (failure) {
    if (failure instanceof OutcomeConflictError) {
      // Not pending, and no run will fix it: another run (one that took the lease after this
      // run's lapsed) completed the intent meanwhile. Said as it is, never as "left pending".
      const { existing } = failure;
      const error =
        `CancelHandshake answered ${result.outcome} to this run, but the record already holds ` +
        `${existing.outcome}${existing.at ? ` (written ${existing.at}` : " ("}` +
        `${existing.reason ? `, reason: ${existing.reason})` : ")"}; not overwritten`;
      context.log.error("outcome refused: another outcome is recorded for this intent", {
        handshakeId: intent.handshakeId,
        outcome: result.outcome,
        recorded: existing.outcome,
        error: maskEmails(error),
      });
      remember(context, { ...final, error }, "FAILED");
      return false;
    }
    // The intent stays pending; the next run looks the handshake up and completes the record.
    context.log.error("outcome not recorded; left pending for the next run", {
      handshakeId: intent.handshakeId,
      outcome: result.outcome,
      error: describeError(failure),
    });
    remember(context, { ...final, error: `outcome not recorded: ${describeError(failure)}` }, "DEFERRED");
    return true;
  }
  return false;
}

/**
 * Completes intents left without an outcome by an interrupted run, from the handshake's state now.
 * A handshake of this very run that is still open stays pending: the loop below finishes it.
 */
async function reconcile(
  runId: string,
  deadline: number | undefined,
  lease: LeaseKeeper | undefined,
  deps: SweepDeps,
  log: SweepLogger,
): Promise<number> {
  const pending = await deps.audit.listPendingIntents();
  const live = new Map<string, boolean>();
  let done = 0;
  for (const intent of pending) {
    // What is left stays pending for the next run. Safe, because past the deadline this run
    // cancels nothing either, so nothing can be attributed to the wrong intent later.
    if (deadline !== undefined && deps.now().getTime() >= deadline) break;
    // Only the lease's holder touches another run's intents; one that lost it stops here.
    if (lease !== undefined && !lease.held()) break;
    if (intent.runId !== runId && (await stillLive(intent.runId, live, deps))) {
      log.warn("pending intent of a run that is still live (its lease is unexpired): left alone", {
        runId: intent.runId,
        handshakeId: intent.handshakeId,
      });
      continue;
    }
    // A real-time run holds the handshake's claim while its intent is pending, and holds no
    // lease: its intent is left alone until the claim is free.
    const claim =
      deps.claims === undefined
        ? undefined
        : await takeClaim(deps.claims, intent.handshakeId, runId, RECONCILE_CLAIM_MS, deps);
    if (claim !== undefined && !claim.taken) {
      log.warn("pending intent of a handshake another run has claimed: left alone", {
        runId: intent.runId,
        handshakeId: intent.handshakeId,
        holder: claim.holder,
      });
      continue;
    }
    try {
      const current = await deps.organizations.describeHandshake(intent.handshakeId);
      const open = current !== undefined && CANDIDATE_STATES.includes(current.state);
      if (open && intent.runId === runId) continue;
      const { outcome, note } = reconciledOutcome(current, runId);
      await deps.audit.recordOutcome(intent.runId, intent.handshakeId, {
        outcome,
        attempts: intent.attempts,
        at: deps.now().toISOString(),
        reason: `${intent.reason}; ${note}`,
      });
      log.info("reconciled an interrupted intent", {
        runId: intent.runId,
        handshakeId: intent.handshakeId,
        outcome,
      });
      done += 1;
    } finally {
      if (claim?.taken) await deps.claims?.releaseHandshake(intent.handshakeId, runId).catch(() => undefined);
    }
  }
  return done;
}

/** Reconciling one intent is a DescribeHandshake and a write; its claim lasts well beyond that. */
const RECONCILE_CLAIM_MS = 60_000;

/**
 * Defence in depth behind the lease: this run holds it, so no other run should be live, but a run
 * item that is RUNNING with a lease expiry still ahead (a lease item deleted by hand, a clock far
 * off) belongs to a run that may still be cancelling, and its intents are not ours to complete.
 */
async function stillLive(runId: string, cache: Map<string, boolean>, deps: SweepDeps): Promise<boolean> {
  const known = cache.get(runId);
  if (known !== undefined) return known;
  const liveness = await deps.audit.runLiveness(runId);
  const live = liveness !== undefined && isLive(liveness, deps.now());
  cache.set(runId, live);
  return live;
}

/** RUNNING with a lease expiry still ahead: a run that may still be cancelling. */
function isLive(liveness: { status: RunStatus; leaseExpiresAt?: number }, now: Date): boolean {
  return (
    liveness.status === "RUNNING" &&
    liveness.leaseExpiresAt !== undefined &&
    liveness.leaseExpiresAt > now.getTime()
  );
}

function reconciledOutcome(
  current: Handshake | undefined,
  runId: string,
): { outcome: Outcome; note: string } {
  if (current === undefined)
    return { outcome: "ALREADY_CLOSED", note: `reconciled by run ${runId}: handshake gone` };
  // The intent was written just before CancelHandshake: a canceled handshake is that call's doing.
  if (current.state === "CANCELED")
    return { outcome: "CANCELED", note: `reconciled by run ${runId}: found CANCELED` };
  if (CANDIDATE_STATES.includes(current.state)) {
    return { outcome: "DEFERRED", note: `reconciled by run ${runId}: still ${current.state}, decided again` };
  }
  return { outcome: "STATE_CHANGED", note: `reconciled by run ${runId}: found ${current.state}` };
}

function statusOf(actions: ActionSummary[]): RunStatus {
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

export function countOutcomes(actions: ActionSummary[]): OutcomeCounts {
  const counts: OutcomeCounts = {};
  for (const { outcome } of actions) counts[outcome] = (counts[outcome] ?? 0) + 1;
  return counts;
}

function summaryOf(
  run: RunRecord & { endedAt: string },
  started: Date,
  actions: ActionSummary[],
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
    actions,
    ...(run.error ? { error: run.error } : {}),
  };
}

/** Drops undefined members, for exactOptionalPropertyTypes-style inputs. */
function defined<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}
