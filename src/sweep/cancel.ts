import { describeError, OutcomeConflictError } from "../domain/errors.js";
import { maskEmails } from "../domain/mask.js";
import type { Decision } from "../policy/plan.js";
import type { AuditAction } from "../ports/records.js";
import {
  fencedResult,
  fenceFor,
  foundAfterLostAnswer,
  recordConflict,
  stoppedReason,
} from "./cancel-fence.js";
import type { LedgerObserver } from "./ledger.js";
import { baseItem, decided, recordFinalAlone, warnUnlinked } from "./record.js";
import type { ActionSummary, RunState } from "./types.js";

/**
 * The cancel phase: `concurrency` workers take the decisions to cancel one at a time, each
 * under the handshake's claim. Each CANCELED outcome, once on record, is handed to the handshake
 * ledger, which enters it behind the cancels that follow.
 */
export async function cancelAll(
  run: RunState,
  toCancel: readonly Decision[],
  ledger?: LedgerObserver,
): Promise<ActionSummary[]> {
  const queue = [...toCancel];
  const done: ActionSummary[] = [];
  const workers = Math.max(1, run.request.concurrency ?? 4);
  // A worker goes on to its next handshake once an outcome is on record; the claim it held is
  // released meanwhile (a release never throws), and the phase ends when every release has.
  const releases: Promise<void>[] = [];
  // cancelOne() turns every failure into an outcome, so no worker stops early and none is left running.
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let decision = queue.shift(); decision; decision = queue.shift()) {
        const summary = await cancelOne(run, decision, (release) => releases.push(release));
        done.push(summary);
        if (summary.outcome === "CANCELED") ledger?.canceled(decision);
      }
    }),
  );
  await Promise.all(releases);
  return done;
}

/** A decision to cancel: intent, CancelHandshake, outcome; the claim's release is handed to `releasing`. */
async function cancelOne(
  run: RunState,
  decision: Decision,
  releasing: (release: Promise<void>) => void,
): Promise<ActionSummary> {
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

  const admission = await run.scope.admit(run, decision.handshake.id);
  if (!admission.go) {
    return recordFinalAlone(run, {
      decision,
      outcome: "DEFERRED",
      reason: `${decision.reason}; ${admission.reason}, left for the next run`,
    });
  }
  let keepClaim = false;
  try {
    const cancelled = await cancelUnderClaim(run, decision);
    keepClaim = cancelled.keepClaim;
    return cancelled.summary;
  } finally {
    // A cancel whose outcome is unknown keeps its claim until it expires: the intent stays
    // pending, and no one else acts on the handshake before the next run looks it up.
    if (!keepClaim) releasing(admission.release());
  }
}

/**
 * Intent, CancelHandshake, outcome, under the handshake's claim. `keepClaim` when the cancel's
 * outcome is unknown (the intent stays pending), so the claim is kept until it expires.
 */
async function cancelUnderClaim(
  run: RunState,
  decision: Decision,
): Promise<{ summary: ActionSummary; keepClaim: boolean }> {
  const settle = (summary: ActionSummary, keepClaim = false) => ({ summary, keepClaim });
  const { deadline } = run.request;
  const { actions, organizations } = run.deps;
  const intent = baseItem(run, decision);
  try {
    const put = await actions.recordAction(intent);
    if (!put.created && put.existing.outcome) {
      // This run already decided this handshake (a retried event): report, never act twice.
      return settle(decided(run.log, put.existing, put.existing.outcome));
    }
  } catch (failure) {
    // No intent on record means no cancellation.
    return settle(
      decided(run.log, { ...intent, error: `intent not recorded: ${describeError(failure)}` }, "FAILED"),
    );
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
      return settle(
        decided(run.log, { ...intent, error: `cancel interrupted: ${describeError(failure)}` }, "FAILED"),
        true,
      );
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
    return settle(decided(run.log, final, result.outcome));
  } catch (failure) {
    if (failure instanceof OutcomeConflictError && result.outcome === "CANCELED") {
      // The cancel landed, and another run recorded another outcome for the intent meanwhile.
      return settle(await recordConflict(run, final, failure.existing));
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
      return settle(decided(run.log, { ...final, error }, "FAILED"));
    }
    // The intent stays pending; the next run looks the handshake up and completes the record.
    run.log.error("outcome not recorded; left pending for the next run", {
      handshakeId: intent.handshakeId,
      outcome: result.outcome,
      error: describeError(failure),
    });
    return settle(
      decided(run.log, { ...final, error: `outcome not recorded: ${describeError(failure)}` }, "DEFERRED"),
      true,
    );
  }
}
