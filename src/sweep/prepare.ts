import { describeError, OutcomeConflictError } from "../domain/errors.js";
import { CANDIDATE_STATES, type Handshake } from "../domain/handshake.js";
import type { Outcome } from "../domain/outcomes.js";
import type { ActionLog } from "../ports/action-log.js";
import type { AuditAction } from "../ports/records.js";
import { isLive, takeClaim } from "./claims.js";
import type { RunState } from "./types.js";

/**
 * The prepare phase: items a fault left out of their chains are linked, then (a live sweep of
 * the organization only) the intents interrupted runs left pending are completed. Answers how
 * many intents were completed.
 */
export async function prepare(run: RunState): Promise<number> {
  // Over a discrepancy nothing left over is linked: what is found stays as found.
  if (run.findings.length === 0) await linkLeftOut(run);
  if (run.dryRun || !run.scope.reconciles) return 0;
  return reconcile(run);
}

/**
 * Final items a fault kept out of their runs' chains (stored, not linked) are linked before
 * anything else; a failure here is only logged, as the items stay marked for the next run.
 */
async function linkLeftOut({ deps, log }: RunState): Promise<void> {
  try {
    const linked = await deps.actions.linkUnchained();
    if (linked > 0) log.info("linked audit items a fault had left out of their chains", { linked });
  } catch (error) {
    log.warn("could not link the audit items left out of their chains", { error: describeError(error) });
  }
}

/**
 * Completes intents left without an outcome by an interrupted run, from the handshake's state now.
 * A handshake of this very run that is still open stays pending: the cancel phase finishes it.
 */
async function reconcile(run: RunState): Promise<number> {
  const { deps, log, lease } = run;
  const { runId, deadline } = run.request;
  const pending = await deps.actions.listPendingIntents();
  const live = new Map<string, boolean>();
  let done = 0;
  for (const intent of pending) {
    // What is left stays pending for the next run. Safe, because past the deadline this run
    // cancels nothing either, so nothing can be attributed to the wrong intent later.
    if (deadline !== undefined && deps.now().getTime() >= deadline) break;
    // Only the lease's holder touches another run's intents; one that lost it stops here.
    if (lease !== undefined && !lease.held()) break;
    if (intent.runId !== runId && (await stillLive(intent.runId, live, run))) {
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
      const completed = await completeUnlessRecorded(run, intent, {
        outcome,
        attempts: intent.attempts,
        at: deps.now().toISOString(),
        reason: `${intent.reason}; ${note}`,
      });
      if (!completed) continue;
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

/**
 * Completes an interrupted intent; false when its own run completed it meanwhile (its cancel's
 * answer came back between this run's look and its write): that record stands, as it was first.
 * Another run's intent is completed by a record in this run's chain that names it: that run stays
 * as it ended, sealed or not, and its intent leaves the pending list in the same write. This run's
 * own intent (a retried run) is completed in place.
 */
async function completeUnlessRecorded(
  { deps, log, request }: RunState,
  intent: AuditAction,
  result: Parameters<ActionLog["recordOutcome"]>[2],
): Promise<boolean> {
  if (intent.runId !== request.runId) {
    const { error: _error, ...rest } = intent;
    const recorded = await deps.actions.recordReconciled({
      ...rest,
      runId: request.runId,
      trigger: request.trigger,
      actor: request.actor,
      dryRun: false,
      outcome: result.outcome,
      attempts: result.attempts,
      at: result.at,
      ...(result.error === undefined ? {} : { error: result.error }),
      reason: result.reason ?? intent.reason,
      reconciles: `${intent.runId}/${intent.handshakeId}`,
    });
    if (!recorded) {
      log.warn("pending intent completed or reconciled meanwhile: its record stands", {
        runId: intent.runId,
        handshakeId: intent.handshakeId,
        found: result.outcome,
      });
    }
    return recorded;
  }
  try {
    await deps.actions.recordOutcome(intent.runId, intent.handshakeId, result);
    return true;
  } catch (error) {
    if (!(error instanceof OutcomeConflictError)) throw error;
    log.warn("pending intent completed by its own run meanwhile: its record stands", {
      runId: intent.runId,
      handshakeId: intent.handshakeId,
      recorded: error.existing.outcome,
      found: result.outcome,
    });
    return false;
  }
}

/** Reconciling one intent is a DescribeHandshake and a write; its claim lasts well beyond that. */
const RECONCILE_CLAIM_MS = 60_000;

/**
 * Defence in depth behind the lease: this run holds it, so no other run should be live, but a run
 * item that is RUNNING with a lease expiry still ahead (a lease item deleted by hand, a clock far
 * off) belongs to a run that may still be cancelling, and its intents are not ours to complete.
 */
async function stillLive(runId: string, cache: Map<string, boolean>, { deps }: RunState): Promise<boolean> {
  const known = cache.get(runId);
  if (known !== undefined) return known;
  const liveness = await deps.journal.runLiveness(runId);
  const live = liveness !== undefined && isLive(liveness, deps.now());
  cache.set(runId, live);
  return live;
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
