/** The audit trail's vocabulary: what the ports of the audit table write and answer. */
import type { Outcome, OutcomeCounts, RunStatus, Trigger } from "../domain/outcomes.js";

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
   * On a conflict record only (src/evidence/conflicts.ts): a cancel that landed after its run's claim
   * had lapsed, against the outcome already recorded for its intent: `<runId>/<handshakeId> <OUTCOME>`.
   */
  contradicts?: string;
  /**
   * On a reconciled record only: the intent `<runId>/<handshakeId>` of an interrupted run whose
   * outcome this record holds. The interrupted run stays as it ended; this record, in the chain of
   * the run that found the outcome, completes it (src/sweep/prepare.ts).
   */
  reconciles?: string;
  /** Four eyes (docs/approval.md): the plan a PLANNED item belongs to, or the one an apply carries out. */
  planId?: string;
  /** On a PLANNED item: the fingerprint of the handshake as judged (state, parties, notes). */
  fingerprint?: string;
  /** On an item of an apply run: who approved the plan (the caller's ARN). */
  approver?: string;
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
  "reconciles",
  "planId",
  "fingerprint",
  "approver",
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
  /**
   * Written with the seal (src/evidence/integrity.ts OrgHead): the run sealed before this one in
   * the organization's chain, its seal, and this run's place in the chain.
   */
  prevRun?: string;
  prevSeal?: string;
  orgSeq?: number;
  /**
   * Integrity findings (src/evidence/findings.ts): what the run found wrong with the trail before
   * it extended it, `F-…: problem` each, under its seal.
   */
  findings?: string[];
  /**
   * The head of the run's ledger chain (src/evidence/ledger.ts), written as its entries are;
   * absent when the run wrote none.
   */
  ledgerHead?: string;
  ledgerLength?: number;
}

/** A run item that does not read as a RunRecord: what could be read, its key and why not the rest. */
export type UnreadableRun = Partial<RunRecord> & { runId: string; unreadable: string };

/** What a reader of the audit trail gets for one run item. */
export type ReadRun = (RunRecord & { unreadable?: undefined }) | UnreadableRun;

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
