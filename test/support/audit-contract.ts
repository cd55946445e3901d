import { describe, expect, test } from "vitest";
import { LeaseLostError, OutcomeConflictError } from "../../src/domain/errors.js";
import type { ActionLog } from "../../src/ports/action-log.js";
import type { HandshakeClaims } from "../../src/ports/claims.js";
import type { LeaseStore } from "../../src/ports/lease.js";
import type { MarkStore } from "../../src/ports/marks.js";
import type { RunRecord } from "../../src/ports/records.js";
import type { RunJournal } from "../../src/ports/run-journal.js";
import { auditAction, runRecord as startedRun } from "./fakes.js";

/** The audit ports one store offers, as the composition root hands them out. */
export interface AuditPorts {
  journal: RunJournal;
  actions: ActionLog;
  lease: LeaseStore;
  marks: MarkStore;
  claims: HandshakeClaims;
}

export interface ContractOptions {
  /** The store's clock: every time it writes or compares is read from here. */
  now: () => Date;
  leaseMs: number;
  marginMs: number;
}

const T0 = Date.parse("2026-11-30T09:00:00.000Z");
const LEASE_MS = 60_000;
const MARGIN_MS = 5_000;

/** A run item as a run starts it, at the contract's clock. */
function runRecord(runId: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return startedRun(runId, { startedAt: new Date(T0).toISOString(), ...overrides });
}

/**
 * One set of cases for every implementation of the audit ports: the in-memory fake the unit tests
 * use and the DynamoDB store. What the sweep relies on is asserted here once, so the fake cannot
 * drift from the table. `make` builds a fresh, empty store on the clock it is given.
 */
export function auditPortContract(name: string, make: (options: ContractOptions) => Promise<AuditPorts>) {
  async function setup() {
    let at = T0;
    const clock = {
      now: () => new Date(at),
      advance(ms: number) {
        at += ms;
      },
    };
    const ports = await make({ now: clock.now, leaseMs: LEASE_MS, marginMs: MARGIN_MS });
    return { ...ports, clock };
  }

  describe(`the audit ports (${name})`, () => {
    describe("run journal", () => {
      test("a run is created once; starting it again answers the stored run", async () => {
        const { journal } = await setup();
        expect(await journal.startRun(runRecord("run-a"))).toMatchObject({ created: true });
        const again = await journal.startRun(runRecord("run-a", { actor: "somebody-else" }));
        expect(again.created).toBe(false);
        expect(again.run).toMatchObject({ runId: "run-a", actor: "events", status: "RUNNING" });
      });

      test("liveness is unknown for a run never started, RUNNING while it runs, final after it ends", async () => {
        const { journal } = await setup();
        expect(await journal.runLiveness("run-none")).toBeUndefined();
        await journal.startRun(runRecord("run-a"));
        expect(await journal.runLiveness("run-a")).toMatchObject({ status: "RUNNING" });
        await journal.finishRun(
          runRecord("run-a", { status: "COMPLETED", endedAt: new Date(T0 + 1_000).toISOString() }),
        );
        expect(await journal.runLiveness("run-a")).toMatchObject({ status: "COMPLETED" });
      });

      test("a run's outcomes are read back by handshake: undefined for an intent, the outcome once recorded", async () => {
        const { journal, actions } = await setup();
        await journal.startRun(runRecord("run-a"));
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-intent" }));
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-done" }));
        await actions.recordOutcome("run-a", "h-done", {
          outcome: "CANCELED",
          attempts: 1,
          at: new Date(T0).toISOString(),
        });
        await actions.recordAction(
          auditAction({ runId: "run-b", handshakeId: "h-other", outcome: "DRY_RUN" }),
        );
        const outcomes = await journal.runOutcomes("run-a");
        expect([...outcomes.entries()].sort()).toEqual([
          ["h-done", "CANCELED"],
          ["h-intent", undefined],
        ]);
      });

      test("a notification failure and a config leave the run's status as it was", async () => {
        const { journal } = await setup();
        await journal.startRun(runRecord("run-a"));
        await journal.recordNotifyFailure("run-a", "SNS timed out");
        await journal.recordConfig("c0ffee", '{"version":1}');
        await journal.recordConfig("c0ffee", '{"version":1}');
        expect(await journal.runLiveness("run-a")).toMatchObject({ status: "RUNNING" });
      });
    });

    describe("action log", () => {
      test("an item is written once per run and handshake; a second write answers the stored one", async () => {
        const { actions } = await setup();
        const first = auditAction({ runId: "run-a", handshakeId: "h-1", outcome: "EXEMPTED" });
        expect(await actions.recordAction(first)).toMatchObject({ created: true });
        const second = await actions.recordAction({ ...first, outcome: "DRY_RUN", reason: "other" });
        expect(second.created).toBe(false);
        expect(second.created ? undefined : second.existing).toMatchObject({ outcome: "EXEMPTED" });
      });

      test("an intent is pending until its outcome; the same outcome again is a retry, another is refused", async () => {
        const { actions } = await setup();
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-1" }));
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-2" }));
        expect((await actions.listPendingIntents()).map((i) => i.handshakeId).sort()).toEqual(["h-1", "h-2"]);
        const result = { outcome: "CANCELED" as const, attempts: 1, at: new Date(T0).toISOString() };
        await actions.recordOutcome("run-a", "h-1", result);
        await expect(actions.recordOutcome("run-a", "h-1", result)).resolves.toBeDefined();
        await expect(
          actions.recordOutcome("run-a", "h-1", { ...result, outcome: "DEFERRED" }),
        ).rejects.toBeInstanceOf(OutcomeConflictError);
        expect((await actions.listPendingIntents()).map((i) => i.handshakeId)).toEqual(["h-2"]);
      });

      test("an outcome with no intent is refused and nothing is written", async () => {
        const { actions, journal } = await setup();
        await expect(
          actions.recordOutcome("run-a", "h-missing", {
            outcome: "CANCELED",
            attempts: 1,
            at: new Date(T0).toISOString(),
          }),
        ).rejects.toThrow();
        expect((await journal.runOutcomes("run-a")).size).toBe(0);
      });

      test("finals answer one result per item in order, an existing one as existing", async () => {
        const { actions } = await setup();
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-2", outcome: "EXEMPTED" }));
        const results = await actions.recordFinals(
          ["h-1", "h-2", "h-3"].map((id) =>
            auditAction({ runId: "run-a", handshakeId: id, outcome: "DRY_RUN" }),
          ),
        );
        expect(results.map((r) => ("failed" in r ? "failed" : r.created))).toEqual([true, false, true]);
      });

      test("a conflict record is kept beside its run's item for the handshake, not instead of it", async () => {
        const { actions, journal } = await setup();
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-1", outcome: "DEFERRED" }));
        const conflict = auditAction({
          runId: "run-a",
          handshakeId: "h-1",
          outcome: "CANCELED",
          contradicts: "run-a/h-1 DEFERRED",
        });
        expect(await actions.recordAction(conflict)).toMatchObject({ created: true });
        expect((await journal.runOutcomes("run-a")).size).toBe(2);
      });

      test("another run's interrupted intent is completed by a record of the reconciling run, once", async () => {
        const { actions, journal } = await setup();
        await journal.startRun(runRecord("run-a"));
        await journal.startRun(runRecord("run-b"));
        await journal.startRun(runRecord("run-c"));
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-1" }));
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-2", outcome: "EXEMPTED" }));
        const reconciled = (runId: string, handshakeId: string) =>
          auditAction({ runId, handshakeId, outcome: "CANCELED", reconciles: `run-a/${handshakeId}` });

        expect(await actions.recordReconciled(reconciled("run-b", "h-1"))).toBe(true);
        expect(await actions.listPendingIntents()).toEqual([]);
        // The interrupted run keeps its intent as it was; the record is the reconciling run's.
        expect([...(await journal.runOutcomes("run-a")).entries()].sort()).toEqual([
          ["h-1", undefined],
          ["h-2", "EXEMPTED"],
        ]);
        expect([...(await journal.runOutcomes("run-b")).values()]).toEqual(["CANCELED"]);
        // Once: not again by another run, not over a completed item, not by its own late outcome.
        expect(await actions.recordReconciled(reconciled("run-c", "h-1"))).toBe(false);
        expect(await actions.recordReconciled(reconciled("run-c", "h-2"))).toBe(false);
        // Its own run's late outcome: the same as the record is a write that had landed; another is refused.
        const late = { outcome: "CANCELED" as const, attempts: 1, at: new Date(T0).toISOString() };
        await expect(actions.recordOutcome("run-a", "h-1", late)).resolves.toBeDefined();
        await expect(
          actions.recordOutcome("run-a", "h-1", { ...late, outcome: "DEFERRED" }),
        ).rejects.toBeInstanceOf(OutcomeConflictError);
        expect((await journal.runOutcomes("run-a")).get("h-1")).toBeUndefined();
        expect((await journal.runOutcomes("run-c")).size).toBe(0);
      });

      test("with nothing left out of a chain, linking links nothing", async () => {
        const { actions } = await setup();
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-1", outcome: "DRY_RUN" }));
        expect(await actions.linkUnchained()).toBe(0);
      });
    });

    describe("lease", () => {
      test("taken when free, refused to another run naming the holder, taken again by its own run", async () => {
        const { lease } = await setup();
        expect(await lease.acquireLease("run-a")).toMatchObject({
          acquired: true,
          lease: { runId: "run-a" },
        });
        expect(await lease.acquireLease("run-b")).toMatchObject({
          acquired: false,
          holder: { runId: "run-a" },
        });
        expect(await lease.acquireLease("run-a")).toMatchObject({ acquired: true });
      });

      test("a lapsed lease is taken over only once it has lapsed by more than the fencing margin", async () => {
        const { lease, clock } = await setup();
        await lease.acquireLease("run-a");
        clock.advance(LEASE_MS + MARGIN_MS / 2);
        expect((await lease.acquireLease("run-b")).acquired).toBe(false);
        clock.advance(MARGIN_MS);
        expect(await lease.acquireLease("run-b")).toMatchObject({
          acquired: true,
          lease: { runId: "run-b" },
        });
      });

      test("renewal extends the holder's lease and throws LeaseLostError for anyone else", async () => {
        const { lease, clock } = await setup();
        const taken = await lease.acquireLease("run-a");
        clock.advance(10_000);
        const renewed = await lease.renewLease("run-a");
        expect(renewed.expiresAt).toBe((taken.acquired ? taken.lease.expiresAt : 0) + 10_000);
        await expect(lease.renewLease("run-b")).rejects.toBeInstanceOf(LeaseLostError);
      });

      test("release frees it at once for the next run; a release by another run does nothing", async () => {
        const { lease } = await setup();
        await lease.acquireLease("run-a");
        expect(await lease.releaseLease("run-b")).toBe(false);
        expect((await lease.acquireLease("run-b")).acquired).toBe(false);
        expect(await lease.releaseLease("run-a")).toBe(true);
        expect((await lease.acquireLease("run-b")).acquired).toBe(true);
      });
    });

    describe("marks", () => {
      test("a MARKED item with its cancel time is open until a later run closes it; closing twice is harmless", async () => {
        const { actions, marks, journal } = await setup();
        await journal.startRun(runRecord("run-a"));
        const cancelAfter = new Date(T0 + 3_600_000).toISOString();
        await actions.recordAction(
          auditAction({ runId: "run-a", handshakeId: "h-1", outcome: "MARKED", cancelAfter }),
        );
        await actions.recordAction(auditAction({ runId: "run-a", handshakeId: "h-2", outcome: "DRY_RUN" }));
        const open = await marks.listOpenMarks();
        expect(open).toEqual([
          expect.objectContaining({
            runId: "run-a",
            handshakeId: "h-1",
            cancelAfter,
            ruleId: "stale-invitations",
          }),
        ]);
        await marks.closeMark({ runId: "run-a", handshakeId: "h-1" }, "run-b");
        await marks.closeMark({ runId: "run-a", handshakeId: "h-1" }, "run-b");
        expect(await marks.listOpenMarks()).toEqual([]);
      });
    });

    describe("handshake claims", () => {
      test("taken when free, refused to another holder with its expiry, renewed by its holder", async () => {
        const { claims } = await setup();
        expect(await claims.claimHandshake("h-1", "run-a", 30_000)).toEqual({ taken: true });
        const refused = await claims.claimHandshake("h-1", "run-b", 30_000);
        expect(refused).toEqual({ taken: false, holder: "run-a", until: new Date(T0 + 30_000) });
        expect(await claims.claimHandshake("h-1", "run-a", 30_000)).toEqual({ taken: true });
      });

      test("a lapsed claim is taken over only once it has lapsed by more than the fencing margin", async () => {
        const { claims, clock } = await setup();
        await claims.claimHandshake("h-1", "run-a", 30_000);
        clock.advance(30_000 + MARGIN_MS / 2);
        expect((await claims.claimHandshake("h-1", "run-b", 30_000)).taken).toBe(false);
        clock.advance(MARGIN_MS);
        expect((await claims.claimHandshake("h-1", "run-b", 30_000)).taken).toBe(true);
      });

      test("released by its holder it is free; a release by another holder leaves it held", async () => {
        const { claims } = await setup();
        await claims.claimHandshake("h-1", "run-a", 30_000);
        await claims.releaseHandshake("h-1", "run-b");
        expect((await claims.claimHandshake("h-1", "run-b", 30_000)).taken).toBe(false);
        await claims.releaseHandshake("h-1", "run-a");
        expect((await claims.claimHandshake("h-1", "run-b", 30_000)).taken).toBe(true);
      });

      test("the fence confirms the holder's claim with the margin left, and refuses anyone else", async () => {
        const { claims, clock } = await setup();
        await claims.claimHandshake("h-1", "run-a", 30_000);
        const at = () => clock.now().getTime();
        expect(
          await claims.confirmClaim({ handshakeId: "h-1", holder: "run-a", at: at(), marginMs: MARGIN_MS }),
        ).toEqual({
          confirmed: true,
        });
        expect(
          await claims.confirmClaim({ handshakeId: "h-1", holder: "run-b", at: at(), marginMs: MARGIN_MS }),
        ).toMatchObject({ confirmed: false, lost: "claim" });
        clock.advance(30_000 - MARGIN_MS / 2);
        expect(
          await claims.confirmClaim({ handshakeId: "h-1", holder: "run-a", at: at(), marginMs: MARGIN_MS }),
        ).toMatchObject({ confirmed: false, lost: "claim" });
      });

      test("a sweep's fence also confirms its lease, and is refused once another run holds it", async () => {
        const { claims, lease, clock } = await setup();
        await lease.acquireLease("run-a");
        await claims.claimHandshake("h-1", "run-a", 30_000);
        const request = () => ({
          handshakeId: "h-1",
          holder: "run-a",
          leaseRunId: "run-a",
          at: clock.now().getTime(),
          marginMs: MARGIN_MS,
        });
        expect(await claims.confirmClaim(request())).toEqual({ confirmed: true });
        await lease.releaseLease("run-a");
        await lease.acquireLease("run-b");
        expect(await claims.confirmClaim(request())).toMatchObject({ confirmed: false, lost: "lease" });
      });

      test("a holder known to be gone is replaced once its last confirmation has lapsed by the margin", async () => {
        const { claims, clock } = await setup();
        await claims.claimHandshake("h-1", "run-a", 30_000);
        const confirmedAt = clock.now().getTime();
        await claims.confirmClaim({
          handshakeId: "h-1",
          holder: "run-a",
          at: confirmedAt,
          marginMs: MARGIN_MS,
        });
        expect((await claims.claimHandshake("h-1", "run-b", 30_000, { replacing: "run-a" })).taken).toBe(
          false,
        );
        clock.advance(MARGIN_MS * 2 + 1);
        expect((await claims.claimHandshake("h-1", "run-b", 30_000, { replacing: "run-a" })).taken).toBe(
          true,
        );
      });
    });
  });
}
