import { CANDIDATE_STATES, type Handshake, rememberedHandshake } from "../domain/handshake.js";
import type { OpenMark } from "../ports/records.js";
import type { Decision } from "./decision.js";

/**
 * Grace periods, as pure functions. A rule with `graceHours > 0` does not cancel what it selects:
 * the first run that selects a handshake marks it (a MARKED item with `cancelAfter`), and a later
 * run cancels it once `cancelAfter` has passed, if the handshake still matches the rule then. In
 * between, runs write nothing about it. A mark is closed, by the run that decides about it, when
 * it is acted on or can no longer be: cancelled, exempted meanwhile, accepted or declined, gone,
 * or no rule matches it any more. The planner hands every decision through `applyGrace` with the
 * handshake's open mark, if any; the sweep writes what comes back and closes the marks named in
 * `closesMark`.
 */

const HOUR_MS = 3_600_000;

/** When a mark made at `now` for `graceHours` becomes due, as an ISO-8601 UTC instant. */
export function cancelAfterOf(now: Date, graceHours: number): string {
  return new Date(now.getTime() + Math.round(graceHours * HOUR_MS)).toISOString();
}

/** Whether the mark's grace period is over at `now`. */
export function isDue(mark: Pick<OpenMark, "cancelAfter">, now: Date): boolean {
  const due = Date.parse(mark.cancelAfter);
  // An unreadable instant is doubt: never due, so never cancelled on its strength.
  return !Number.isNaN(due) && now.getTime() >= due;
}

export interface GraceContext {
  now: Date;
  /** The open mark of this handshake, if some earlier run marked it. */
  mark?: OpenMark;
  /** graceHours of a rule by id (0 when it has none or is unknown). */
  graceHoursOf(ruleId: string): number;
}

function closed(mark: OpenMark, why: string): string {
  return `mark of run ${mark.runId} closed: ${why}`;
}

/**
 * What to do with the planner's decision about a candidate handshake (undefined: no rule matched
 * it), given its open mark. undefined means no item: nothing to do, or the grace period still runs.
 */
export function applyGrace(
  decision: Decision | undefined,
  handshake: Handshake,
  context: GraceContext,
): Decision | undefined {
  const { mark, now } = context;
  if (decision === undefined) {
    if (mark === undefined) return undefined;
    return {
      kind: "close",
      handshake,
      ruleId: mark.ruleId,
      matchedRules: [],
      outcome: "EXEMPTED",
      reason: closed(mark, `rule '${mark.ruleId}' and every other rule no longer match it`),
      closesMark: mark,
    };
  }
  // A rule that threw is doubt: nothing is cancelled, and the mark stays open for a clearer run.
  if (decision.kind === "failed") return decision;
  if (decision.kind === "exempted") {
    return mark === undefined
      ? decision
      : { ...decision, reason: closed(mark, decision.reason), closesMark: mark };
  }
  if (decision.kind !== "cancel") return decision;

  if (mark !== undefined && decision.matchedRules.includes(mark.ruleId)) {
    if (!isDue(mark, now)) return undefined;
    return {
      ...decision,
      ruleId: mark.ruleId,
      reason: `${decision.reason}; marked by run ${mark.runId}, due at ${mark.cancelAfter}`,
      closesMark: mark,
    };
  }
  // No mark, or the marking rule no longer matches: judged afresh by the rule that matches now.
  const superseded = mark === undefined ? undefined : closed(mark, `rule '${mark.ruleId}' no longer matches`);
  const reason = superseded === undefined ? decision.reason : `${superseded}; ${decision.reason}`;
  const graceHours = context.graceHoursOf(decision.ruleId);
  const closes = mark === undefined ? {} : { closesMark: mark };
  if (graceHours <= 0) return { ...decision, reason, ...closes };
  const cancelAfter = cancelAfterOf(now, graceHours);
  return {
    kind: "mark",
    handshake: decision.handshake,
    ruleId: decision.ruleId,
    matchedRules: decision.matchedRules,
    reason: `${reason}; grace ${graceHours} h: cancel after ${cancelAfter} if it still matches`,
    cancelAfter,
    ...closes,
  };
}

/**
 * The decision about a marked handshake that is no candidate any more: listed in another state
 * (accepted, declined, canceled by someone else, expired), or not listed at all (`handshake`
 * undefined: the service dropped it). Closes the mark with what happened.
 */
export function closeMarkOf(mark: OpenMark, handshake: Handshake | undefined): Decision | undefined {
  if (handshake !== undefined && CANDIDATE_STATES.includes(handshake.state)) return undefined;
  const subject: Handshake = handshake ?? rememberedHandshake(mark);
  const [outcome, why] =
    handshake === undefined
      ? (["ALREADY_CLOSED", "the handshake is no longer listed"] as const)
      : handshake.state === "CANCELED"
        ? (["ALREADY_CLOSED", "canceled by someone else"] as const)
        : (["STATE_CHANGED", `the handshake is ${handshake.state}`] as const);
  return {
    kind: "close",
    handshake: subject,
    ruleId: mark.ruleId,
    matchedRules: [],
    outcome,
    reason: closed(mark, why),
    closesMark: mark,
  };
}

/**
 * The open marks by handshake. Should a handshake have two (a fault between closing one mark and
 * writing the next), the one due first governs; the other is found again by later runs.
 */
export function marksByHandshake(marks: readonly OpenMark[]): Map<string, OpenMark> {
  const byHandshake = new Map<string, OpenMark>();
  for (const mark of marks) {
    const known = byHandshake.get(mark.handshakeId);
    if (known === undefined || mark.cancelAfter < known.cancelAfter) byHandshake.set(mark.handshakeId, mark);
  }
  return byHandshake;
}
