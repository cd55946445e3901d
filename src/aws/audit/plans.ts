/**
 * The plans of four eyes (src/ports/plans.ts) in the audit table, beside the runs:
 *
 * | item     | pk            | sk       | timeKey      | at        | pendingKey         |
 * |----------|---------------|----------|--------------|-----------|--------------------|
 * | plan     | PLAN#<id>     | PLAN     | PLAN#YYYY-MM | createdAt | PLAN until applied |
 * | decision | DECISION#<id> | DECISION | –            | –         | –                  |
 * | attested | APPROVER#<userid>#<id> | DECISION | –   | –         | –                  |
 *
 * A plan and its decision are each written once (a conditional put), as canonical JSON whose
 * hash they carry; `plan list` reads a month of plans per Query (byTime) and the open ones from
 * the pending index, never a Scan. The PLANNED items of the plan's run are in that run's chain.
 * Decisions have a partition key prefix of their own so that IAM can tell them apart
 * (`dynamodb:LeadingKeys`): the janitor's roles are denied writing under it, approvers may write
 * only under it (scripts/template-parts.ts), so nobody holding the janitor's role can approve.
 * The decision and its attestation are one transaction; the attestation's key holds its author's
 * unique id, under which IAM lets only that principal write (`${aws:userid}`): a decision written
 * in someone else's name has no attestation, and is refused.
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
import { approverKey, DECISION_KEY_PREFIX } from "./key-prefixes.js";
import type { TableIo } from "./table-io.js";
import { isTransactionConditionFailure } from "./table-io.js";

/** pendingKey of a plan not yet applied nor rejected. */
const OPEN_PLAN = "PLAN";

function planKey(planId: string): Item {
  return toItem({ pk: `PLAN#${planId}`, sk: "PLAN" });
}

function decisionKey(planId: string): Item {
  return toItem({ pk: `${DECISION_KEY_PREFIX}${planId}`, sk: "DECISION" });
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

function attestationKey(decision: PlanDecision): Item {
  return toItem({ pk: approverKey(decision.byId ?? "", decision.planId), sk: "DECISION" });
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
  /** The plan with its decision, and whether the decision's author attested it. */
  /** The plan with its decision, and whether the decision's author attested it. */
  async function attested(planItem: Item, decisionItem: Item | undefined): Promise<StoredPlan> {
    const stored = storedPlan(planItem, decisionItem);
    const { decision } = stored;
    if (decision === undefined) return stored;
    const attestation = await io.getItem(attestationKey(decision));
    return { ...stored, attested: attestation?.decisionHash?.S === decision.decisionHash };
  }
  async function read(planId: string): Promise<StoredPlan | undefined> {
    const [planItem, decisionItem] = await Promise.all([
      io.getItem(planKey(planId)),
      io.getItem(decisionKey(planId)),
    ]);
    return planItem === undefined ? undefined : attested(planItem, decisionItem);
  }
  async function withDecisions(items: AsyncIterable<Item>): Promise<StoredPlan[]> {
    const found: StoredPlan[] = [];
    for await (const item of items) {
      const planId = item.planId?.S;
      if (planId === undefined) continue;
      found.push(await attested(item, await io.getItem(decisionKey(planId))));
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
      // Both written once: the decision, and its attestation under its author's own id.
      const fresh = (key: Item, values: Record<string, string>) => ({
        Put: {
          TableName: io.tableName,
          Item: { ...key, ...toItem({ planId: decision.planId, ...values }) },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      });
      try {
        await io.transact({
          TransactItems: [
            fresh(decisionKey(decision.planId), {
              itemType: "plan-decision",
              decision: canonicalJson(decision),
            }),
            fresh(attestationKey(decision), {
              itemType: "plan-decision-attestation",
              decisionHash: decision.decisionHash,
            }),
          ],
        });
        return true;
      } catch (error) {
        if (!isTransactionConditionFailure(error)) throw error;
        // Decided already: by this very decision when a lost answer was retried, else by another.
        const stored = await io.getItem(decisionKey(decision.planId));
        return parse<PlanDecision>(stored ?? {}, "decision").value?.decisionHash === decision.decisionHash;
      }
    },
    async markApplied(planId, runId) {
      await close(planId, { appliedBy: runId });
    },
    async closeExpired(planId) {
      await close(planId, {});
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

  /** A conditional put of the plan item: false when it is on record already. */
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
 * run's chain, or a handshake without a PLANNED item of this plan with its fingerprint (a MARKED
 * one due at the entry's cancelAfter, for a handshake planned as it was marked). Empty when the
 * chain and the plan agree.
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
      (stored.action?.outcome === "PLANNED" || stored.action?.outcome === "MARKED") &&
      stored.action.planId === plan.planId
        ? [[stored.action.handshakeId, stored.action] as const]
        : [],
    ),
  );
  for (const entry of plan.entries) {
    const item = planned.get(entry.handshakeId);
    const outcome = entry.cancelAfter === undefined ? "PLANNED" : "MARKED";
    if (item === undefined || item.outcome !== outcome) {
      problems.push(`plan ${plan.planId}: ${entry.handshakeId} has no ${outcome} item in run ${plan.runId}`);
    } else if (
      item.fingerprint !== entry.fingerprint ||
      item.ruleId !== entry.ruleId ||
      item.cancelAfter !== entry.cancelAfter
    ) {
      problems.push(
        `plan ${plan.planId}: ${entry.handshakeId}: the plan's fingerprint, rule or due time differs from its ${outcome} item`,
      );
    }
  }
  return problems;
}
