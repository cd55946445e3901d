/** Final outcome of one decision, exactly the values of the audit contract. */
export const OUTCOMES = [
  "CANCELED",
  "DRY_RUN",
  "EXEMPTED",
  "MARKED",
  /** Selected under `approval: required`: recorded in a plan that someone else must approve. */
  "PLANNED",
  /** Approved in a plan, but changed since (state, fingerprint, selection): not canceled. */
  "STALE_PLAN",
  "ALREADY_CLOSED",
  "STATE_CHANGED",
  "DEFERRED",
  "BLOCKED",
  "FAILED",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** What a CancelHandshake attempt ended in, after the adapter's retries. */
export type CancelOutcome = Extract<
  Outcome,
  "CANCELED" | "ALREADY_CLOSED" | "STATE_CHANGED" | "DEFERRED" | "FAILED"
>;

export interface CancelResult {
  outcome: CancelOutcome;
  attempts: number;
  /** Set for FAILED and DEFERRED: the service's error name and message. */
  error?: string;
}

export const RUN_STATUSES = ["RUNNING", "COMPLETED", "PARTIAL", "BLOCKED", "FAILED"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * Who or what started a run, exactly the values of the audit contract: adding one is this one
 * edit. `event` is a CloudTrail event judged in real time (src/handlers/realtime.ts).
 */
export const TRIGGERS = ["scheduled", "manual", "cli", "event"] as const;
export type Trigger = (typeof TRIGGERS)[number];

export type OutcomeCounts = Partial<Record<Outcome, number>>;
