import type { RunSummary } from "../sweep/sweep.js";
import { formatTable, visible } from "./format.js";

export const ACTION_COLUMNS = ["handshakeId", "action", "target", "outcome", "ruleId", "reason"] as const;

/**
 * The run summary as people read it: one line of totals, then every decision. Free text (the
 * actor, a run id, an error) is shown with its control characters escaped, as in every table;
 * `wide` prints every cell whole instead of cutting long ones.
 */
export function renderSummary(summary: RunSummary, options: { wide?: boolean } = {}): string {
  const counts = Object.entries(summary.counts)
    .map(([outcome, n]) => `${outcome} ${n}`)
    .join(", ");
  const mode = summary.dryRun ? "dry run" : "live run";
  const lines = [
    `run ${visible(summary.runId)} (${mode}, ${visible(summary.trigger)} by ${visible(summary.actor)}): ${summary.status}` +
      (summary.replayed ? " (already finished earlier; nothing done again)" : ""),
    `listed ${summary.listed}, candidates ${summary.candidates}, matched ${summary.matched}` +
      (summary.reconciled > 0 ? `, reconciled ${summary.reconciled} earlier intents` : "") +
      ` in ${(summary.durationMs / 1000).toFixed(1)} s` +
      (counts ? ` — ${counts}` : "") +
      (summary.countsStale ? " (counts may be stale: the run's items could not be read back)" : ""),
  ];
  if (summary.error) lines.push(`error: ${visible(summary.error)}`);
  const { plan } = summary;
  if (plan?.approver !== undefined) {
    lines.push(
      `applied plan ${visible(plan.planId)}: made by ${visible(plan.maker)}, approved by ${visible(plan.approver)}`,
    );
  } else if (plan !== undefined) {
    const marked = summary.actions.filter((a) => a.outcome === "MARKED" && a.planId === plan.planId).length;
    lines.push(
      `plan ${visible(plan.planId)}: ${plan.handshakes} handshakes await approval until ${plan.expiresAt} (made by ${visible(plan.maker)})`,
      ...(marked > 0
        ? [`${marked} of them marked: approving cancels them at apply, before their grace period ends`]
        : []),
      `approve (someone other than the maker): handshake-janitor approve ${visible(plan.planId)} --note TEXT`,
    );
  }
  if (summary.checkpoint) lines.push(`checkpoint: ${visible(summary.checkpoint)}`);
  if (summary.checkpointError) {
    lines.push(
      `checkpoint not written: ${visible(summary.checkpointError)} (the run's records stand in the table)`,
    );
  }
  if (summary.ledger?.error !== undefined) {
    lines.push(
      `handshake ledger not written in full: ${visible(summary.ledger.error)} (the run's actions stand; the next run's listing enters what it finds)`,
    );
  }
  if (summary.actions.length > 0) {
    const rows = [...summary.actions].sort((a, b) => a.handshakeId.localeCompare(b.handshakeId));
    lines.push("", formatTable(rows, ACTION_COLUMNS, options.wide ? Number.POSITIVE_INFINITY : undefined));
  }
  return lines.join("\n");
}
