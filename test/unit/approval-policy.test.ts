import { describe, expect, test } from "vitest";
import type { Handshake } from "../../src/domain/handshake.js";
import {
  earlyApprovals,
  planEntryOf,
  planHashOf,
  planIntegrityProblems,
  staleness,
} from "../../src/policy/approval.js";
import type { Decision } from "../../src/policy/plan.js";
import type { PlanRecord, StoredPlan } from "../../src/ports/plans.js";
import type { OpenMark } from "../../src/ports/records.js";
import { plansSection } from "../../src/report/plans-section.js";

/** Four eyes and grace periods as pure functions: what a plan made at marking holds, and how apply reads it. */

const DUE = "2026-11-26T12:00:00.000Z";
const shake = (id: string, state = "OPEN"): Handshake => ({
  id,
  state,
  action: "INVITE",
  requestedAt: new Date("2026-11-20T00:00:00Z"),
  target: { type: "EMAIL", value: `${id}@gmail.com` },
});
const marking = (id: string): Decision => ({
  kind: "mark",
  handshake: shake(id),
  ruleId: "outside",
  matchedRules: ["outside"],
  reason: "denied",
  cancelAfter: DUE,
});
const cancelling = (id: string): Decision => ({
  kind: "cancel",
  handshake: shake(id),
  ruleId: "outside",
  matchedRules: ["outside"],
  reason: "denied",
});

function stored(decisions: Decision[], approved: string[] = []): StoredPlan {
  const content: Omit<PlanRecord, "planHash"> = {
    planId: "plan-0123456789abcdef",
    runId: "run-1",
    createdAt: "2026-11-25T12:00:00.000Z",
    expiresAt: "2026-11-26T12:00:00.000Z",
    maker: "maker",
    table: "t",
    configHash: "c",
    entries: decisions.map(planEntryOf),
  };
  const plan = { ...content, planHash: planHashOf(content) };
  return {
    plan,
    ...(approved.length > 0
      ? {
          decision: {
            planId: plan.planId,
            verdict: "approved" as const,
            by: "approver",
            byId: "AIDAAPPROVER",
            at: "2026-11-25T13:00:00.000Z",
            note: "ok",
            handshakeIds: approved,
            decisionHash: "unchecked here",
          },
        }
      : {}),
  };
}

describe("a plan made at marking", () => {
  test("its entry for a mark carries the mark's due time; one for a cancel does not", () => {
    expect(planEntryOf(marking("h-0000000001")).cancelAfter).toBe(DUE);
    expect(planEntryOf(cancelling("h-0000000002"))).not.toHaveProperty("cancelAfter");
  });

  test("reads as intact, and an edited due time breaks its hash", () => {
    const plan = stored([marking("h-0000000001")]);
    expect(planIntegrityProblems(plan, { table: "t" })).toEqual([]);

    const [entry] = plan.plan.entries;
    if (entry === undefined) throw new Error("no entry");
    entry.cancelAfter = "2026-11-25T12:00:01.000Z";

    expect(planIntegrityProblems(plan, { table: "t" })).toEqual([
      "plan plan-0123456789abcdef: its content does not match its hash: edited since it was recorded",
    ]);
  });

  test("its approved marked entries cut a grace period short; unapproved and unmarked ones do not", () => {
    const plan = stored(
      [marking("h-0000000001"), marking("h-0000000002"), cancelling("h-0000000003")],
      ["h-0000000001", "h-0000000003"],
    );
    expect([...earlyApprovals(plan)]).toEqual([
      ["h-0000000001", { planId: "plan-0123456789abcdef", markRunId: "run-1", ruleId: "outside" }],
    ]);
    expect(earlyApprovals(stored([marking("h-0000000001")])).size).toBe(0);
  });
});

describe("staleness of an entry planned at marking", () => {
  const entry = planEntryOf(marking("h-0000000001"));
  const current = shake("h-0000000001");

  test("a cancel decided now is not stale", () => {
    expect(staleness(entry, current, cancelling("h-0000000001"))).toBeUndefined();
  });

  test("a cancel by another rule than the one whose mark was approved is stale", () => {
    const other: Decision = {
      ...cancelling("h-0000000001"),
      ruleId: "stale",
      matchedRules: ["stale"],
      reason: "old",
    };
    expect(staleness(entry, current, other)).toBe(
      "rule 'outside' no longer selects it (rule 'stale' does: old)",
    );
    expect(staleness(planEntryOf(cancelling("h-0000000001")), current, other)).toBeUndefined();
  });

  test("a mark that is not open any more is named", () => {
    expect(staleness(entry, current, marking("h-0000000001"))).toBe(
      "the mark this plan was made with is not open any more (denied)",
    );
  });

  test("a grace period of another mark, which the approval does not cut short, is named", () => {
    const other: OpenMark = {
      runId: "run-7",
      handshakeId: current.id,
      ruleId: "outside",
      cancelAfter: DUE,
      action: "INVITE",
      target: "x",
      targetType: "EMAIL",
    };
    expect(staleness(entry, current, undefined, other)).toBe(
      `its grace period runs until ${DUE} under a mark of run run-7 (rule 'outside'), not the mark this plan was made with`,
    );
  });

  test("an accepted handshake is stale as any other", () => {
    expect(staleness(entry, shake("h-0000000001", "ACCEPTED"), undefined)).toBe("state OPEN -> ACCEPTED");
  });
});

describe("the report's plans", () => {
  test("say how many of a plan's handshakes were planned in a grace period", () => {
    const plain = stored([cancelling("h-0000000004")]);
    plain.plan.planId = "plan-1111111111111111";

    const html = plansSection([
      stored([marking("h-0000000001"), marking("h-0000000002"), cancelling("h-0000000003")]),
      plain,
    ]);

    const [first, second] = html.split("plan-1111111111111111");
    expect(first).toContain("3 handshakes<br>2 in a grace period (approval cancels early)");
    expect(second).toContain("1 handshakes<br>expires");
  });
});
