import { createHash } from "node:crypto";
import { canonicalJson } from "../domain/canonical-json.js";
import { CANDIDATE_STATES, type Handshake } from "../domain/handshake.js";
import type {
  CallerIdentity,
  PlanDecision,
  PlanEntry,
  PlanRecord,
  PlanStatus,
  StoredPlan,
} from "../ports/plans.js";
import type { OpenMark } from "../ports/records.js";
import type { Decision } from "./decision.js";
import type { EarlyApproval } from "./grace.js";

/**
 * Four eyes as pure functions (docs/approval.md): what a plan holds of each handshake, the hashes
 * that make an edited plan or decision visible, whether a stored plan may be acted on, and what
 * changed about a handshake between its plan and the apply.
 */

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** What a plan's fingerprint covers of a handshake: its state, action, parties and notes. */
export function fingerprintParts(
  handshake: Handshake,
): Omit<PlanEntry, "handshakeId" | "ruleId" | "matchedRules" | "reason" | "fingerprint" | "cancelAfter"> {
  return {
    state: handshake.state,
    action: handshake.action,
    target: handshake.target?.value ?? "",
    targetType: handshake.target?.type ?? "UNKNOWN",
    ...(handshake.requestedAt ? { requestedAt: handshake.requestedAt.toISOString() } : {}),
    notesHash: handshake.notes === undefined || handshake.notes === "" ? "" : sha256(handshake.notes),
  };
}

/** The fingerprint of a handshake as judged: changes when its state, parties or notes change. */
export function fingerprintOf(handshake: Handshake): string {
  return sha256(canonicalJson(fingerprintParts(handshake)));
}

/**
 * A selected handshake as its plan records it. A mark (planned as it is made) carries when its
 * grace period ends, which approving cuts short.
 */
export function planEntryOf(decision: Decision): PlanEntry {
  const { handshake } = decision;
  return {
    handshakeId: handshake.id,
    ruleId: decision.ruleId,
    matchedRules: [...decision.matchedRules],
    reason: decision.reason,
    fingerprint: fingerprintOf(handshake),
    ...fingerprintParts(handshake),
    ...(decision.kind === "mark" ? { cancelAfter: decision.cancelAfter } : {}),
  };
}

/** sha256 of the plan's canonical JSON, everything but the hash itself. */
export function planHashOf(plan: Omit<PlanRecord, "planHash"> & { planHash?: string }): string {
  const { planHash: _ignored, ...content } = plan;
  return sha256(canonicalJson(content));
}

/** sha256 of the decision's canonical JSON and the hash of the plan it decides. */
export function decisionHashOf(
  decision: Omit<PlanDecision, "decisionHash"> & { decisionHash?: string },
  planHash: string,
): string {
  const { decisionHash: _ignored, ...content } = decision;
  return sha256(`${planHash}\n${canonicalJson(content)}`);
}

/** A decision on `plan` by `who`, hashed over the plan's hash. */
export function decisionOf(
  plan: PlanRecord,
  who: CallerIdentity,
  decided: Pick<PlanDecision, "verdict" | "note" | "handshakeIds" | "at">,
): PlanDecision {
  const content: Omit<PlanDecision, "decisionHash"> = {
    planId: plan.planId,
    verdict: decided.verdict,
    by: who.arn,
    byId: who.userId,
    at: decided.at,
    note: decided.note,
    handshakeIds: decided.handshakeIds,
  };
  return { ...content, decisionHash: decisionHashOf(content, plan.planHash) };
}

/** Whether `who` made `plan`: the same ARN, or the same unique id. */
export function isMakerOf(plan: PlanRecord, who: { arn: string; userId?: string }): boolean {
  return who.arn === plan.maker || (who.userId !== undefined && who.userId === plan.makerId);
}

/** The plan id a run's plan gets: one per run, so a retried run finds its plan and makes no other. */
export function planIdOf(runId: string): string {
  return `plan-${sha256(runId).slice(0, 16)}`;
}

export const PLAN_ID_PATTERN = /^plan-[0-9a-f]{16}$/;
export const PLAN_ID_PROBLEM = "must be a plan id: plan- followed by 16 hexadecimal digits";

/** Whether the plan is past its expiry at `now`: then it can be neither approved nor applied. */
export function isPlanExpired(plan: Pick<PlanRecord, "expiresAt">, now: Date): boolean {
  return Date.parse(plan.expiresAt) <= now.getTime();
}

/** Where the plan is, at `now`. */
export function planStatus(stored: StoredPlan, now: Date): PlanStatus {
  if (stored.appliedBy !== undefined) return "applied";
  if (stored.decision?.verdict === "rejected") return "rejected";
  if (isPlanExpired(stored.plan, now)) return "expired";
  return stored.decision?.verdict === "approved" ? "approved" : "pending";
}

/** Where the plan must belong for this janitor to act on it. */
export interface PlanHome {
  table: string;
  /** The caller's AWS account; undefined when unknown (then not compared). */
  account?: string;
}

/**
 * Why a stored plan must not be acted on, one line each; empty when it reads as it was recorded.
 * An edited plan or decision, or a plan of another table or organization, is refused.
 */
export function planIntegrityProblems(stored: StoredPlan, home: PlanHome): string[] {
  const { plan, decision } = stored;
  const problems: string[] = [];
  if (stored.unreadable !== undefined) return [`plan ${plan.planId}: ${stored.unreadable}`];
  if (planHashOf(plan) !== plan.planHash) {
    problems.push(`plan ${plan.planId}: its content does not match its hash: edited since it was recorded`);
  }
  if (plan.table !== home.table) {
    problems.push(`plan ${plan.planId}: recorded for audit table '${plan.table}', not '${home.table}'`);
  }
  if (home.account !== undefined && plan.account !== undefined && plan.account !== home.account) {
    problems.push(
      `plan ${plan.planId}: made in account ${plan.account}, not this organization's management account ${home.account}`,
    );
  }
  for (const entry of plan.entries) {
    const { handshakeId, ruleId, matchedRules, reason, fingerprint, cancelAfter, ...parts } = entry;
    if (sha256(canonicalJson(parts)) !== fingerprint) {
      problems.push(
        `plan ${plan.planId}: ${handshakeId}: its fingerprint does not match what the plan holds of it`,
      );
    }
  }
  if (decision !== undefined) {
    if (
      decision.planId !== plan.planId ||
      decisionHashOf(decision, plan.planHash) !== decision.decisionHash
    ) {
      problems.push(
        `plan ${plan.planId}: its ${decision.verdict} decision does not match its hash: edited since`,
      );
    }
    if (decision.verdict === "approved" && isMakerOf(plan, { arn: decision.by, userId: decision.byId })) {
      problems.push(`plan ${plan.planId}: approved by its own maker ${plan.maker}`);
    }
    if (stored.attested !== true) {
      problems.push(
        `plan ${plan.planId}: its ${decision.verdict} decision names ${decision.by} (${decision.byId}), and no write of that principal under its own key attests it: written in someone else's name`,
      );
    }
    const known = new Set(plan.entries.map((entry) => entry.handshakeId));
    for (const id of decision.handshakeIds) {
      if (!known.has(id))
        problems.push(`plan ${plan.planId}: the approval names ${id}, which the plan does not hold`);
    }
  }
  return problems;
}

/** The entries an approval covers, in the plan's order. */
export function approvedEntries(stored: StoredPlan): PlanEntry[] {
  const approved = new Set(stored.decision?.verdict === "approved" ? stored.decision.handshakeIds : []);
  return stored.plan.entries.filter((entry) => approved.has(entry.handshakeId));
}

/**
 * The approved entries planned as they were marked, by handshake: approving one means cancel now,
 * so the apply cuts short the grace period of the mark the plan's run made (src/policy/grace.ts).
 */
export function earlyApprovals(stored: StoredPlan): Map<string, EarlyApproval> {
  const { planId, runId } = stored.plan;
  return new Map(
    approvedEntries(stored)
      .filter((entry) => entry.cancelAfter !== undefined)
      .map((entry) => [entry.handshakeId, { planId, markRunId: runId, ruleId: entry.ruleId }]),
  );
}

/**
 * What changed about an approved handshake since its plan, judged again now under the current
 * config: undefined when it still matches and may be canceled. `decision` is what the planner
 * decides now (undefined: no rule selects it, or a grace period runs that the approval does not
 * cut short); `current` the handshake as described now; `mark` its open mark, if any.
 */
export function staleness(
  entry: PlanEntry,
  current: Handshake | undefined,
  decision: Decision | undefined,
  mark?: OpenMark,
): string | undefined {
  if (current === undefined) return "the handshake is gone";
  const changes: string[] = [];
  const now = fingerprintParts(current);
  if (now.state !== entry.state) changes.push(`state ${entry.state} -> ${now.state}`);
  if (now.target !== entry.target || now.targetType !== entry.targetType) changes.push("its parties changed");
  if (now.notesHash !== entry.notesHash) changes.push("its notes changed");
  if (now.action !== entry.action) changes.push(`action ${entry.action} -> ${now.action}`);
  if (changes.length === 0 && fingerprintOf(current) !== entry.fingerprint)
    changes.push("its fingerprint changed");
  if (changes.length > 0) return changes.join(", ");
  if (!CANDIDATE_STATES.includes(current.state))
    return `state ${current.state}: it can no longer be canceled`;
  if (decision === undefined && mark !== undefined) {
    return `its grace period runs until ${mark.cancelAfter} under a mark of run ${mark.runId} (rule '${mark.ruleId}'), not the mark this plan was made with`;
  }
  if (decision === undefined) return "no rule selects it any more";
  if (decision.kind === "exempted") return `now exempted (${decision.reason})`;
  if (decision.kind === "mark" && entry.cancelAfter !== undefined) {
    return `the mark this plan was made with is not open any more (${decision.reason})`;
  }
  if (decision.kind === "mark") return `not due under the current config (${decision.reason})`;
  if (decision.kind !== "cancel") return `no longer selected (${decision.reason})`;
  // What was approved early is the cancel of that rule's mark: another rule's cancel is a new judgement.
  if (entry.cancelAfter !== undefined && decision.ruleId !== entry.ruleId) {
    return `rule '${entry.ruleId}' no longer selects it (rule '${decision.ruleId}' does: ${decision.reason})`;
  }
  return undefined;
}
