import type { LeaseHolder } from "../domain/errors.js";
import type { Handshake } from "../domain/handshake.js";
import type { CancelResult, Outcome, OutcomeCounts, RunStatus, Trigger } from "../domain/outcomes.js";
import type { FenceStore } from "./fence.js";

/** Everything the sweep needs from AWS Organizations. Implemented in src/aws/organizations.ts. */
export interface OrganizationsPort {
  /**
   * Every handshake of the organization, a page at a time, all pages: the caller keeps what it
   * needs of each page, so a large organization is never held whole.
   */
  listHandshakes(): AsyncIterable<Handshake[]>;
  /** undefined when the service no longer knows the handshake. */
  describeHandshake(id: string): Promise<Handshake | undefined>;
  /**
   * Cancels one handshake. Expected outcomes (already closed, state changed, throttled past the
   * deadline) come back as data. It throws on programming errors, and when whether the cancel
   * happened is unknown (an answer was lost and no attempt was left to find out): the sweep then
   * leaves the intent pending for the next run to look up.
   * `deadline` is an epoch-millisecond instant after which no new attempt is started.
   */
  cancelHandshake(
    id: string,
    options?: {
      deadline?: number;
      /**
       * Asked before each attempt, retries included (src/core/fence.ts): false, and that attempt
       * is not sent; the cancel ends DEFERRED, or unknown when an earlier attempt's answer was lost.
       */
      beforeAttempt?: () => Promise<boolean>;
    },
  ): Promise<CancelResult>;
}

/** One audit item: a decision that acts or would act. Attribute names are the audit contract. */
export interface AuditAction {
  runId: string;
  handshakeId: string;
  ruleId: string;
  matchedRules: string[];
  /** Absent while only the intent is recorded. */
  outcome?: Outcome;
  dryRun: boolean;
  /** ISO-8601 UTC instant of the latest write. */
  at: string;
  trigger: Trigger;
  actor: string;
  action: string;
  target: string;
  targetType: string;
  requestedAt?: string;
  reason: string;
  attempts: number;
  error?: string;
  /** On a MARKED item: the ISO-8601 UTC instant from which a later run cancels, if it still matches. */
  cancelAfter?: string;
  /**
   * On a conflict record only (src/core/conflicts.ts): a cancel that landed after its run's claim
   * had lapsed, against the outcome already recorded for its intent: `<runId>/<handshakeId> <OUTCOME>`.
   */
  contradicts?: string;
}

/**
 * Every attribute of the audit contract (PRODUCT.md), in the order a person reads them: the
 * columns of `audit query`, and exactly what an item's chain hash covers.
 */
export const AUDIT_ATTRIBUTES = [
  "at",
  "runId",
  "handshakeId",
  "outcome",
  "ruleId",
  "matchedRules",
  "dryRun",
  "trigger",
  "actor",
  "action",
  "target",
  "targetType",
  "requestedAt",
  "reason",
  "attempts",
  "error",
  "cancelAfter",
  "contradicts",
] as const satisfies readonly (keyof AuditAction)[];

/**
 * An action item that does not read as an AuditAction (an attribute missing, of the wrong type or
 * not a known value): what could be read of it, its key, and why not the rest. Readers show it
 * flagged and carry on; `audit verify` reports it as a problem.
 */
export type UnreadableAction = Partial<AuditAction> & {
  runId: string;
  handshakeId: string;
  unreadable: string;
};

/** What a reader of the audit trail gets for one action item. */
export type ReadAction = (AuditAction & { unreadable?: undefined }) | UnreadableAction;

export interface RunRecord {
  runId: string;
  trigger: Trigger;
  actor: string;
  status: RunStatus;
  dryRun: boolean;
  startedAt: string;
  endedAt?: string;
  counts: OutcomeCounts;
  listed: number;
  candidates: number;
  matched: number;
  configVersion: number;
  configHash: string;
  /** Free text from a manual invocation (a change ticket, say). */
  note?: string;
  /** Why a FAILED run failed. */
  error?: string;
  /** Why the run's notification could not be published (the run itself is unaffected). */
  notifyError?: string;
  /**
   * True when the counts could not be read back from the run's stored items at the end of the run
   * and are what the run saw in memory: a write that timed out may have landed after all.
   */
  countsStale?: boolean;
}

/** A run item that does not read as a RunRecord: what could be read, its key and why not the rest. */
export type UnreadableRun = Partial<RunRecord> & { runId: string; unreadable: string };

/** What a reader of the audit trail gets for one run item. */
export type ReadRun = (RunRecord & { unreadable?: undefined }) | UnreadableRun;

/** Whether the organization's lease was taken, or who holds it. */
export type LeaseClaim = { acquired: true; lease: LeaseHolder } | { acquired: false; holder: LeaseHolder };

/**
 * A final item is stored, but a fault kept it out of its run's hash chain: why. The item is
 * marked, and `linkUnchained` (every run calls it first) links it.
 */
export interface Linking {
  unlinked?: string;
}

export type PutResult = ({ created: true } & Linking) | { created: false; existing: AuditAction };

/** How one item of `recordFinals` went: as `recordAction` answers, or why it is not on record. */
export type FinalResult = PutResult | { failed: string };

/** A finished run's seal and the chain end it covers, as `run sealed` logs it. */
export interface RunSealed {
  runId: string;
  seal: string;
  chainHead: string;
  chainLength: number;
}

/** Everything the sweep needs from the audit trail. Implemented in src/aws/audit/. */
export interface AuditPort {
  /** Creates the run item; when the run already exists (a retried event) returns it instead. */
  startRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }>;
  /**
   * Records the run's end and seals the run item (src/core/integrity.ts runSeal); answers the
   * seal, which the sweep logs as an anchor outside the table. An implementation without seals
   * answers nothing.
   */
  finishRun(run: RunRecord): Promise<RunSealed | undefined> | Promise<void>;
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
  /** Intents of any run that never got an outcome (a crash or a failed write). */
  listPendingIntents(): Promise<AuditAction[]>;
  /**
   * Takes the organization's lease for this run when it is free, expired, or already this run's
   * (a conditional write); otherwise answers who holds it. At most one live run holds it.
   */
  acquireLease(runId: string): Promise<LeaseClaim>;
  /**
   * Extends this run's lease (and notes its expiry on the run item, when there is one). Throws
   * LeaseLostError when another run holds it now.
   */
  renewLease(runId: string): Promise<LeaseHolder>;
  /** Frees the lease if this run still holds it; false when it did not. */
  releaseLease(runId: string): Promise<boolean>;
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
  /** MARKED items no later run has closed yet: what a grace period holds (src/core/grace.ts). */
  listOpenMarks(): Promise<OpenMark[]>;
  /** Closes an open mark of run `mark.runId`: `closedBy` decided about it. Closing twice is harmless. */
  closeMark(mark: { runId: string; handshakeId: string }, closedBy: string): Promise<void>;
  /** Puts on the run item why its notification failed; nothing else about the run changes. */
  recordNotifyFailure(runId: string, error: string): Promise<void>;
}

/** The answer to a claim: taken, or held by someone else until `until`. */
export type ClaimResult = { taken: true } | { taken: false; holder: string; until: Date };

/**
 * One actor at a time per handshake, across processes: a run takes the handshake's claim before
 * it writes the intent to cancel it and releases it after the outcome is recorded. A claim
 * expires by itself (`ttlMs`), so a holder that dies never blocks the handshake for good; a
 * claim lapsed by more than the fencing margin may be taken over. Before each CancelHandshake
 * attempt its holder confirms it (FenceStore, src/core/fence.ts). Implemented in src/aws/audit/
 * beside the audit items.
 */
export interface HandshakeClaims extends FenceStore {
  /**
   * Takes the claim, or renews it when `holder` already holds it. `replacing` names a holder
   * known to be gone (a sweep run that lost the organization's lease): its claim is taken over
   * before it expires, once its last confirmation has lapsed by more than the fencing margin.
   */
  claimHandshake(
    handshakeId: string,
    holder: string,
    ttlMs: number,
    options?: { replacing?: string },
  ): Promise<ClaimResult>;
  /** Gives it up; a claim that another holder has taken over meanwhile is left alone. */
  releaseHandshake(handshakeId: string, holder: string): Promise<void>;
}

/** A MARKED item still open: the handshake is cancelled at `cancelAfter` if it still matches then. */
export interface OpenMark {
  runId: string;
  handshakeId: string;
  ruleId: string;
  cancelAfter: string;
  action: string;
  target: string;
  targetType: string;
  requestedAt?: string;
}
