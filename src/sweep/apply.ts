/**
 * Applying an approved plan (docs/approval.md): a sweep of exactly the plan's approved handshakes,
 * each described again and judged under the current config, with the same lease, claims, fencing,
 * pacer and audit as any live sweep. Its records name the plan and the approver.
 */
import type { JanitorConfig } from "../config/config.js";
import { describeError } from "../domain/errors.js";
import type { Trigger } from "../domain/outcomes.js";
import { approvedEntries, planStatus } from "../policy/approval.js";
import type { StoredPlan } from "../ports/plans.js";
import { describedHandshakes } from "./judge.js";
import { type RunSummary, type SweepDeps, silentLogger, sweep } from "./sweep.js";

export interface ApplyRequest {
  config: JanitorConfig;
  /** Read and checked (planIntegrityProblems, the plan's chain) by the caller. */
  stored: StoredPlan;
  trigger: Trigger;
  actor: string;
  deadline?: number;
  concurrency?: number;
}

/** One apply per plan: a second finds its run and does nothing twice. */
export function applyRunId(planId: string): string {
  return `apply-${planId}`;
}

/**
 * Why the plan cannot be applied now, one line each: not approved, rejected, expired or applied
 * already. Empty when it can.
 */
export function applyRefusals(stored: StoredPlan, now: Date): string[] {
  const { plan, decision } = stored;
  switch (planStatus(stored, now)) {
    case "approved":
      return [];
    case "applied":
      return [`plan ${plan.planId}: already applied by run ${stored.appliedBy}`];
    case "rejected":
      return [`plan ${plan.planId}: rejected by ${decision?.by} at ${decision?.at}; nothing is applied`];
    case "expired":
      return [`plan ${plan.planId}: expired at ${plan.expiresAt}; nothing is applied`];
    default:
      return [`plan ${plan.planId}: not approved yet; approve it first (someone other than ${plan.maker})`];
  }
}

/** Applies an approved plan, then notes the run that applied it on the plan. */
export async function applyPlan(request: ApplyRequest, deps: SweepDeps): Promise<RunSummary> {
  const { stored } = request;
  const { plan, decision } = stored;
  if (decision?.verdict !== "approved") throw new Error(`plan ${plan.planId} is not approved`);
  const log = deps.logger ?? silentLogger;
  const ids = approvedEntries(stored).map((entry) => entry.handshakeId);
  const runId = applyRunId(plan.planId);
  const summary = await sweep(
    {
      config: request.config,
      runId,
      trigger: request.trigger,
      actor: request.actor,
      handshakeIds: ids,
      apply: { stored, approver: decision.by },
      note: `applies plan ${plan.planId}, approved by ${decision.by}: ${decision.note}`,
      ...(request.deadline === undefined ? {} : { deadline: request.deadline }),
      ...(request.concurrency === undefined ? {} : { concurrency: request.concurrency }),
    },
    { ...deps, organizations: describedHandshakes(deps.organizations, ids) },
  );
  if (!summary.replayed && deps.plans !== undefined) {
    try {
      await deps.plans.markApplied(plan.planId, runId);
    } catch (error) {
      // The run's records stand; the plan stays listed as approved, and a second apply replays the run.
      log.warn("could not note the apply on the plan", { planId: plan.planId, error: describeError(error) });
    }
  }
  return summary;
}
