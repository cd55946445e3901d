/**
 * Four eyes (docs/approval.md): the plans a run records instead of cancelling under
 * `approval: required`, and the one decision someone other than the maker takes on each.
 * Implemented in src/aws/audit/plans.ts, in the audit table beside the runs.
 */

/** One handshake of a plan: what was judged, and why it was selected. */
export interface PlanEntry {
  handshakeId: string;
  ruleId: string;
  matchedRules: string[];
  reason: string;
  /** sha256 of the handshake's state, action, parties and notes as judged (src/policy/approval.ts). */
  fingerprint: string;
  /** The parts of the fingerprint, so that apply can say what changed. */
  state: string;
  action: string;
  target: string;
  targetType: string;
  requestedAt?: string;
  /** sha256 of the notes, or "" when there were none: the notes themselves stay on the handshake. */
  notesHash: string;
}

/** A plan as its run recorded it. Nothing in it changes afterwards; `planHash` covers all of it. */
export interface PlanRecord {
  planId: string;
  /** The run that made the plan; its PLANNED items are in that run's hash chain. */
  runId: string;
  createdAt: string;
  /** After this instant the plan can be neither approved nor applied. */
  expiresAt: string;
  /** Who or what made the plan: the caller's ARN (STS GetCallerIdentity), else the run's actor. */
  maker: string;
  /** The maker's unique id (STS GetCallerIdentity UserId), when known: no approver may have it. */
  makerId?: string;
  /** The AWS account of the maker (the organization's management account), when known. */
  account?: string;
  /** The audit table the plan was recorded in: a plan copied into another table is refused. */
  table: string;
  configHash: string;
  entries: PlanEntry[];
  /** sha256 over everything above (src/policy/approval.ts planHash). */
  planHash: string;
}

export type PlanVerdict = "approved" | "rejected";

/** The one decision on a plan: approved (all or some of it) or rejected, by whom, when, why. */
export interface PlanDecision {
  planId: string;
  verdict: PlanVerdict;
  /** The approver's (or rejecter's) ARN, from STS GetCallerIdentity. */
  by: string;
  /**
   * Their unique id (STS GetCallerIdentity UserId, `${aws:userid}` in IAM): the decision is
   * attested by an item under `APPROVER#<byId>#`, which IAM lets only that principal write.
   */
  byId: string;
  at: string;
  note: string;
  /** The handshakes approved: all of the plan's, or the subset named. Empty on a rejection. */
  handshakeIds: string[];
  /** sha256 over the decision and the plan's hash (src/policy/approval.ts decisionHash). */
  decisionHash: string;
}

/** Where a plan is in its life, as `plan list` shows it. */
export type PlanStatus = "pending" | "approved" | "rejected" | "applied" | "expired";

export interface StoredPlan {
  plan: PlanRecord;
  decision?: PlanDecision;
  /** The run that applied the plan, once one has. */
  appliedBy?: string;
  /** Why the stored plan or its decision does not read as one: it is refused. */
  unreadable?: string;
  /**
   * Whether the decision's author attested it with a write of their own under their id, the
   * same decision hash: false for a decision written in someone else's name.
   */
  attested?: boolean;
}

export interface PlanStore {
  /** The audit table the plans are kept in: each plan names it, and one of another table is refused. */
  readonly table: string;
  /** Writes a plan once; a plan id already on record is left as it is and false is returned. */
  recordPlan(plan: PlanRecord): Promise<boolean>;
  /** The plan, its decision and its apply run; undefined when no plan has this id. */
  readPlan(planId: string): Promise<StoredPlan | undefined>;
  /** Records the one decision on a plan; false when the plan already has one. */
  decidePlan(decision: PlanDecision): Promise<boolean>;
  /** Notes the run that applied the plan; the plan then leaves the open plans. */
  markApplied(planId: string, runId: string): Promise<void>;
  /**
   * Takes a plan past its expiry, never applied, out of the open plans. The janitor does it when it
   * meets one: an approver writes its decision and nothing else.
   */
  closeExpired(planId: string): Promise<void>;
  /** Plans neither applied nor closed after their expiry, oldest first. */
  listOpenPlans(): Promise<StoredPlan[]>;
  /** Plans made from `since` on, newest first. */
  listPlans(since: Date): Promise<StoredPlan[]>;
}

/** The caller's identity as STS GetCallerIdentity answers it: the maker or the approver of a plan. */
export interface CallerIdentity {
  arn: string;
  account: string;
  /** The principal's unique id: `AIDA…` for a user, `AROA…:<session>` for an assumed role. */
  userId: string;
}

/** Who is calling, from the credentials in use (src/aws/identity.ts). */
export type WhoAmI = () => Promise<CallerIdentity>;
