import type { StoredPlan } from "../ports/plans.js";
import { escapeHtml, table } from "./html-parts.js";

/**
 * The report's plans (docs/approval.md): each plan the period's items name, who made it, what it
 * held, who approved or rejected it and why, and the run that applied it. Four eyes in one table:
 * the maker and the approver side by side.
 */
export function plansSection(plans: readonly StoredPlan[]): string {
  if (plans.length === 0) return '<p class="note">no plans in the period</p>';
  const rows = plans.map(({ plan, decision, appliedBy, unreadable }) => [
    `${escapeHtml(plan.planId)}<br>${escapeHtml(plan.createdAt)}`,
    `${escapeHtml(plan.maker)}<br>run ${escapeHtml(plan.runId)}`,
    `${plan.entries.length} handshakes<br>expires ${escapeHtml(plan.expiresAt)}`,
    decision === undefined
      ? "pending"
      : `${escapeHtml(decision.verdict)} by ${escapeHtml(decision.by)}<br>${escapeHtml(decision.at)}` +
        (decision.verdict === "approved"
          ? ` · ${decision.handshakeIds.length} of ${plan.entries.length}`
          : ""),
    `${decision === undefined ? "" : escapeHtml(decision.note)}${unreadable === undefined ? "" : `<br><b>refused: ${escapeHtml(unreadable)}</b>`}`,
    appliedBy === undefined ? "not applied" : `run ${escapeHtml(appliedBy)}`,
  ]);
  return table(
    [
      { header: "plan · made", col: "w-key" },
      { header: "maker" },
      { header: "held" },
      { header: "decision · by" },
      { header: "note", col: "w-text" },
      { header: "applied" },
    ],
    rows,
    "plans",
  );
}
