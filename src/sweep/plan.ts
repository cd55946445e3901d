import { usesApproval } from "../config/approval.js";
import type { Handshake } from "../domain/handshake.js";
import { earlyApprovals } from "../policy/approval.js";
import { marksByHandshake } from "../policy/grace.js";
import { createPlanner, type Decision } from "../policy/plan.js";
import type { OpenMark, RunRecord } from "../ports/records.js";
import { applying, inOpenPlans, planned, plans } from "./approval.js";
import { type LedgerObserver, observeLedger } from "./ledger.js";
import { type Final, finalOf } from "./record.js";
import type { RunState } from "./types.js";

/** What the plan phase hands on: the decisions, split into what calls nothing and what cancels. */
export interface PlannedSweep {
  /** What the run item records of the listing. */
  listing: Pick<RunRecord, "listed" | "candidates" | "matched">;
  /** Over the safety cap: nothing is canceled, and every cancel is recorded BLOCKED. */
  blocked: boolean;
  /** Every decision of the run, in the planner's order: the marks are closed from these. */
  decisions: readonly Decision[];
  /** Decisions whose outcome is known without calling CancelHandshake. */
  finals: readonly Final[];
  /** Decisions that call CancelHandshake; none when blocked. */
  toCancel: readonly Decision[];
  /**
   * What the run enters in the handshake ledger (./ledger.ts): the listing's entries are queued,
   * and the cancel phase hands it the run's cancellations. The run awaits its `finish` before it
   * is sealed. Absent without a ledger.
   */
  ledger?: LedgerObserver;
}

/** The plan phase: the open marks, then the listing, planned page by page. */
export async function planSweep(run: RunState, started: Date): Promise<PlannedSweep> {
  const { log, dryRun } = run;
  const marks = marksByHandshake(await run.deps.marks.listOpenMarks());
  // An apply judges its plan's handshakes against what it finds of each now.
  const described = run.request.apply ? new Map<string, Handshake>() : undefined;
  const decided = await listAndPlan(run, started, marks, described);
  const listing = {
    listed: decided.listed,
    candidates: decided.candidates,
    matched: decided.decisions.length,
  };
  const ledger = decided.ledger === undefined ? {} : { ledger: decided.ledger };
  log.info("planned", { ...listing, selected: decided.selected, limit: decided.limit });

  if (decided.blocked) {
    log.warn("safety cap exceeded: nothing is canceled", {
      selected: decided.selected,
      limit: decided.limit,
    });
    const finals = decided.decisions.map(
      (decision): Final =>
        decision.kind === "exempted" || decision.kind === "close"
          ? (finalOf(decision, false) as Final)
          : {
              decision,
              outcome: "BLOCKED",
              reason: `${decision.reason}; blocked: ${decided.selected} selected, limit ${decided.limit}`,
            },
    );
    return { listing, blocked: true, decisions: decided.decisions, finals, toCancel: [], ...ledger };
  }
  if (described !== undefined) {
    return {
      listing,
      blocked: false,
      decisions: decided.decisions,
      ...applying(run, decided.decisions, described, marks),
      ...ledger,
    };
  }
  // What calls nothing is recorded first, in batches; then the cancellations, one by one.
  const finals: Final[] = [];
  const toCancel: Decision[] = [];
  for (const decision of decided.decisions) {
    const final = finalOf(decision, dryRun);
    if (final === undefined) toCancel.push(decision);
    else finals.push(final);
  }
  const marking = finals.some((final) => final.outcome === "MARKED");
  if (plans(run) && usesApproval(run.request.config) && (toCancel.length > 0 || marking)) {
    return {
      listing,
      blocked: false,
      decisions: decided.decisions,
      ...planned(run, { finals, toCancel }, await inOpenPlans(run)),
      ...ledger,
    };
  }
  return { listing, blocked: false, decisions: decided.decisions, finals, toCancel, ...ledger };
}

/**
 * Each page is planned as it arrives and then dropped: the sweep holds the decisions, never every
 * handshake of the organization at once.
 */
async function listAndPlan(
  run: RunState,
  now: Date,
  marks: ReadonlyMap<string, OpenMark>,
  described: Map<string, Handshake> | undefined,
) {
  const { config, ruleIds, handshakeIds } = run.request;
  const only = { ruleIds, handshakeIds };
  // Applying a plan, approving a handshake planned as it was marked cuts its grace period short.
  const apply = run.request.apply;
  const approvals = apply === undefined ? {} : { approvals: earlyApprovals(apply.stored) };
  const planner = createPlanner({ config, now, only: defined(only), marks, ...approvals });
  const ledger = observeLedger(run, now);
  try {
    for await (const page of run.deps.organizations.listHandshakes()) {
      planner.add(page);
      ledger?.page(page);
      if (described !== undefined) for (const handshake of page) described.set(handshake.id, handshake);
    }
  } catch (error) {
    // What was entered stays entered, before the run is sealed; nothing is said to have left.
    ledger?.listed(false);
    await ledger?.finish();
    throw error;
  }
  // The listing was read to its end: what the ledger had as listed and it lacks has left it.
  ledger?.listed(true);
  return { ...planner.finish(), ...(ledger === undefined ? {} : { ledger }) };
}

/** Drops undefined members, for exactOptionalPropertyTypes-style inputs. */
function defined<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}
