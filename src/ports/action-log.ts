import type { Outcome } from "../domain/outcomes.js";
import type { AuditAction, FinalResult, Linking, PutResult } from "./records.js";

/**
 * The action items of the audit chain: intents, outcomes and final decisions, written once per
 * (runId, handshakeId), and the repair of links a fault left out. Implemented in
 * src/aws/audit/writer.ts.
 */
export interface ActionLog {
  /**
   * Writes an action item once per (runId, handshakeId). Without `outcome` it is an intent
   * that `recordOutcome` completes. When the item exists, nothing is written and it is returned.
   */
  recordAction(item: AuditAction): Promise<PutResult>;
  /**
   * Writes final items (each with its outcome: decisions that call nothing, such as DRY_RUN,
   * EXEMPTED or BLOCKED) as `recordAction` would, in as few requests as it can. Answers one
   * result per item, in order; an item it could not write is `failed`, and nothing throws.
   */
  recordFinals(items: readonly AuditAction[]): Promise<FinalResult[]>;
  /** Completes an intent with its final outcome. It throws only when the outcome is not stored. */
  recordOutcome(
    runId: string,
    handshakeId: string,
    result: { outcome: Outcome; attempts: number; at: string; error?: string; reason?: string },
  ): Promise<Linking>;
  /**
   * Links into their runs' chains the final items that a fault left out (stored, not linked);
   * returns how many it linked. What fails again stays marked for the next call.
   */
  linkUnchained(): Promise<number>;
  /**
   * Records the outcome of another run's interrupted intent (`record.reconciles` names it) as a
   * final item of the reconciling run, chained there, and takes the intent off the pending list,
   * both at once. The interrupted run's items are left as they are. False, and nothing written,
   * when the intent is gone, completed meanwhile, or reconciled already.
   */
  recordReconciled(record: AuditAction): Promise<boolean>;
  /** Intents of any run that never got an outcome (a crash or a failed write). */
  listPendingIntents(): Promise<AuditAction[]>;
}
