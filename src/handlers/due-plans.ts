import type { App } from "../app.js";
import { planChainProblems } from "../aws/audit/index.js";
import type { JanitorConfig } from "../config/config.js";
import { describeError } from "../domain/errors.js";
import type { SweepLogger } from "../domain/logger.js";
import { findingsOf } from "../evidence/findings.js";
import { isPlanExpired, planIntegrityProblems, planStatus } from "../policy/approval.js";
import type { CallerIdentity } from "../ports/plans.js";
import { applyPlan } from "../sweep/apply.js";
import type { RunSummary, SweepDeps } from "../sweep/sweep.js";

/**
 * The scheduled sweep applies the plans approved since it last ran, before its own sweep: approval
 * can happen wherever the CLI runs, and the Lambda cancels with its own role. Each plan is its own
 * run (apply-<plan id>); an altered one, or one of another table or account, is refused and logged.
 * A plan past its expiry (pending, approved or rejected) leaves the open plans: until then a
 * rejected plan holds its handshakes, so they are not planned again before it expires.
 */
export async function applyDuePlans(
  app: App,
  config: JanitorConfig,
  identity: CallerIdentity,
  deps: SweepDeps,
  log: SweepLogger,
  deadline: number,
): Promise<RunSummary[]> {
  const applied: RunSummary[] = [];
  const now = deps.now();
  for (const stored of await app.plans.listOpenPlans()) {
    if (isPlanExpired(stored.plan, now)) {
      await closeExpired(app, stored.plan.planId, log);
      continue;
    }
    if (planStatus(stored, now) !== "approved") continue;
    if (deps.now().getTime() >= deadline) break;
    const problems = planIntegrityProblems(stored, { table: app.tableName, account: identity.account });
    if (problems.length === 0) problems.push(...(await planChainProblems(app.audit, stored)));
    if (problems.length > 0) {
      log.error("approved plan refused: not applied", { planId: stored.plan.planId, problems });
      await app.audit.recordFindings(`plan ${stored.plan.planId}`, findingsOf(problems), now.toISOString());
      continue;
    }
    try {
      applied.push(
        await applyPlan({ config, stored, trigger: "scheduled", actor: identity.arn, deadline }, deps),
      );
    } catch (error) {
      log.error("approved plan not applied", { planId: stored.plan.planId, error: describeError(error) });
    }
  }
  return applied;
}

async function closeExpired(app: App, planId: string, log: SweepLogger): Promise<void> {
  try {
    await app.plans.closeExpired(planId);
  } catch (error) {
    // Still open, it is met and closed again by the next sweep; nothing is applied from it.
    log.warn("expired plan not closed", { planId, error: describeError(error) });
  }
}
