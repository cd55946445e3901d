import { describe, expect, test } from "vitest";
import { backoffDelay, RetriesExhaustedError, retry } from "../../src/core/backoff.js";
import { createPacer } from "../../src/core/pacer.js";

/** A virtual clock: sleeping advances time, so pacing is checked without waiting. */
function virtualClock() {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

describe("pacer", () => {
  test("spaces calls at its rate", async () => {
    const clock = virtualClock();
    const pacer = createPacer({ initialRate: 10, ...clock });

    for (let i = 0; i < 5; i += 1) await pacer.acquire();

    expect(clock.now()).toBeCloseTo(400, 5);
  });

  test("settles just under the rate the service granted once throttled", async () => {
    const clock = virtualClock();
    const pacer = createPacer({ initialRate: 10, ...clock });
    // A service that grants 20 calls a second: a token bucket of burst 1.
    let tokens = 1;
    let last = 0;
    for (let i = 0; i < 400; i += 1) {
      await pacer.acquire();
      tokens = Math.min(1, tokens + ((clock.now() - last) / 1000) * 20);
      last = clock.now();
      if (tokens >= 1) {
        tokens -= 1;
        pacer.onSuccess();
      } else pacer.onThrottle();
    }

    const { rate, throttles, successes } = pacer.stats();
    expect(rate).toBeGreaterThan(20 * 0.85);
    expect(rate).toBeLessThanOrEqual(20 * 1.05);
    expect(throttles / successes).toBeLessThan(0.1);
  });
});

describe("retry", () => {
  test("retries retryable errors with growing, capped, jittered delays", async () => {
    const clock = virtualClock();
    const delays: number[] = [];
    let calls = 0;
    const result = await retry(
      async () => {
        calls += 1;
        if (calls < 4) throw new Error("transient");
        return "done";
      },
      {
        isRetryable: () => true,
        policy: { baseMs: 100, capMs: 300, maxAttempts: 5 },
        sleep: clock.sleep,
        random: () => 0.999,
        onRetry: (_e, _n, delay) => delays.push(delay),
      },
    );

    expect(result).toBe("done");
    expect(delays).toEqual([99, 199, 299]);
  });

  test("rethrows a non-retryable error at once", async () => {
    let calls = 0;
    const failing = retry(
      async () => {
        calls += 1;
        throw new Error("fatal");
      },
      { isRetryable: () => false },
    );
    await expect(failing).rejects.toThrow("fatal");
    expect(calls).toBe(1);
  });

  test("gives up at the deadline rather than sleeping past it", async () => {
    const clock = virtualClock();
    const failing = retry(
      async () => {
        throw new Error("throttled");
      },
      { isRetryable: () => true, deadline: 50, now: clock.now, sleep: clock.sleep, random: () => 0.9 },
    );
    await expect(failing).rejects.toBeInstanceOf(RetriesExhaustedError);
    expect(clock.now()).toBeLessThan(50);
  });

  test("full jitter stays under the exponential ceiling", () => {
    const policy = { baseMs: 100, capMs: 5000, maxAttempts: 8 };
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect(backoffDelay(attempt, policy, () => 0.999999)).toBeLessThan(Math.min(5000, 100 * 2 ** attempt));
    }
  });
});
