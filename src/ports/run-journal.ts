import type { Outcome, RunStatus } from "../domain/outcomes.js";
import type { RunRecord, RunSealed } from "./records.js";

/**
 * The run items: a run begun, finished and sealed, its liveness and its outcomes read back, the
 * config it applied, and why its notification failed. Implemented in src/aws/audit/writer.ts.
 */
export interface RunJournal {
  /** Creates the run item; when the run already exists (a retried event) returns it instead. */
  startRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }>;
  /**
   * Records the run's end and seals the run item (src/evidence/integrity.ts runSeal); answers the
   * seal, which the sweep logs as an anchor outside the table. An implementation without seals
   * answers nothing.
   */
  finishRun(run: RunRecord): Promise<RunSealed | undefined> | Promise<void>;
  /** A run's status and the expiry of its lease as last renewed; undefined when there is no run item. */
  runLiveness(runId: string): Promise<{ status: RunStatus; leaseExpiresAt?: number } | undefined>;
  /**
   * The stored outcome of every action item of a run, read consistently (undefined: an intent with
   * no outcome yet); what the run item's counts are derived from.
   */
  runOutcomes(runId: string): Promise<Map<string, Outcome | undefined>>;
  /**
   * Keeps the config a run applies (canonicalConfigJson) once per config hash, for the report;
   * when one is stored under that hash already, it is left as it is.
   */
  recordConfig(hash: string, canonicalJson: string): Promise<void>;
  /** Puts on the run item why its notification failed; nothing else about the run changes. */
  recordNotifyFailure(runId: string, error: string): Promise<void>;
}
