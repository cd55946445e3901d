import { describeError, OutcomeConflictError } from "../domain/errors.js";
import { maskEmails } from "../domain/mask.js";
import type { Decision } from "../policy/plan.js";
import type { ClaimResult, HandshakeClaims } from "../ports/claims.js";
import type { AuditAction } from "../ports/records.js";
import {
  fencedResult,
  fenceFor,
  foundAfterLostAnswer,
  recordConflict,
  stoppedReason,
} from "./cancel-fence.js";
import { takeClaim } from "./claims.js";
import { baseItem, recordFinalAlone, remember, warnUnlinked } from "./record.js";
import type { RunState } from "./types.js";

/**
 * The cancel phase: `concurrency` workers take the decisions to cancel one at a time, each
 * under the handshake's claim.
 */
export async function cancelAll(run: RunState, toCancel: readonly Decision[]): Promise<void> {
  const queue = [...toCancel];
  const workers = Math.max(1, run.request.concurrency ?? 4);
  // cancelOne() turns every failure into an outcome, so no worker stops early and none is left running.
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let decision = queue.shift(); decision; decision = queue.shift()) {
        await cancelOne(run, decision);
      }
    }),
  );
}

/** A decision to cancel: intent, CancelHandshake, outcome. */
async function cancelOne(run: RunState, decision: Decision): Promise<void> {
  const { deadline } = run.request;
  if (deadline !== undefined && run.deps.now().getTime() >= deadline) {
    return recordFinalAlone(run, {
      decision,
      outcome: "DEFERRED",
      reason: `${decision.reason}; out of time, left for the next run`,
    });
  }
  if (run.lease !== undefined && !run.lease.held()) {
    return recordFinalAlone(run, {
      decision,
      outcome: "DEFERRED",
      reason: `${decision.reason}; ${run.lease.lapse() ?? "the lease is lost"}, left for the next run`,
    });
  }
  const stopped = stoppedReason(run);
  if (stopped !== undefined) {
    return recordFinalAlone(run, {
      decision,
      outcome: "DEFERRED",
      reason: `${decision.reason}; ${stopped}, left for the next run`,
    });
  }

  const claims = run.request.scope === "handshake" ? undefined : run.deps.claims;
  const handshakeId = decision.handshake.id;
  if (claims !== undefined) {
    let claim: ClaimResult;
    try {
      claim = await takeClaim(claims, handshakeId, run.request.runId, claimTtl(run), run.deps);
    } catch (failure) {
      // Unsure whether another run acts on it: no intent, no cancel; the next run decides it again.
      return recordFinalAlone(run, {
        decision,
        outcome: "DEFERRED",
        reason: `${decision.reason}; its claim could not be taken (${describeError(failure)}), left for the next run`,
      });
    }
    if (!claim.taken) {
      return recordFinalAlone(run, {
        decision,
        outcome: "DEFERRED",
        reason: `${decision.reason}; claimed by ${claim.holder} until ${claim.until.toISOString()}, left for the next run`,
      });
    }
  }
  let keepClaim = false;
  try {
    keepClaim = await cancelUnderClaim(run, decision);
  } finally {
    // A cancel whose outcome is unknown keeps its claim until it expires: the intent stays
    // pending, and no one else acts on the handshake before the next run looks it up.
    if (claims !== undefined && !keepClaim) await releaseClaim(claims, handshakeId, run);
  }
}

/** How long a sweep holds a handshake's claim: through the run's deadline, or ten minutes. */
function claimTtl(run: RunState): number {
  const { deadline } = run.request;
  const left = deadline === undefined ? 10 * 60_000 : Math.max(0, deadline - run.deps.now().getTime());
  return left + 60_000;
}

async function releaseClaim(claims: HandshakeClaims, handshakeId: string, run: RunState): Promise<void> {
  try {
    await claims.releaseHandshake(handshakeId, run.request.runId);
  } catch (failure) {
    // Nothing is lost: the claim expires by itself.
    run.log.warn("could not release a handshake's claim; it expires by itself", {
      handshakeId,
      error: describeError(failure),
    });
  }
}

/**
 * Intent, CancelHandshake, outcome, under the handshake's claim. True when the cancel's outcome
 * is unknown (the intent stays pending), so the claim is kept until it expires.
 */
async function cancelUnderClaim(run: RunState, decision: Decision): Promise<boolean> {
  const { deadline } = run.request;
  const { actions, organizations } = run.deps;
  const intent = baseItem(run, decision);
  try {
    const put = await actions.recordAction(intent);
    if (!put.created && put.existing.outcome) {
      // This run already decided this handshake (a retried event): report, never act twice.
      remember(run, put.existing, put.existing.outcome);
      return false;
    }
  } catch (failure) {
    // No intent on record means no cancellation.
    remember(run, { ...intent, error: `intent not recorded: ${describeError(failure)}` }, "FAILED");
    return false;
  }

  let result: Awaited<ReturnType<typeof fencedResult>>;
  const fence = fenceFor(run, decision.handshake.id);
  try {
    result = fencedResult(
      run,
      fence,
      await organizations.cancelHandshake(decision.handshake.id, {
        ...(deadline === undefined ? {} : { deadline }),
        ...(fence === undefined ? {} : { beforeAttempt: fence.beforeAttempt }),
      }),
    );
  } catch (failure) {
    const found = await foundAfterLostAnswer(run, fence, decision.handshake.id, failure);
    if (found === undefined) {
      // Whether the cancel happened is unknown: the intent stays pending for the next run to resolve.
      remember(run, { ...intent, error: `cancel interrupted: ${describeError(failure)}` }, "FAILED");
      return true;
    }
    result = found;
  }
  const final: AuditAction = {
    ...intent,
    outcome: result.outcome,
    attempts: result.attempts,
    at: run.deps.now().toISOString(),
    ...(result.error ? { error: result.error } : {}),
    ...(result.reason ? { reason: `${intent.reason}; ${result.reason}` } : {}),
  };
  try {
    const linking = await actions.recordOutcome(intent.runId, intent.handshakeId, {
      outcome: result.outcome,
      attempts: result.attempts,
      at: final.at,
      ...(result.error ? { error: result.error } : {}),
      ...(result.reason ? { reason: final.reason } : {}),
    });
    warnUnlinked(run.log, final, linking.unlinked);
    remember(run, final, result.outcome);
  } catch (failure) {
    if (failure instanceof OutcomeConflictError && result.outcome === "CANCELED") {
      // The cancel landed, and another run recorded another outcome for the intent meanwhile.
      await recordConflict(run, final, failure.existing);
      return false;
    }
    if (failure instanceof OutcomeConflictError) {
      // Not pending, and no run will fix it: another run (one that took the lease after this
      // run's lapsed) completed the intent meanwhile. Said as it is, never as "left pending".
      const { existing } = failure;
      const error =
        `CancelHandshake answered ${result.outcome} to this run, but the record already holds ` +
        `${existing.outcome}${existing.at ? ` (written ${existing.at}` : " ("}` +
        `${existing.reason ? `, reason: ${existing.reason})` : ")"}; not overwritten`;
      run.log.error("outcome refused: another outcome is recorded for this intent", {
        handshakeId: intent.handshakeId,
        outcome: result.outcome,
        recorded: existing.outcome,
        error: maskEmails(error),
      });
      remember(run, { ...final, error }, "FAILED");
      return false;
    }
    // The intent stays pending; the next run looks the handshake up and completes the record.
    run.log.error("outcome not recorded; left pending for the next run", {
      handshakeId: intent.handshakeId,
      outcome: result.outcome,
      error: describeError(failure),
    });
    remember(run, { ...final, error: `outcome not recorded: ${describeError(failure)}` }, "DEFERRED");
    return true;
  }
  return false;
}
