import { describeError } from "../domain/errors.js";
import type { SweepLogger } from "../domain/logger.js";
import { maskEmails } from "../domain/mask.js";
import type { Outcome } from "../domain/outcomes.js";
import type { Decision } from "../policy/plan.js";
import type { AuditAction, FinalResult } from "../ports/records.js";
import type { ActionSummary, RunState } from "./types.js";

/** A decision whose outcome is known without calling CancelHandshake. */
export interface Final {
  decision: Decision;
  outcome: Outcome;
  reason: string;
  error?: string;
  /** On a PLANNED final: the plan and the handshake's fingerprint. */
  planned?: { planId: string; fingerprint: string };
}

/** The final outcome of a decision that calls nothing; undefined for one that cancels. */
export function finalOf(decision: Decision, dryRun: boolean): Final | undefined {
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

/** The audit item of a decision as the run saw it when writing: an intent until an outcome is added. */
export function baseItem(run: RunState, decision: Decision): AuditAction {
  const { handshake } = decision;
  return {
    runId: run.request.runId,
    handshakeId: handshake.id,
    ruleId: decision.ruleId,
    matchedRules: decision.matchedRules,
    dryRun: run.dryRun,
    at: run.deps.now().toISOString(),
    trigger: run.request.trigger,
    actor: run.request.actor,
    action: handshake.action,
    target: handshake.target?.value ?? "",
    targetType: handshake.target?.type ?? "UNKNOWN",
    ...(handshake.requestedAt ? { requestedAt: handshake.requestedAt.toISOString() } : {}),
    reason: decision.reason,
    attempts: 0,
    ...(run.request.apply
      ? { planId: run.request.apply.stored.plan.planId, approver: run.request.apply.approver }
      : {}),
  };
}

/** A decision as the run reports it, logged as it is made, emails masked. */
export function decided(log: SweepLogger, item: AuditAction, outcome: Outcome): ActionSummary {
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
    ...(item.planId ? { planId: item.planId } : {}),
  };
  log.info("decision", {
    handshakeId: item.handshakeId,
    outcome,
    ruleId: item.ruleId,
    target: maskEmails(item.target),
    attempts: item.attempts,
    ...(item.error ? { error: maskEmails(item.error) } : {}),
  });
  return summary;
}

function finalItem(run: RunState, final: Final): AuditAction {
  const { decision, outcome, reason, error, planned } = final;
  const cancelAfter =
    decision.kind === "mark" && outcome === "MARKED" ? { cancelAfter: decision.cancelAfter } : {};
  return {
    ...baseItem(run, decision),
    outcome,
    reason,
    ...(error ? { error } : {}),
    ...cancelAfter,
    ...(planned ?? {}),
  };
}

/**
 * The record phase: outcomes decided without calling CancelHandshake, written together (a
 * transaction per batch).
 */
export async function recordFinalsTogether(
  run: RunState,
  finals: readonly Final[],
): Promise<ActionSummary[]> {
  if (finals.length === 0) return [];
  const items = finals.map((final) => finalItem(run, final));
  let results: FinalResult[];
  try {
    results = await run.deps.actions.recordFinals(items);
  } catch (failure) {
    results = items.map(() => ({ failed: describeError(failure) }));
  }
  return items.map((item, index) => finalSummary(run, item, results[index]));
}

/** One outcome decided without calling CancelHandshake, on its own: one conditional write. */
export async function recordFinalAlone(run: RunState, final: Final): Promise<ActionSummary> {
  const item = finalItem(run, final);
  let result: FinalResult;
  try {
    result = await run.deps.actions.recordAction(item);
  } catch (failure) {
    result = { failed: describeError(failure) };
  }
  return finalSummary(run, item, result);
}

/** Reports a final item as the store answered for it: written, found from before, or not on record. */
function finalSummary(run: RunState, item: AuditAction, result: FinalResult | undefined): ActionSummary {
  if (result === undefined || "failed" in result) {
    const why = result?.failed ?? "the store gave no answer for it";
    return decided(run.log, { ...item, error: `audit write failed: ${why}` }, "FAILED");
  }
  if (!result.created && result.existing.outcome) {
    return decided(run.log, result.existing, result.existing.outcome);
  }
  if (result.created) warnUnlinked(run.log, item, result.unlinked);
  return decided(run.log, item, item.outcome ?? "FAILED");
}

/** The item is on record; only its chain link is missing, and the next run adds it. */
export function warnUnlinked(log: SweepLogger, item: AuditAction, unlinked: string | undefined): void {
  if (unlinked === undefined) return;
  log.warn("recorded, not yet linked into the run's hash chain; the next run links it", {
    handshakeId: item.handshakeId,
    error: unlinked,
  });
}

/** Outcomes after which an open mark has served: acted on, superseded, or moot. */
const CLOSING: readonly Outcome[] = ["CANCELED", "ALREADY_CLOSED", "STATE_CHANGED", "EXEMPTED", "MARKED"];

/**
 * Closes the marks this run decided about, once the decision's outcome is on record. A mark whose
 * cancel was deferred or failed stays open, so the next run tries again; a close that fails is
 * logged and the mark stays open, and the next run closes it with what it finds then.
 */
export async function closeMarks(
  run: RunState,
  decisions: readonly Decision[],
  actions: readonly ActionSummary[],
): Promise<void> {
  const outcomes = new Map(actions.map((action) => [action.handshakeId, action.outcome]));
  for (const decision of decisions) {
    const mark = decision.kind === "failed" ? undefined : decision.closesMark;
    const outcome = outcomes.get(decision.handshake.id);
    if (mark === undefined || outcome === undefined || !CLOSING.includes(outcome)) continue;
    try {
      await run.deps.marks.closeMark(mark, run.request.runId);
    } catch (error) {
      run.log.warn("could not close a mark; the next run closes it", {
        markRunId: mark.runId,
        handshakeId: mark.handshakeId,
        error: describeError(error),
      });
    }
  }
}
