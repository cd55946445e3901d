import { describe, expect, test } from "vitest";
import type { App } from "../../src/app.js";
import { parseConfig } from "../../src/config/config.js";
import { silentLogger } from "../../src/domain/logger.js";
import { applyDuePlans } from "../../src/handlers/due-plans.js";
import type { PlanDecision, PlanStore, StoredPlan } from "../../src/ports/plans.js";
import type { SweepDeps } from "../../src/sweep/sweep.js";

const now = new Date("2026-06-01T12:00:00Z");
const HOUR = 3_600_000;

/** A stored plan expiring `hoursLeft` from now (negative: expired), decided as told. */
function stored(planId: string, hoursLeft: number, verdict?: PlanDecision["verdict"]): StoredPlan {
  return {
    plan: {
      planId,
      runId: `run-${planId}`,
      createdAt: new Date(now.getTime() - 48 * HOUR).toISOString(),
      expiresAt: new Date(now.getTime() + hoursLeft * HOUR).toISOString(),
      maker: "arn:aws:iam::123456789012:user/maker",
      table: "audit",
      configHash: "c",
      entries: [],
      planHash: "p",
    },
    ...(verdict === undefined
      ? {}
      : {
          decision: {
            planId,
            verdict,
            by: "arn:aws:iam::123456789012:user/approver",
            byId: "AIDAAPPROVER",
            at: now.toISOString(),
            note: "n",
            handshakeIds: [],
            decisionHash: "d",
          },
        }),
  };
}

describe("the scheduled sweep's pass over the open plans", () => {
  test("closes every plan past its expiry, whatever its decision, and keeps the live ones open", async () => {
    const open = [
      stored("plan-expired-pending", -1),
      stored("plan-expired-approved", -0.001, "approved"),
      stored("plan-expired-rejected", -5, "rejected"),
      stored("plan-live-rejected", 3, "rejected"),
      stored("plan-live-pending", 3),
    ];
    const closed: string[] = [];
    const plans = {
      listOpenPlans: async () => open,
      closeExpired: async (planId: string) => {
        closed.push(planId);
      },
    } as unknown as PlanStore;
    const app = { plans, tableName: "audit" } as unknown as App;
    const deps = { now: () => now } as unknown as SweepDeps;
    const config = parseConfig(
      'version: 1\nrules:\n  - {id: r, type: email, deny: ["*@gmail.com"]}\n',
      "janitor.yaml",
    );

    const applied = await applyDuePlans(
      app,
      config,
      { arn: "arn:aws:iam::123456789012:role/janitor", account: "123456789012", userId: "AROAJANITOR:fn" },
      deps,
      silentLogger,
      now.getTime() + HOUR,
    );

    expect(applied).toEqual([]);
    expect(closed).toEqual(["plan-expired-pending", "plan-expired-approved", "plan-expired-rejected"]);
  });
});
