import { describe, expect, test } from "vitest";
import type { FenceAnswer, FenceRequest, FenceStore } from "../../src/ports/fence.js";
import { foundAfterLostAnswer } from "../../src/sweep/cancel-fence.js";
import {
  cancellingStopped,
  createFence,
  type Fence,
  FencedOutcomeUnknownError,
  type FenceOptions,
  type FenceRefusal,
} from "../../src/sweep/fence.js";
import type { RunState } from "../../src/sweep/types.js";
import { handshake } from "../support/fakes.js";

/** A store answering as told, recording what it was asked; `took` ms pass on the clock per answer. */
function store(answers: (FenceAnswer | Error)[], clock: { t: number }, took = 0) {
  const asked: FenceRequest[] = [];
  const fenceStore: FenceStore = {
    async confirmClaim(request) {
      asked.push(request);
      clock.t += took;
      const answer = answers.shift() ?? { confirmed: true };
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return { fenceStore, asked };
}

const TIMING = { marginMs: 5_000, attemptMs: 2_500 };

/** A fence over h-1 for run-1 on `fenceStore`, its clock `clock`. */
function fenceOn(fenceStore: FenceStore, clock: { t: number }, extra: Partial<FenceOptions> = {}) {
  return createFence({
    store: fenceStore,
    handshakeId: "h-1",
    holder: "run-1",
    timing: TIMING,
    now: () => clock.t,
    ...extra,
  });
}

describe("the fence before each CancelHandshake attempt", () => {
  test("confirms the claim, and the lease of a sweep, for M from the moment it asks", async () => {
    const clock = { t: 1_000_000 };
    const { fenceStore, asked } = store([{ confirmed: true }], clock, 40);
    const fence = fenceOn(fenceStore, clock, { leaseRunId: "run-1" });

    expect(await fence.beforeAttempt()).toBe(true);
    expect(asked).toEqual([
      { handshakeId: "h-1", holder: "run-1", leaseRunId: "run-1", at: 1_000_000, marginMs: 5_000 },
    ]);
    expect(fence.confirmedUntil()).toBe(1_000_000 + TIMING.marginMs);
    expect(fence.refusal()).toBeUndefined();
  });

  test("does not use a confirmation that came back later than M less one attempt's bound", async () => {
    const clock = { t: 0 };
    const late = TIMING.marginMs - TIMING.attemptMs + 1;
    const { fenceStore } = store([{ confirmed: true }], clock, late);
    const fence = fenceOn(fenceStore, clock);

    expect(await fence.beforeAttempt()).toBe(false);
    expect(fence.refusal()).toEqual({
      reason: expect.stringMatching(/confirmed too late to act on/),
      lost: false,
    });
  });

  test("waits for the call's turn once confirmed, and counts that wait in the confirmation's age", async () => {
    const clock = { t: 0 };
    const { fenceStore, asked } = store([{ confirmed: true }, { confirmed: true }], clock, 40);
    const fence = fenceOn(fenceStore, clock);
    const turns: number[] = [];
    const turn = (ms: number) => async () => {
      turns.push(asked.length);
      clock.t += ms;
      return true;
    };

    expect(await fence.beforeAttempt(turn(10))).toBe(true);
    // A turn that comes later than the margin leaves refuses the attempt, as a slow answer does.
    expect(await fence.beforeAttempt(turn(TIMING.marginMs - TIMING.attemptMs))).toBe(false);
    expect(fence.refusal()).toEqual({
      reason: expect.stringMatching(/confirmed too late to act on/),
      lost: false,
    });
    // Each turn was awaited after its confirmation was asked for.
    expect(turns).toEqual([1, 2]);
  });

  test("refuses, as not lost, an attempt whose turn would come after the run's deadline", async () => {
    const clock = { t: 0 };
    const { fenceStore } = store([{ confirmed: true }], clock, 40);
    const fence = fenceOn(fenceStore, clock);

    expect(await fence.beforeAttempt(async () => false)).toBe(false);
    expect(fence.refusal()).toEqual({
      reason: expect.stringMatching(/after the run's deadline/),
      lost: false,
    });
  });

  test("uses one that came back just in time", async () => {
    const clock = { t: 0 };
    const { fenceStore } = store([{ confirmed: true }], clock, TIMING.marginMs - TIMING.attemptMs);
    const fence = fenceOn(fenceStore, clock);

    expect(await fence.beforeAttempt()).toBe(true);
  });

  test("refuses when the claim or the lease is someone else's, and says it was lost", async () => {
    const clock = { t: 0 };
    const { fenceStore } = store(
      [{ confirmed: false, lost: "lease", detail: "the organization's lease is held by run-2" }],
      clock,
    );
    const fence = fenceOn(fenceStore, clock);

    expect(await fence.beforeAttempt()).toBe(false);
    expect(fence.refusal()).toEqual({
      reason: "the lease was lost: the organization's lease is held by run-2",
      lost: true,
    });
  });

  test("refuses, without claiming a loss, when the confirmation itself fails", async () => {
    const clock = { t: 0 };
    const { fenceStore } = store([new Error("socket hang up")], clock);
    const fence = fenceOn(fenceStore, clock);

    expect(await fence.beforeAttempt()).toBe(false);
    expect(fence.refusal()?.lost).toBe(false);
    expect(fence.refusal()?.reason).toContain("socket hang up");
  });

  test("asks nothing once the run has stopped cancelling", async () => {
    const clock = { t: 0 };
    const { fenceStore, asked } = store([], clock);
    const fence = fenceOn(fenceStore, clock, { stopped: () => "the lease was lost" });

    expect(await fence.beforeAttempt()).toBe(false);
    expect(asked).toEqual([]);
    expect(fence.refusal()).toEqual({ reason: "the lease was lost", lost: true });
  });
});

describe("a cancel whose answer was lost, the fence then refusing the attempt that would find out", () => {
  const lostAnswer = new FencedOutcomeUnknownError(
    "CancelHandshake h-1: outcome unknown after 1 attempt(s), an answer was lost and no further attempt was allowed",
    1,
  );
  const refusal: FenceRefusal = { reason: "the lease was lost: released by run-b", lost: true };
  const refusing: Fence = {
    beforeAttempt: async () => false,
    refusal: () => refusal,
    confirmedUntil: () => 0,
  };
  const runFinding = (state: string | undefined) =>
    ({
      deps: { organizations: { describeHandshake: async () => (state ? handshake({ state }) : undefined) } },
    }) as unknown as RunState;

  test.each(["OPEN", "REQUESTED"])(
    "defers a handshake found %s, saying why the fence refused",
    async (state) => {
      const run = runFinding(state);

      const result = await foundAfterLostAnswer(run, refusing, "h-1", lostAnswer);

      expect(result?.outcome).toBe("DEFERRED");
      expect(result?.error).toContain(lostAnswer.message);
      expect(result?.error).toContain(`fence: ${refusal.reason}`);
      expect(result?.error).toContain(`found it ${state}`);
      expect(cancellingStopped(run)).toBe(refusal.reason);
    },
  );

  test("records a handshake found CANCELED as canceled by this run", async () => {
    const result = await foundAfterLostAnswer(runFinding("CANCELED"), refusing, "h-1", lostAnswer);

    expect(result?.outcome).toBe("CANCELED");
    expect(result?.attempts).toBe(1);
  });

  test("leaves the intent pending when the handshake is gone or the failure is another", async () => {
    expect(await foundAfterLostAnswer(runFinding(undefined), refusing, "h-1", lostAnswer)).toBeUndefined();
    expect(await foundAfterLostAnswer(runFinding("OPEN"), refusing, "h-1", new Error("x"))).toBeUndefined();
  });
});
