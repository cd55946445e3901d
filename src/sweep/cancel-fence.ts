/**
 * The cancel phase's fencing (docs/fencing.md): the fence each cancellation passes to the
 * Organizations adapter, what a refusal does to the decision and to the rest of the run, and the
 * conflict record of a cancel that landed after its claim had lapsed.
 */

import { describeError } from "../domain/errors.js";
import { CANDIDATE_STATES } from "../domain/handshake.js";
import { maskEmails } from "../domain/mask.js";
import type { CancelResult } from "../domain/outcomes.js";
import { conflictRecord, type RecordedOutcome } from "../evidence/conflicts.js";
import type { AuditAction } from "../ports/records.js";
import {
  cancellingStopped,
  createFence,
  DEFAULT_FENCE_TIMING,
  type Fence,
  FencedOutcomeUnknownError,
  stopCancelling,
} from "./fence.js";
import { decided, warnUnlinked } from "./record.js";
import type { ActionSummary, RunState } from "./types.js";

/**
 * The fence of one cancellation: the claim's holder (the run, or the real-time caller's
 * invocation) and, for a sweep of the organization, the lease. None without claims (the loop's
 * unit tests alone).
 */
export function fenceFor(run: RunState, handshakeId: string): Fence | undefined {
  const { claims, now, fencing } = run.deps;
  if (claims === undefined) return undefined;
  const { runId } = run.request;
  return createFence({
    store: claims,
    handshakeId,
    holder: run.scope.holder(runId),
    ...(run.scope.takesLease && run.lease !== undefined ? { leaseRunId: runId } : {}),
    timing: fencing ?? DEFAULT_FENCE_TIMING,
    now: () => now().getTime(),
    stopped: () => cancellingStopped(run),
  });
}

/** Why the run starts no more cancellations, if a fence of it found its claim or lease lost. */
export function stoppedReason(run: RunState): string | undefined {
  return cancellingStopped(run);
}

/**
 * The adapter's answer with what the fence knows: a refused attempt is DEFERRED with the fence's
 * reason, and a lost claim or lease stops the run's further cancellations.
 */
export function fencedResult(
  run: RunState,
  fence: Fence | undefined,
  result: CancelResult,
): CancelResult & { reason?: string } {
  const refusal = fence?.refusal();
  if (refusal === undefined || result.outcome !== "DEFERRED") return result;
  if (refusal.lost) {
    stopCancelling(run, refusal.reason);
    run.log.error("fence refused a cancellation: no CancelHandshake made, and the run starts no more", {
      error: refusal.reason,
    });
  }
  return {
    ...result,
    error: `fence: ${refusal.reason}`,
    reason: `no CancelHandshake made: ${refusal.reason}; left for the next run`,
  };
}

/**
 * An attempt's answer was lost, and the fence refused the attempt that would have found out: the
 * handshake is looked up at once, since no later attempt of this run may. CANCELED is this run's
 * doing (its intent was written just before its calls, as reconciliation reasons too) and is
 * recorded as such; still open, the attempt did not land (it ended within its confirmation, and
 * the margin outlasts it) and the decision is DEFERRED. Anything else, or a failed look-up,
 * leaves the intent pending (undefined).
 */
export async function foundAfterLostAnswer(
  run: RunState,
  fence: Fence | undefined,
  handshakeId: string,
  failure: unknown,
): Promise<CancelResult | undefined> {
  const refusal = fence?.refusal();
  if (refusal === undefined || !(failure instanceof FencedOutcomeUnknownError)) return undefined;
  if (refusal.lost) stopCancelling(run, refusal.reason);
  let state: string | undefined;
  try {
    state = (await run.deps.organizations.describeHandshake(handshakeId))?.state;
  } catch {
    return undefined;
  }
  const found = `${failure.message}; fence: ${refusal.reason}; DescribeHandshake then found it ${state}`;
  if (state === "CANCELED") return { outcome: "CANCELED", attempts: failure.attempts, error: found };
  if (state !== undefined && (CANDIDATE_STATES as readonly string[]).includes(state)) {
    return { outcome: "DEFERRED", attempts: failure.attempts, error: found };
  }
  return undefined;
}

/**
 * A cancel that landed although another outcome was recorded for its intent meanwhile: appended
 * as a conflict record of its own, chained, and reported as CANCELED with the conflict named.
 */
export async function recordConflict(
  run: RunState,
  final: AuditAction,
  existing: RecordedOutcome,
): Promise<ActionSummary> {
  const record = conflictRecord(final, existing);
  run.log.error("conflict: a cancel landed after this run's claim had lapsed; recorded as a conflict", {
    handshakeId: final.handshakeId,
    contradicts: record.contradicts,
  });
  try {
    const put = await run.deps.actions.recordAction(record);
    if (put.created) warnUnlinked(run.log, record, put.unlinked);
    return decided(run.log, record, "CANCELED");
  } catch (failure) {
    // The one cancellation the audit trail cannot hold: said on every channel the run has.
    const error = `${record.error}; the conflict record could not be written: ${describeError(failure)}`;
    run.log.error("a cancellation is not on record: its conflict record could not be written", {
      handshakeId: final.handshakeId,
      error: maskEmails(error),
    });
    return decided(run.log, { ...record, error }, "CANCELED");
  }
}
