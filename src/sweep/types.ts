import type { JanitorConfig } from "../config/config.js";
import type { SweepLogger } from "../domain/logger.js";
import type { Outcome, OutcomeCounts, RunStatus, Trigger } from "../domain/outcomes.js";
import type { CheckpointPort } from "../evidence/checkpoints.js";
import type { AuditReader } from "../evidence/reader.js";
import type { ActionLog } from "../ports/action-log.js";
import type { HandshakeClaims } from "../ports/claims.js";
import type { LeaseStore } from "../ports/lease.js";
import type { HandshakeLedger } from "../ports/ledger.js";
import type { MarkStore } from "../ports/marks.js";
import type { OrganizationsPort } from "../ports/organizations.js";
import type { CallerIdentity, PlanStore, StoredPlan } from "../ports/plans.js";
import type { RunJournal } from "../ports/run-journal.js";
import type { FenceTiming } from "./fence.js";
import type { LeaseKeeper } from "./lease.js";

/**
 * The sweep's vocabulary: what a run is asked, what it works with, what it reports, and the scope
 * it acts on. The orchestrator (sweep.ts) and its phases (prepare, plan, record, cancel) import it
 * from here, so that no phase imports the orchestrator.
 */

export interface SweepRequest {
  config: JanitorConfig;
  runId: string;
  trigger: Trigger;
  actor: string;
  /** Forces a dry run even when the config says dryRun: false; never the other way round. */
  dryRun?: boolean;
  ruleIds?: string[];
  handshakeIds?: string[];
  note?: string;
  /** Epoch ms after which no new cancellation starts; the rest is DEFERRED. */
  deadline?: number;
  /** CancelHandshake calls in flight at once; the pacer sets the rate. */
  concurrency?: number;
  /**
   * What the run acts on (./scope.ts): ORGANIZATION_SCOPE, the default (schedule, manual invoke,
   * CLI), or handshakeScope(…) from the real-time path.
   */
  scope?: SweepScope;
  /**
   * Who the run acts as, for the plans it makes under `approval: required`: the caller's ARN and
   * account (STS GetCallerIdentity). Absent, a plan names the run's actor as its maker.
   */
  identity?: CallerIdentity;
  /**
   * Four eyes: the run applies this approved plan (./apply.ts). Only its approved handshakes are
   * judged, each described again; what changed since the plan is recorded STALE_PLAN.
   */
  apply?: ApplyingPlan;
}

/** An approved plan being applied, checked by ./apply.ts before the run starts. */
export interface ApplyingPlan {
  stored: StoredPlan;
  /** Who approved it, named on every record of the run. */
  approver: string;
}

export interface SweepDeps {
  organizations: OrganizationsPort;
  /** The run item: begun, counted, finished and sealed. */
  journal: RunJournal;
  /** The action items: intents, outcomes and final decisions, chained. */
  actions: ActionLog;
  /** The organization's lease, taken by a live sweep of the organization. */
  lease: LeaseStore;
  /** The grace periods running. */
  marks: MarkStore;
  /**
   * The trail as evidence, read before the run extends it (src/evidence/findings.ts). Absent (unit
   * tests of the loop alone), nothing is checked.
   */
  evidence?: Pick<AuditReader, "orgHead" | "readChain" | "runEvidence">;
  /**
   * Per-handshake claims, shared with the real-time path: a sweep claims a handshake before its
   * intent and releases it after the outcome, and reconciles another run's intent only under its
   * claim. Without it (unit tests of the loop alone) nothing is claimed.
   */
  claims?: HandshakeClaims;
  now: () => Date;
  logger?: SweepLogger;
  /** The fencing margin and the bound on one CancelHandshake attempt; default DEFAULT_FENCE_TIMING. */
  fencing?: FenceTiming;
  /** Where a live run's checkpoint goes once it is sealed; absent, none is written. */
  checkpoints?: CheckpointPort;
  /** The plans of four eyes; a live run that must plan without it fails before writing anything. */
  plans?: PlanStore;
  /** The handshake ledger (./ledger.ts); absent, nothing is entered. */
  ledger?: HandshakeLedger;
}

export interface ActionSummary {
  handshakeId: string;
  outcome: Outcome;
  ruleId: string;
  matchedRules: string[];
  action: string;
  target: string;
  reason: string;
  attempts: number;
  error?: string;
  /** On a MARKED action: when a later run cancels it, if it still matches then. */
  cancelAfter?: string;
  /** On a PLANNED action, or any action of an apply run: the plan. */
  planId?: string;
}

export interface RunSummary {
  runId: string;
  status: RunStatus;
  dryRun: boolean;
  trigger: Trigger;
  actor: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  listed: number;
  candidates: number;
  matched: number;
  limit: number;
  counts: OutcomeCounts;
  /** Intents of earlier, interrupted runs that this run completed. */
  reconciled: number;
  configHash: string;
  /** True when the run id had already finished and nothing was done again. */
  replayed: boolean;
  actions: ActionSummary[];
  error?: string;
  /** The counts are what the run saw, not read back from the stored items (the read failed). */
  countsStale?: true;
  /** What the run found wrong with the trail before it extended it (src/evidence/findings.ts). */
  findings?: string[];
  /** The key of the checkpoint written for the run, or why none could be. */
  checkpoint?: string;
  checkpointError?: string;
  /** The plan this run recorded under `approval: required`, or the one it applied. */
  plan?: { planId: string; expiresAt: string; maker: string; handshakes: number; approver?: string };
  /** What the run entered in the handshake ledger, escaped handshakes included; absent without one. */
  ledger?: LedgerSummary;
}

/**
 * A run under way: what it was asked and what it works with. Nothing in it changes as the run
 * goes; each phase returns what it decided, and the orchestrator assembles the run's actions.
 */
export interface RunState {
  readonly request: SweepRequest;
  readonly deps: SweepDeps;
  readonly dryRun: boolean;
  /** The request's scope, ORGANIZATION_SCOPE when it named none. */
  readonly scope: SweepScope;
  /** Integrity findings made before the run extended the trail; when any, nothing left over is linked. */
  readonly findings: readonly string[];
  readonly log: SweepLogger;
  /** Undefined in a dry run or a real-time run, which take no lease. */
  readonly lease: LeaseKeeper | undefined;
}

/** The audit ports a sweep uses, of one store that implements them all (the audit table). */
export function sweepPorts(
  store: RunJournal & ActionLog & LeaseStore & MarkStore,
): Pick<SweepDeps, "journal" | "actions" | "lease" | "marks"> {
  return { journal: store, actions: store, lease: store, marks: store };
}

/** Whether a cancellation may go ahead under its claim, and how the claim is given up after. */
export type Admission =
  | { go: true; release(): Promise<void> }
  /** Skipped before any intent: recorded DEFERRED with this reason, and the next sweep decides it. */
  | { go: false; reason: string };

export interface SweepScope {
  readonly kind: "organization" | "handshake";
  /** A live run of this scope takes the organization's lease. */
  readonly takesLease: boolean;
  /** A live run of this scope completes the intents interrupted runs left pending. */
  readonly reconciles: boolean;
  /** The holder whose claim the fence confirms before each CancelHandshake attempt. */
  holder(runId: string): string;
  /** Takes, or finds held, the handshake's claim before its intent is written. */
  admit(run: RunState, handshakeId: string): Promise<Admission>;
}

/** A handshake that escaped: a rule would have selected it, and its invitee closed it first. */
export interface EscapedHandshake {
  handshakeId: string;
  action: string;
  target: string;
  state: string;
  ruleId?: string;
}

/** What the run entered in the ledger, for its summary. */
export interface LedgerSummary {
  /** Entries written in the run's ledger chain. */
  written: number;
  /** Of those, by kind: first seen, a change of state, gone from the listing. */
  seen: number;
  changed: number;
  gone: number;
  /** Changes another run had entered first: not written, and not counted above. */
  skipped: number;
  escaped: EscapedHandshake[];
  /** Why the ledger could not be written in full (the run itself went on). */
  error?: string;
}
