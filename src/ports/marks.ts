import type { OpenMark } from "./records.js";

/**
 * The grace periods running: marks no later run has closed (src/policy/grace.ts). Implemented in
 * src/aws/audit/writer.ts.
 */
export interface MarkStore {
  /** MARKED items no later run has closed yet: what a grace period holds (src/policy/grace.ts). */
  listOpenMarks(): Promise<OpenMark[]>;
  /** Closes an open mark of run `mark.runId`: `closedBy` decided about it. Closing twice is harmless. */
  closeMark(mark: { runId: string; handshakeId: string }, closedBy: string): Promise<void>;
}
