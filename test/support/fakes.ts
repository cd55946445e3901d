import { type LeaseHolder, LeaseLostError, OutcomeConflictError } from "../../src/domain/errors.js";
import type { Handshake } from "../../src/domain/handshake.js";
import type { CancelResult, Outcome } from "../../src/domain/outcomes.js";
import { itemKeyPart } from "../../src/evidence/conflicts.js";
import type { ActionLog } from "../../src/ports/action-log.js";
import type { ClaimResult, HandshakeClaims } from "../../src/ports/claims.js";
import type { FenceAnswer, FenceRequest } from "../../src/ports/fence.js";
import type { LeaseClaim, LeaseStore } from "../../src/ports/lease.js";
import type { MarkStore } from "../../src/ports/marks.js";
import type { OrganizationsPort } from "../../src/ports/organizations.js";
import type { AuditAction, FinalResult, OpenMark, PutResult, RunRecord } from "../../src/ports/records.js";
import type { RunJournal } from "../../src/ports/run-journal.js";

/** Events in the order they happened across both fakes, to check "intent before cancel". */
export type Event =
  | { kind: "intent" | "final"; handshakeId: string; outcome?: Outcome }
  | { kind: "outcome"; handshakeId: string; outcome: Outcome }
  | { kind: "cancel"; handshakeId: string };

export class FakeAudit implements RunJournal, ActionLog, LeaseStore, MarkStore {
  readonly runs = new Map<string, RunRecord>();
  readonly items = new Map<string, AuditAction>();
  /** Make the next writes of these kinds fail, to test that a failed write blocks the cancel. */
  failIntents = false;
  failOutcomes = false;
  /** Make outcome writes land on the table and then fail on the client, as a timed-out request. */
  landOutcomesThenFail = false;
  constructor(readonly events: Event[] = []) {}

  private key(runId: string, handshakeId: string) {
    return `${runId}/${handshakeId}`;
  }

  async startRun(run: RunRecord) {
    const existing = this.runs.get(run.runId);
    if (existing) return { created: false, run: structuredClone(existing) };
    this.runs.set(run.runId, structuredClone(run));
    return { created: true, run };
  }

  async finishRun(run: RunRecord) {
    this.runs.set(run.runId, structuredClone(run));
  }

  async recordAction(item: AuditAction): Promise<PutResult> {
    if (item.outcome === undefined && this.failIntents)
      throw new Error("ProvisionedThroughputExceededException");
    // A conflict record sits beside its run's item for the handshake, as the store keeps it.
    const key = this.key(item.runId, itemKeyPart(item));
    const existing = this.items.get(key);
    if (existing) return { created: false, existing: structuredClone(existing) };
    this.items.set(key, structuredClone(item));
    this.events.push(
      item.outcome === undefined
        ? { kind: "intent", handshakeId: item.handshakeId }
        : { kind: "final", handshakeId: item.handshakeId, outcome: item.outcome },
    );
    return { created: true };
  }

  /** The lists of final items handed to recordFinals, as given. */
  readonly finalBatches: string[][] = [];
  /** Make the next recordFinals answer `failed` for every item, as a store that cannot write would. */
  failFinals = false;

  async recordFinals(items: readonly AuditAction[]): Promise<FinalResult[]> {
    this.finalBatches.push(items.map((item) => item.handshakeId));
    if (this.failFinals) return items.map(() => ({ failed: "InternalServerError" }));
    const results: FinalResult[] = [];
    for (const item of items) results.push(await this.recordAction(item));
    return results;
  }

  async recordOutcome(
    runId: string,
    handshakeId: string,
    result: { outcome: Outcome; attempts: number; at: string; error?: string; reason?: string },
  ) {
    if (this.failOutcomes) throw new Error("InternalServerError");
    const key = this.key(runId, handshakeId);
    if (this.landOutcomesThenFail) {
      // The write reaches the table, its answer does not reach the client.
      const landed = this.items.get(key);
      if (landed && landed.outcome === undefined) this.items.set(key, { ...landed, ...result });
      throw new Error("TimeoutError: request timed out");
    }
    const item = this.items.get(key);
    if (!item) throw new Error(`no intent for ${key}`);
    const reconciled = this.reconciledBy.get(key);
    if (reconciled !== undefined) {
      // Another run completed the intent with a record of its own: that record is the outcome.
      const record = [...this.items.values()].find((i) => i.reconciles === key && i.runId === reconciled);
      if (record?.outcome === result.outcome) return {};
      throw new OutcomeConflictError(`${key} reconciled by run ${reconciled}`, {
        outcome: record?.outcome ?? "?",
        at: record?.at,
        reason: record?.reason,
      });
    }
    // The same outcome again is a retried write that had landed, as the store takes it.
    if (item.outcome === result.outcome) return {};
    if (item.outcome !== undefined) {
      throw new OutcomeConflictError(`outcome ${item.outcome} already recorded for ${key}`, {
        outcome: item.outcome,
        at: item.at,
        reason: item.reason,
      });
    }
    this.items.set(key, { ...item, ...result });
    this.events.push({ kind: "outcome", handshakeId, outcome: result.outcome });
    return {};
  }

  /** How often a run asked for unlinked items to be linked; this fake never leaves any. */
  linkCalls = 0;
  async linkUnchained() {
    this.linkCalls += 1;
    return 0;
  }

  async listPendingIntents() {
    return [...this.items.entries()]
      .filter(([key, item]) => item.outcome === undefined && !this.reconciledBy.has(key))
      .map(([, item]) => structuredClone(item));
  }

  /** Intents completed by another run's reconciled record: `runId/handshakeId` -> that run. */
  readonly reconciledBy = new Map<string, string>();
  async recordReconciled(record: AuditAction): Promise<boolean> {
    const [runId = "", ...rest] = (record.reconciles ?? "").split("/");
    const key = this.key(runId, rest.join("/"));
    const intent = this.items.get(key);
    if (intent === undefined || intent.outcome !== undefined || this.reconciledBy.has(key)) return false;
    const own = this.key(record.runId, itemKeyPart(record));
    if (this.items.has(own)) return false;
    this.items.set(own, structuredClone(record));
    this.reconciledBy.set(key, record.runId);
    this.events.push({ kind: "final", handshakeId: record.handshakeId, outcome: record.outcome });
    return true;
  }

  /** Marks closed, as `runId/handshakeId` -> the run that closed it. */
  readonly closedMarks = new Map<string, string>();
  async listOpenMarks(): Promise<OpenMark[]> {
    return [...this.items.values()]
      .filter(
        (item) =>
          item.outcome === "MARKED" &&
          item.cancelAfter !== undefined &&
          !this.closedMarks.has(this.key(item.runId, item.handshakeId)),
      )
      .map((item) => ({
        runId: item.runId,
        handshakeId: item.handshakeId,
        ruleId: item.ruleId,
        cancelAfter: item.cancelAfter ?? "",
        action: item.action,
        target: item.target,
        targetType: item.targetType,
        ...(item.requestedAt ? { requestedAt: item.requestedAt } : {}),
      }));
  }

  async closeMark(mark: { runId: string; handshakeId: string }, closedBy: string) {
    this.closedMarks.set(this.key(mark.runId, mark.handshakeId), closedBy);
  }

  /** What recordNotifyFailure put on each run. */
  readonly notifyErrors = new Map<string, string>();
  async recordNotifyFailure(runId: string, error: string) {
    this.notifyErrors.set(runId, error);
  }

  /** Configs by hash, as recordConfig keeps them; failConfigs makes recordConfig throw. */
  readonly configs = new Map<string, string>();
  failConfigs = false;
  async recordConfig(hash: string, canonicalJson: string) {
    if (this.failConfigs) throw new Error("InternalServerError");
    if (!this.configs.has(hash)) this.configs.set(hash, canonicalJson);
  }

  /** The lease item as the store keeps it, with the store's clock and lease length. */
  lease: (LeaseHolder & { released?: boolean }) | undefined;
  now: () => Date = () => new Date();
  leaseDurationMs = 60_000;
  /** The fencing margin: a lapsed lease is taken over once it has lapsed by more than this. */
  marginMs = 0;
  /** Lease expiries noted on run items by renewals, as the store does. */
  readonly runLeases = new Map<string, number>();
  renewals = 0;
  /** Make runOutcomes fail, as a read that times out. */
  failOutcomeReads = false;

  async acquireLease(runId: string): Promise<LeaseClaim> {
    const at = this.now();
    const held = this.lease;
    const free =
      held === undefined ||
      held.runId === runId ||
      held.expiresAt <= at.getTime() - this.marginMs ||
      (held.released === true && held.expiresAt <= at.getTime());
    if (!free)
      return { acquired: false, holder: { runId: held.runId, since: held.since, expiresAt: held.expiresAt } };
    this.lease = { runId, since: at.toISOString(), expiresAt: at.getTime() + this.leaseDurationMs };
    return { acquired: true, lease: { ...this.lease } };
  }

  async renewLease(runId: string): Promise<LeaseHolder> {
    this.renewals += 1;
    if (this.lease?.runId !== runId) throw new LeaseLostError(runId, this.lease && { ...this.lease });
    this.lease.expiresAt = this.now().getTime() + this.leaseDurationMs;
    if (this.runs.get(runId)?.status === "RUNNING") this.runLeases.set(runId, this.lease.expiresAt);
    return { ...this.lease };
  }

  async releaseLease(runId: string): Promise<boolean> {
    if (this.lease?.runId !== runId) return false;
    this.lease.expiresAt = this.now().getTime();
    this.lease.released = true;
    return true;
  }

  async runLiveness(runId: string) {
    const run = this.runs.get(runId);
    if (!run) return undefined;
    const leaseExpiresAt = this.runLeases.get(runId);
    return { status: run.status, ...(leaseExpiresAt === undefined ? {} : { leaseExpiresAt }) };
  }

  async runOutcomes(runId: string) {
    if (this.failOutcomeReads) throw new Error("TimeoutError");
    return new Map(this.ofRun(runId).map((item) => [itemKeyPart(item), item.outcome]));
  }

  ofRun(runId: string): AuditAction[] {
    return [...this.items.values()].filter((item) => item.runId === runId);
  }
}

export class FakeOrganizations implements OrganizationsPort {
  readonly handshakes: Map<string, Handshake>;
  /** Answers for CancelHandshake by id, instead of the state rules (throttled past deadline, …). */
  readonly scripted = new Map<string, CancelResult>();
  /** Thrown from cancelHandshake for these ids: a crash in the middle of a run. */
  readonly crashOn = new Set<string>();
  /** Runs inside each CancelHandshake before it answers: another actor doing something meanwhile. */
  onCancel: ((id: string) => Promise<void>) | undefined;
  constructor(
    handshakes: Handshake[],
    readonly events: Event[] = [],
  ) {
    this.handshakes = new Map(handshakes.map((h) => [h.id, copy(h)]));
  }

  /** Pages of 20, as the service's largest page. */
  async *listHandshakes() {
    const all = [...this.handshakes.values()].map(copy);
    for (let start = 0; start < all.length; start += 20) yield all.slice(start, start + 20);
  }

  async describeHandshake(id: string) {
    const h = this.handshakes.get(id);
    return h ? copy(h) : undefined;
  }

  async cancelHandshake(id: string): Promise<CancelResult> {
    this.events.push({ kind: "cancel", handshakeId: id });
    await this.onCancel?.(id);
    if (this.crashOn.has(id)) {
      const h = this.handshakes.get(id);
      if (h) h.state = "CANCELED";
      throw new Error("process killed after CancelHandshake");
    }
    const scripted = this.scripted.get(id);
    if (scripted) return scripted;
    const h = this.handshakes.get(id);
    if (!h) return { outcome: "ALREADY_CLOSED", attempts: 1, error: "HandshakeNotFoundException" };
    if (h.state === "CANCELED")
      return { outcome: "ALREADY_CLOSED", attempts: 1, error: "HandshakeAlreadyInState" };
    if (h.state !== "OPEN" && h.state !== "REQUESTED") return { outcome: "STATE_CHANGED", attempts: 1 };
    h.state = "CANCELED";
    return { outcome: "CANCELED", attempts: 1 };
  }

  cancels(): string[] {
    return this.events.filter((e) => e.kind === "cancel").map((e) => e.handshakeId);
  }
}

/** A shallow copy that keeps accessors, so a test can plant a field that throws when read. */
function copy(h: Handshake): Handshake {
  return Object.create(Object.getPrototypeOf(h), Object.getOwnPropertyDescriptors(h));
}

let counter = 0;
/** A handshake with sensible defaults; ids are unique and valid. */
export function handshake(overrides: Partial<Handshake> = {}): Handshake {
  counter += 1;
  return {
    id: `h-${counter.toString(36).padStart(10, "0")}`,
    state: "OPEN",
    action: "INVITE",
    requestedAt: new Date("2026-11-20T00:00:00Z"),
    target: { type: "EMAIL", value: `user${counter}@example.com` },
    ...overrides,
  };
}

/** A run item as a run starts it: RUNNING, nothing counted yet; override what matters. */
export function runRecord(runId: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    runId,
    trigger: "scheduled",
    actor: "events",
    status: "RUNNING",
    dryRun: false,
    startedAt: "2026-03-10T12:00:00.000Z",
    counts: {},
    listed: 0,
    candidates: 0,
    matched: 0,
    configVersion: 1,
    configHash: "c0ffee",
    ...overrides,
  };
}

/** An audit item as the sweep writes it, an intent unless `outcome` is given; override what matters. */
export function auditAction(overrides: Partial<AuditAction> = {}): AuditAction {
  return {
    runId: "run-1",
    handshakeId: "h-1",
    ruleId: "stale-invitations",
    matchedRules: ["stale-invitations"],
    dryRun: false,
    at: "2026-03-10T12:00:00.000Z",
    trigger: "cli",
    actor: "alice",
    action: "INVITE",
    target: "a@gmail.com",
    targetType: "EMAIL",
    reason: "stale",
    attempts: 0,
    ...overrides,
  };
}

/**
 * Handshake claims held in memory, as the store keeps them: free, the holder's own, expired, or
 * held by `replacing` can be taken. `log` records every call, in order.
 */
export class FakeClaims implements HandshakeClaims {
  readonly log: string[] = [];
  readonly held = new Map<string, { holder: string; until: Date; fencedUntil?: number }>();
  now: () => Date = () => new Date();
  failRelease = false;
  /** The fencing margin the store applies to takeovers (src/aws/audit/claims.ts). */
  marginMs = 0;
  /** The organization's lease, for the fence's lease check; absent, no lease is held. */
  lease: () => LeaseHolder | undefined = () => undefined;
  /** Every confirmation asked for, in order: `confirm <id> <holder>` and what it answered. */
  readonly confirmations: string[] = [];
  async claimHandshake(
    id: string,
    holder: string,
    ttlMs: number,
    options: { replacing?: string } = {},
  ): Promise<ClaimResult> {
    this.log.push(`claim ${id} ${holder}${options.replacing ? ` replacing ${options.replacing}` : ""}`);
    const current = this.held.get(id);
    const lapsed = this.now().getTime() - this.marginMs;
    const free =
      current === undefined ||
      current.holder === holder ||
      (current.holder === options.replacing && (current.fencedUntil ?? 0) <= lapsed) ||
      current.until.getTime() <= lapsed;
    if (!free) return { taken: false, holder: current.holder, until: current.until };
    this.held.set(id, { holder, until: new Date(this.now().getTime() + ttlMs) });
    return { taken: true };
  }
  async confirmClaim(request: FenceRequest): Promise<FenceAnswer> {
    const until = request.at + request.marginMs;
    const lease = this.lease();
    const claim = this.held.get(request.handshakeId);
    let answer: FenceAnswer = { confirmed: true };
    if (
      request.leaseRunId !== undefined &&
      (lease?.runId !== request.leaseRunId || lease.expiresAt < until)
    ) {
      answer = { confirmed: false, lost: "lease", detail: `lease is ${lease?.runId ?? "nobody"}'s` };
    } else if (claim?.holder !== request.holder || claim.until.getTime() < until) {
      answer = { confirmed: false, lost: "claim", detail: `claim is ${claim?.holder ?? "nobody"}'s` };
    } else claim.fencedUntil = until;
    this.confirmations.push(
      `confirm ${request.handshakeId} ${request.holder}: ${answer.confirmed ? "confirmed" : `lost ${answer.lost}`}`,
    );
    return answer;
  }
  async releaseHandshake(id: string, holder: string): Promise<void> {
    this.log.push(`release ${id} ${holder}`);
    if (this.failRelease) throw new Error("ThrottlingException");
    if (this.held.get(id)?.holder === holder) this.held.delete(id);
  }
}
