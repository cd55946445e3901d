/**
 * Conflict records (docs/fencing.md). A cancel that lands after its run's claim had lapsed (a
 * stall longer than the fencing margin between the confirmation and the call) can contradict what
 * another run recorded meanwhile for the same intent. Its outcome is then appended as an audit
 * item of its own, in its run's chain: the same attributes as any action, plus `contradicts`,
 * stored beside the intent under `ACTION#<handshakeId>#CONFLICT`. `audit verify` names each one as
 * a problem (exit 5) until an operator has looked into it; the report shows verify's lines.
 */
import type { AuditAction } from "../ports/records.js";

/** What a conflict record's sort key adds after the handshake id. */
export const CONFLICT_KEY_SUFFIX = "#CONFLICT";
/** What a reconciled record's sort key adds after the handshake id (src/sweep/prepare.ts). */
export const RECONCILED_KEY_SUFFIX = "#RECONCILES";

/**
 * The part of an action item's sort key after `ACTION#`: the handshake id, and for a conflict
 * record or a reconciled record a suffix, so neither takes the place of its run's own item for
 * that handshake.
 */
export function itemKeyPart(action: Pick<AuditAction, "handshakeId" | "contradicts" | "reconciles">): string {
  if (action.contradicts !== undefined) return `${action.handshakeId}${CONFLICT_KEY_SUFFIX}`;
  if (action.reconciles !== undefined) return `${action.handshakeId}${RECONCILED_KEY_SUFFIX}`;
  return action.handshakeId;
}

/** What is recorded for an intent already, as the refused outcome write found it. */
export interface RecordedOutcome {
  outcome: string;
  at: string | undefined;
  reason: string | undefined;
}

/**
 * The conflict record of `final` (a CANCELED outcome its run could not write, because `existing`
 * was recorded for the intent meanwhile): CANCELED, naming its run (runId) and the decision it
 * contradicts.
 */
export function conflictRecord(final: AuditAction, existing: RecordedOutcome): AuditAction {
  const written = existing.at === undefined ? "" : ` written ${existing.at}`;
  const why = existing.reason === undefined ? "" : `, reason: ${existing.reason}`;
  return {
    ...final,
    outcome: "CANCELED",
    contradicts: `${final.runId}/${final.handshakeId} ${existing.outcome}`,
    reason: `${final.reason}; CancelHandshake canceled it after this run's claim had lapsed by more than the fencing margin`,
    error: `conflict: the record already held ${existing.outcome} for this intent (${written.trim() || "time unknown"}${why})`,
  };
}

/**
 * One line per conflict record among a run's items, for `audit verify`: which run canceled which
 * handshake when, and the decision it contradicts, with that decision's reason when it is among
 * the items.
 */
export function conflictProblems(runId: string, items: readonly { action: AuditAction }[]): string[] {
  const byKey = new Map(items.map(({ action }) => [`${action.runId}/${itemKeyPart(action)}`, action]));
  const lines: string[] = [];
  for (const { action } of items) {
    if (action.contradicts === undefined) continue;
    const [ref = "", outcome = "?"] = action.contradicts.split(" ");
    const contradicted = byKey.get(ref);
    // The contradicted record is among the run's items, or (a record of the run that reconciled
    // the intent) elsewhere: the conflict record says what it found then.
    const detail =
      contradicted?.outcome !== undefined
        ? ` (recorded ${contradicted.at}: ${contradicted.reason})`
        : action.error === undefined
          ? ""
          : ` (${action.error})`;
    lines.push(
      `run ${runId}: item ${action.handshakeId}: conflict: CancelHandshake by run ${action.runId} canceled it (${action.outcome} at ${action.at}) after the run's claim had lapsed; it contradicts ${outcome} recorded for ${ref}${detail}`,
    );
  }
  return lines;
}
