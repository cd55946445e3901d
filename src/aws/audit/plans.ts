/**
 * The plans of four eyes (src/ports/plans.ts) in the audit table, beside the runs:
 *
 * | item     | pk          | sk       | timeKey      | at        | pendingKey         |
 * |----------|-------------|----------|--------------|-----------|--------------------|
 * | plan     | PLAN#<id>   | PLAN     | PLAN#YYYY-MM | createdAt | PLAN until applied |
 * | decision | PLAN#<id>   | DECISION | –            | –         | –                  |
 *
 * A plan and its decision are each written once (a conditional put), as canonical JSON whose
 * hash they carry; `plan list` reads a month of plans per Query (byTime) and the open ones from
 * the pending index, never a Scan. The PLANNED items of the plan's run are in that run's chain.
 */
import { canonicalJson } from "../../domain/canonical-json.js";
import { describeError } from "../../domain/errors.js";
import { verifyRun } from "../../evidence/integrity.js";
import type { AuditReader } from "../../evidence/reader.js";
import { chainedActions } from "../../evidence/reader.js";
import type { PlanDecision, PlanRecord, PlanStore, StoredPlan } from "../../ports/plans.js";
import { AUDIT_INDEXES } from "../audit-table.js";
import { eq, monthsBetween, queryInput } from "./expressions.js";
import { type Item, toItem } from "./items.js";
import type { TableIo } from "./table-io.js";

/** pendingKey of a plan not yet applied nor rejected. */
const OPEN_PLAN = "PLAN";

function planKey(planId: string): Item {
  return toItem({ pk: `PLAN#${planId}`, sk: "PLAN" });
}

function decisionKey(planId: string): Item {
  return toItem({ pk: `PLAN#${planId}`, sk: "DECISION" });
}

function parse<T>(item: Item, attribute: string): { value?: T; problem?: string } {
  const text = item[attribute]?.S;
  if (text === undefined) return { problem: `its ${attribute} is missing` };
  try {
    return { value: JSON.parse(text) as T };
  } catch (error) {
    return { problem: `its ${attribute} does not read as JSON (${describeError(error)})` };
  }
}

function storedPlan(planItem: Item, decisionItem: Item | undefined): StoredPlan {
  const planId = planItem.planId?.S ?? "?";
  const read = parse<PlanRecord>(planItem, "plan");
  const plan = read.value ?? ({ planId, entries: [] } as unknown as PlanRecord);
  const decided = decisionItem === undefined ? {} : parse<PlanDecision>(decisionItem, "decision");
  const unreadable = read.problem ?? decided.problem;
  const appliedBy = planItem.appliedBy?.S;
  return {
    plan,
    ...(decided.value ? { decision: decided.value } : {}),
    ...(appliedBy ? { appliedBy } : {}),
    ...(unreadable ? { unreadable: `the stored plan does not read: ${unreadable}` } : {}),
  };
}

export function createPlanStore(io: TableIo, now: () => Date): PlanStore {
  async function read(planId: string): Promise<StoredPlan | undefined> {
    const [planItem, decisionItem] = await Promise.all([
      io.getItem(planKey(planId)),
      io.getItem(decisionKey(planId)),
    ]);
    return planItem === undefined ? undefined : storedPlan(planItem, decisionItem);
  }
  async function withDecisions(items: AsyncIterable<Item>): Promise<StoredPlan[]> {
    const found: StoredPlan[] = [];
    for await (const item of items) {
      const planId = item.planId?.S;
      if (planId === undefined) continue;
      found.push(storedPlan(item, await io.getItem(decisionKey(planId))));
    }
    return found;
  }
  return {
    table: io.tableName,
    recordPlan(plan) {
      return putOnce(plan.planId, "PLAN", {
        itemType: "plan",
        timeKey: `PLAN#${plan.createdAt.slice(0, 7)}`,
        at: plan.createdAt,
        pendingKey: OPEN_PLAN,
        plan: canonicalJson(plan),
      });
    },
    readPlan: read,
    async decidePlan(decision) {
      const created = await putOnce(decision.planId, "DECISION", {
        itemType: "plan-decision",
        decision: canonicalJson(decision),
      });
      if (created && decision.verdict === "rejected") await close(decision.planId, {});
      return created;
    },
    async markApplied(planId, runId) {
      await close(planId, { appliedBy: runId });
    },
    listOpenPlans() {
      return withDecisions(io.query(queryInput(AUDIT_INDEXES.pending, [eq("pendingKey", OPEN_PLAN)], [])));
    },
    async listPlans(since) {
      const found: StoredPlan[] = [];
      for (const month of monthsBetween(since, now()).reverse()) {
        const items = io.query({
          ...queryInput(AUDIT_INDEXES.byTime, [eq("timeKey", `PLAN#${month}`)], []),
          ScanIndexForward: false,
        });
        for (const stored of await withDecisions(items)) {
          if (Date.parse(stored.plan.createdAt ?? "") >= since.getTime() || stored.unreadable)
            found.push(stored);
        }
      }
      return found;
    },
  };

  /** A conditional put of one of the plan's items: false when it is on record already. */
  async function putOnce(planId: string, sk: string, values: Record<string, string>): Promise<boolean> {
    const put = await io.putNew(toItem({ pk: `PLAN#${planId}`, sk, planId, ...values }));
    return put.created;
  }

  async function close(planId: string, set: { appliedBy?: string }): Promise<void> {
    await io.update({
      Key: planKey(planId),
      UpdateExpression:
        set.appliedBy === undefined ? "REMOVE pendingKey" : "SET appliedBy = :by REMOVE pendingKey",
      ConditionExpression: "attribute_exists(pk)",
      ...(set.appliedBy === undefined ? {} : { ExpressionAttributeValues: toItem({ ":by": set.appliedBy }) }),
    });
  }
}

/**
 * Why the plan's run, as its hash chain holds it, does not vouch for the plan: a problem of that
 * run's chain, or an approved handshake without a PLANNED item of this plan with its fingerprint.
 * Empty when the chain and the plan agree.
 */
export async function planChainProblems(reader: AuditReader, stored: StoredPlan): Promise<string[]> {
  const { plan } = stored;
  const chain = await reader.readChain(plan.runId);
  const { items, unreadable } = chainedActions(chain.actions);
  const problems = [...unreadable, ...verifyRun(plan.runId, chain.run, items)].map(
    (line) => `plan ${plan.planId}: ${line}`,
  );
  const planned = new Map(
    chain.actions.flatMap((stored) =>
      stored.action?.outcome === "PLANNED" && stored.action.planId === plan.planId
        ? [[stored.action.handshakeId, stored.action] as const]
        : [],
    ),
  );
  for (const entry of plan.entries) {
    const item = planned.get(entry.handshakeId);
    if (item === undefined) {
      problems.push(`plan ${plan.planId}: ${entry.handshakeId} has no PLANNED item in run ${plan.runId}`);
    } else if (item.fingerprint !== entry.fingerprint || item.ruleId !== entry.ruleId) {
      problems.push(
        `plan ${plan.planId}: ${entry.handshakeId}: the plan's fingerprint or rule differs from its PLANNED item`,
      );
    }
  }
  return problems;
}
