/**
 * Four eyes in the run (docs/approval.md). Under `approval: required` a live run records what it
 * would cancel as PLANNED, in a plan someone else approves (`planned`, `recordPlan`); a run that
 * applies an approved plan cancels only what still matches it and records the rest STALE_PLAN
 * (`applying`). Neither calls CancelHandshake: the cancel phase does, for what is left.
 */

import { planLifetimeMs, requiresApproval } from "../config/approval.js";
import { configHash } from "../config/config.js";
import { ConfigError } from "../domain/errors.js";
import { type Handshake, rememberedHandshake } from "../domain/handshake.js";
import {
  approvedEntries,
  fingerprintOf,
  isPlanExpired,
  planEntryOf,
  planHashOf,
  planIdOf,
  staleness,
} from "../policy/approval.js";
import type { Decision } from "../policy/plan.js";
import type { PlanEntry, PlanRecord } from "../ports/plans.js";
import type { OpenMark } from "../ports/records.js";
import { type Final, finalOf } from "./record.js";
import type { ActionSummary, RunState } from "./types.js";

/** Decisions split into what the run records without calling anything and what it cancels. */
export interface Split {
  finals: Final[];
  toCancel: Decision[];
}

/** Whether this run plans instead of cancelling what a rule that requires approval selects. */
export function plans(run: RunState): boolean {
  return !run.dryRun && run.request.apply === undefined;
}

/**
 * Handshakes already in an open plan (pending, approved or rejected, not expired): a run leaves
 * them to that plan rather than planning them again every hour. A rejection holds them until its
 * plan expires; then, if a rule still selects them, a new plan asks again. An entry planned at
 * marking is the exception: its rejection only refused to cut the grace period short, so once its
 * mark is due the handshake is planned again, for the cancel itself.
 */
export async function inOpenPlans(run: RunState): Promise<ReadonlySet<string>> {
  const store = run.deps.plans;
  if (store === undefined) return new Set();
  const now = run.deps.now();
  const open = await store.listOpenPlans();
  const held = (entry: PlanEntry, rejected: boolean) =>
    !rejected || entry.cancelAfter === undefined || Date.parse(entry.cancelAfter) > now.getTime();
  return new Set(
    open
      .filter(({ plan }) => !isPlanExpired(plan, now))
      .flatMap(({ plan, decision }) =>
        plan.entries
          .filter((entry) => held(entry, decision?.verdict === "rejected"))
          .map((entry) => entry.handshakeId),
      ),
  );
}

/**
 * A live run's decisions, under approval. Each cancel whose rule requires approval becomes a
 * PLANNED final of this run's plan. Each new mark whose rule requires approval stays MARKED and
 * joins the plan too, so that an approver can cut its grace period short (approve means cancel
 * now). A handshake already in an open plan is left to it: a cancel is dropped, a mark is made
 * without joining this plan.
 */
export function planned(run: RunState, decided: Split, planning: ReadonlySet<string>): Split {
  const { config } = run.request;
  const planId = planIdOf(run.request.runId);
  const requires = (decision: Decision) => {
    if (!requiresApproval(config, decision.ruleId)) return false;
    if (run.deps.plans === undefined) {
      throw new ConfigError(["approval: required, but this run has no plan store to record its plan in"]);
    }
    if (!planning.has(decision.handshake.id)) return true;
    run.log.info("already in an open plan; left to it", { handshakeId: decision.handshake.id });
    return false;
  };
  const finals = decided.finals.map((final): Final => {
    const { decision } = final;
    if (final.outcome !== "MARKED" || decision.kind !== "mark" || !requires(decision)) return final;
    return {
      ...final,
      reason: `${final.reason}; approval required: plan ${planId}, whose approval cancels it before then`,
      planned: { planId, fingerprint: fingerprintOf(decision.handshake) },
    };
  });
  const rest: Decision[] = [];
  for (const decision of decided.toCancel) {
    if (!requiresApproval(config, decision.ruleId)) {
      rest.push(decision);
      continue;
    }
    if (!requires(decision)) continue;
    finals.push({
      decision,
      outcome: "PLANNED",
      reason: `${decision.reason}; approval required: plan ${planId}`,
      planned: { planId, fingerprint: fingerprintOf(decision.handshake) },
    });
  }
  return { finals, toCancel: rest };
}

/**
 * Records the run's plan: the handshakes whose PLANNED item is on record, with what the plan
 * holds of each. Answers the plan's summary, or undefined when the run planned nothing.
 */
export async function recordPlan(
  run: RunState,
  decisions: readonly Decision[],
  actions: readonly ActionSummary[],
): Promise<NonNullable<import("./types.js").RunSummary["plan"]> | undefined> {
  const store = run.deps.plans;
  const planId = planIdOf(run.request.runId);
  const recorded = new Set(
    actions
      .filter((a) => (a.outcome === "PLANNED" || a.outcome === "MARKED") && a.planId === planId)
      .map((a) => a.handshakeId),
  );
  if (store === undefined || recorded.size === 0) return undefined;
  const entries = decisions.filter((d) => recorded.has(d.handshake.id)).map(planEntryOf);
  const created = run.deps.now();
  const identity = run.request.identity;
  const content: Omit<PlanRecord, "planHash"> = {
    planId,
    runId: run.request.runId,
    createdAt: created.toISOString(),
    expiresAt: new Date(created.getTime() + planLifetimeMs(run.request.config)).toISOString(),
    maker: identity?.arn ?? run.request.actor,
    ...(identity ? { account: identity.account, makerId: identity.userId } : {}),
    table: store.table,
    configHash: configHash(run.request.config),
    entries,
  };
  const plan: PlanRecord = { ...content, planHash: planHashOf(content) };
  const written = await store.recordPlan(plan);
  const kept = written ? plan : ((await store.readPlan(planId))?.plan ?? plan);
  run.log.info("plan recorded; it waits for approval", {
    planId,
    handshakes: kept.entries.length,
    expiresAt: kept.expiresAt,
  });
  return { planId, expiresAt: kept.expiresAt, maker: kept.maker, handshakes: kept.entries.length };
}

/**
 * An apply run's decisions against its approved plan: each approved handshake, described again
 * and judged now, is cancelled only when it is still selected and unchanged; otherwise it is
 * recorded STALE_PLAN with what changed. Decisions about other handshakes (a mark closed) pass.
 */
export function applying(
  run: RunState,
  decisions: readonly Decision[],
  described: ReadonlyMap<string, Handshake>,
  marks: ReadonlyMap<string, OpenMark>,
): Split {
  const apply = run.request.apply;
  if (apply === undefined) return { finals: [], toCancel: [] };
  const { planId } = apply.stored.plan;
  const entries = approvedEntries(apply.stored);
  const byHandshake = new Map(decisions.map((decision) => [decision.handshake.id, decision]));
  const finals: Final[] = [];
  const toCancel: Decision[] = [];
  for (const entry of entries) {
    const decision = byHandshake.get(entry.handshakeId);
    byHandshake.delete(entry.handshakeId);
    const current = described.get(entry.handshakeId);
    if (decision?.kind === "failed") {
      finals.push(finalOf(decision, false) as Final);
      continue;
    }
    const changed = staleness(entry, current, decision, marks.get(entry.handshakeId));
    if (changed === undefined && decision !== undefined) {
      toCancel.push({ ...decision, reason: `${decision.reason}; approved in plan ${planId}` });
      continue;
    }
    finals.push({
      decision: decision ?? stubDecision(entry, current),
      outcome: "STALE_PLAN",
      reason: `${entry.reason}; plan ${planId}: ${changed ?? "changed"}; not canceled`,
    });
  }
  for (const decision of byHandshake.values()) {
    const final = finalOf(decision, run.dryRun);
    // Only marks are closed here; nothing outside the plan is ever cancelled by its apply.
    if (final !== undefined) finals.push(final);
  }
  return { finals, toCancel };
}

/** A decision to record a STALE_PLAN against, for a handshake no rule selects now (or gone). */
function stubDecision(entry: PlanEntry, current: Handshake | undefined): Decision {
  return {
    kind: "cancel",
    handshake: current ?? rememberedHandshake(entry),
    ruleId: entry.ruleId,
    matchedRules: [...entry.matchedRules],
    reason: entry.reason,
  };
}
