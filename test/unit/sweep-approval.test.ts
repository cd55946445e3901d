import { describe, expect, test } from "vitest";
import { parseConfig } from "../../src/config/config.js";
import { decisionHashOf } from "../../src/policy/approval.js";
import type { PlanDecision, PlanRecord, PlanStore, StoredPlan } from "../../src/ports/plans.js";
import { applyPlan } from "../../src/sweep/apply.js";
import { sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { FakeAudit, FakeOrganizations, handshake } from "../support/fakes.js";

/** Four eyes and grace periods in the run loop: a mark is planned as it is made; approve means cancel now. */

const NOW = new Date("2026-11-25T12:00:00Z");
const HOUR = 3_600_000;
const APPROVER = "arn:aws:iam::123456789012:user/approver";

/** Plans kept in memory, as the audit table keeps them. */
class FakePlans implements PlanStore {
  readonly table = "fake";
  readonly stored = new Map<string, StoredPlan>();
  async recordPlan(plan: PlanRecord) {
    if (this.stored.has(plan.planId)) return false;
    this.stored.set(plan.planId, { plan: structuredClone(plan) });
    return true;
  }
  async readPlan(planId: string) {
    return structuredClone(this.stored.get(planId));
  }
  readonly closed = new Set<string>();
  async decidePlan(decision: PlanDecision) {
    const stored = this.stored.get(decision.planId);
    if (stored === undefined || stored.decision !== undefined) return false;
    // Written with its attestation, as the table's store does.
    stored.decision = structuredClone(decision);
    stored.attested = true;
    return true;
  }
  async closeExpired(planId: string) {
    this.closed.add(planId);
  }
  async markApplied(planId: string, runId: string) {
    const stored = this.stored.get(planId);
    if (stored !== undefined) stored.appliedBy = runId;
  }
  async listOpenPlans() {
    return [...this.stored.values()].filter(
      (s) => s.appliedBy === undefined && !this.closed.has(s.plan.planId),
    );
  }
  async listPlans() {
    return [...this.stored.values()];
  }
}

const config = parseConfig(
  JSON.stringify({
    version: 1,
    dryRun: false,
    approval: "required",
    rules: [{ id: "outside-email", type: "email", deny: ["*@gmail.com"], graceHours: 2 }],
  }),
  "test.json",
);

function scene() {
  const h = handshake({ target: { type: "EMAIL", value: "eve@gmail.com" } });
  const audit = new FakeAudit();
  const plans = new FakePlans();
  const organizations = new FakeOrganizations([h]);
  let clock = NOW;
  const deps = { ...sweepPorts(audit), organizations, plans, now: () => clock };
  const at = (offsetMs: number) => {
    clock = new Date(NOW.getTime() + offsetMs);
  };
  const run = (runId: string) => sweep({ config, runId, trigger: "cli", actor: "maker" }, deps);
  const decide = async (planId: string, verdict: "approved" | "rejected") => {
    const stored = plans.stored.get(planId);
    if (stored === undefined) throw new Error(`no plan ${planId}`);
    const content = {
      planId,
      verdict,
      by: APPROVER,
      byId: "AIDAAPPROVER",
      at: clock.toISOString(),
      note: "CHG-1",
      handshakeIds: verdict === "approved" ? [h.id] : [],
    };
    await plans.decidePlan({ ...content, decisionHash: decisionHashOf(content, stored.plan.planHash) });
    return plans.stored.get(planId) as StoredPlan;
  };
  const apply = (stored: StoredPlan) => applyPlan({ config, stored, trigger: "cli", actor: "applier" }, deps);
  return { h, audit, plans, organizations, at, run, decide, apply };
}

describe("a mark under approval", () => {
  test("is planned as it is made, the plan entry saying until when its grace period runs", async () => {
    const { h, plans, run } = scene();

    const marking = await run("run-1");

    expect(marking.counts).toEqual({ MARKED: 1 });
    const due = new Date(NOW.getTime() + 2 * HOUR).toISOString();
    expect(marking.actions[0]).toMatchObject({
      outcome: "MARKED",
      cancelAfter: due,
      planId: marking.plan?.planId,
    });
    expect(marking.actions[0]?.reason).toContain(`approval required: plan ${marking.plan?.planId}`);
    const stored = plans.stored.get(marking.plan?.planId ?? "");
    expect(stored?.plan.entries).toMatchObject([
      { handshakeId: h.id, cancelAfter: due, ruleId: "outside-email" },
    ]);
  });

  test("approved, it is canceled before its mark is due, and the mark is closed by the apply", async () => {
    const { h, audit, organizations, at, run, decide, apply } = scene();
    const marking = await run("run-1");
    at(HOUR);
    const stored = await decide(marking.plan?.planId ?? "", "approved");

    const applied = await apply(stored);

    expect(applied.counts).toEqual({ CANCELED: 1 });
    expect(organizations.cancels()).toEqual([h.id]);
    expect(audit.closedMarks.get(`run-1/${h.id}`)).toBe(applied.runId);
    expect(applied.actions[0]?.reason).toContain("grace period cut short by the approval of plan");
  });

  test("while its early plan is pending or approved, the mark falling due plans it no second time", async () => {
    const { h, audit, organizations, at, run, decide, apply } = scene();
    const marking = await run("run-1");
    const planId = marking.plan?.planId ?? "";

    at(3 * HOUR);
    const duePending = await run("run-2");
    const stored = await decide(planId, "approved");
    const dueApproved = await run("run-3");

    expect(duePending.actions).toEqual([]);
    expect(dueApproved.actions).toEqual([]);
    expect(organizations.cancels()).toEqual([]);
    // The early plan, applied after the mark fell due, cancels it as a due mark and closes it.
    const applied = await apply(stored);
    expect(applied.counts).toEqual({ CANCELED: 1 });
    expect(audit.closedMarks.get(`run-1/${h.id}`)).toBe(applied.runId);
  });

  test("rejected, its grace period runs its course and it is planned again once due", async () => {
    const { organizations, at, run, decide } = scene();
    const marking = await run("run-1");
    const early = marking.plan?.planId ?? "";
    await decide(early, "rejected");

    at(HOUR);
    const waiting = await run("run-2");
    at(2 * HOUR);
    const due = await run("run-3");

    expect(waiting.actions).toEqual([]);
    expect(due.counts).toEqual({ PLANNED: 1 });
    expect(due.plan?.planId).not.toBe(early);
    expect(organizations.cancels()).toEqual([]);
  });

  test("an approval whose mark was closed meanwhile cancels nothing: STALE_PLAN", async () => {
    const { h, audit, organizations, at, run, decide, apply } = scene();
    const marking = await run("run-1");
    at(HOUR);
    const stored = await decide(marking.plan?.planId ?? "", "approved");
    await audit.closeMark({ runId: "run-1", handshakeId: h.id }, "someone");

    const applied = await apply(stored);

    expect(applied.counts).toEqual({ STALE_PLAN: 1 });
    expect(applied.actions[0]?.reason).toContain("the mark this plan was made with is not open any more");
    expect(organizations.cancels()).toEqual([]);
  });
});
