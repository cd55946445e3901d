import { describe, expect, test } from "vitest";
import type { FenceAnswer, FenceRequest, FenceStore } from "../../src/ports/fence.js";
import { createFence, type FenceOptions } from "../../src/sweep/fence.js";

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
