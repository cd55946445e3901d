import { describe, expect, test } from "vitest";
import { seededRandom } from "../../devtools/org-emulator/index.js";
import { backoffDelay, RetriesExhaustedError, retry } from "../../src/resilience/backoff.js";
import { createPacer, DEFAULT_PACER, type Pacer, type PacerOptions } from "../../src/resilience/pacer.js";
import { simulatedService, virtualTime } from "../support/virtual-time.js";

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

/** A service that grants `perSecond` calls a second, a token bucket of burst 1: one paced call to it. */
function bucketOfOne(clock: ReturnType<typeof virtualClock>, perSecond: number) {
  let tokens = 1;
  let last = 0;
  return async (pacer: ReturnType<typeof createPacer>) => {
    const sentAt = await pacer.acquire();
    tokens = Math.min(1, tokens + ((clock.now() - last) / 1000) * perSecond);
    last = clock.now();
    if (tokens >= 1) {
      tokens -= 1;
      pacer.onSuccess();
    } else pacer.onThrottle(sentAt);
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
    const call = bucketOfOne(clock, 20);
    for (let i = 0; i < 400; i += 1) await call(pacer);

    const { rate, throttles, successes, granted } = pacer.stats();
    expect(rate).toBeGreaterThan(20 * 0.85);
    expect(rate).toBeLessThanOrEqual(20 * 1.05);
    // Burst 1 keeps nothing of a slot left unused, so what is granted falls a little short of 20.
    expect(granted).toBeGreaterThan(20 * 0.9);
    expect(granted).toBeLessThan(20 * 1.05);
    expect(throttles / successes).toBeLessThan(0.1);
  });

  test("measures what the service granted while it was asked, not across the pauses between bursts of calls", async () => {
    const clock = virtualClock();
    const pacer = createPacer({ initialRate: 10, ...clock });
    // The same service, asked in bursts of 10 calls with 3 s of nothing between them, as the
    // real-time queue's batches ask it.
    const call = bucketOfOne(clock, 20);
    for (let burst = 0; burst < 40; burst += 1) {
      for (let i = 0; i < 10; i += 1) await call(pacer);
      await clock.sleep(3_000);
    }

    const { rate, granted, throttles, successes } = pacer.stats();
    // Counted over the pauses too, the 10 calls of each 3.5 s would read as about 3 a second.
    expect(granted).toBeGreaterThan(20 * 0.8);
    expect(rate).toBeGreaterThan(20 * 0.8);
    expect(throttles / successes).toBeLessThan(0.1);
  });

  test("gives a queued caller its slot at the rate of the moment, not the rate when it queued", async () => {
    const time = virtualTime();
    const pacer = createPacer({ initialRate: 10, now: time.now, sleep: time.sleep });
    const slots: number[] = [];

    await time.run(async () => {
      await pacer.acquire();
      const queued = Array.from({ length: 3 }, () => pacer.acquire().then((slot) => slots.push(slot ?? -1)));
      // A throttle while three callers wait: each of them now waits for the slower rate.
      pacer.onThrottle(0);
      await Promise.all(queued);
    });

    const interval = pacer.interval();
    expect(interval).toBeGreaterThan(100);
    for (const [i, slot] of slots.entries()) {
      expect(slot - (slots[i - 1] ?? 0)).toBeGreaterThanOrEqual(interval * 0.99);
    }
  });

  test("refuses at once, taking no slot, a call it could not let go before the caller's deadline", async () => {
    const clock = virtualClock();
    const pacer = createPacer({ initialRate: 2, ...clock });
    await pacer.acquire();

    const refused = await pacer.acquire(100);
    const granted = await pacer.acquire(1_000);

    expect(refused).toBeUndefined();
    expect(granted).toBe(500);
    expect(clock.now()).toBe(500);
  });

  test("cuts once for a burst of throttles answered by the same empty bucket", async () => {
    const clock = virtualClock();
    const pacer = createPacer({ initialRate: 40, ...clock });
    const sent = [await pacer.acquire(), await pacer.acquire(), await pacer.acquire()];
    const before = pacer.stats().rate;

    for (const sentAt of sent) pacer.onThrottle(sentAt);

    expect(pacer.stats().rate).toBeCloseTo(before * DEFAULT_PACER.decrease, 5);
    expect(pacer.stats().throttles).toBe(3);
  });

  // Four callers share one pacer as the sweep's workers do, against a token bucket with a small
  // burst, each throttled call sent again through the pacer as the adapter does.
  // The bar, checked at several limits: N calls within (N / limit) / 0.9, throttled calls
  // at most 10% of the successful ones.
  test.each([
    { limit: 5, calls: 500, latencyMs: 60 },
    { limit: 10, calls: 500, latencyMs: 50 },
    { limit: 40, calls: 500, latencyMs: 20 },
    { limit: 100, calls: 1250, latencyMs: 10 },
  ])("finds a limit of $limit/s from its throttles and keeps to it", async (setup) => {
    const { wallMs, service, pacer } = await drive({
      calls: setup.calls,
      rate: () => setup.limit,
      latencyMs: setup.latencyMs,
    });

    const idealMs = (setup.calls / setup.limit) * 1000;
    expect(service.successes()).toBe(setup.calls);
    expect(wallMs).toBeLessThanOrEqual(idealMs / 0.9);
    expect(service.throttles() / service.successes()).toBeLessThanOrEqual(0.1);
    expect(pacer.stats().granted).toBeGreaterThan(setup.limit * 0.93);
    expect(pacer.stats().granted).toBeLessThan(setup.limit * 1.07);
  });

  test("follows a budget that halves mid-run, when another tool starts using it", async () => {
    const { service, pacer } = await drive({
      calls: 600,
      rate: (at) => (at < 5_000 ? 40 : 20),
      latencyMs: 20,
    });

    expect(pacer.stats().granted).toBeGreaterThan(20 * 0.93);
    expect(pacer.stats().granted).toBeLessThan(20 * 1.07);
    expect(service.throttles() / service.successes()).toBeLessThan(0.05);
  });

  test("draws fewer throttled answers from a budget of two calls a second, bucket of one, by measuring it before twenty calls got through", async () => {
    // The same fifty calls, each seed once with the slow budget's measurement and once without it,
    // both without the ceiling (tested below), which bounds the rate from the other side and does
    // much of the same work: here the measurement alone keeps the throttles down.
    const throttles = { measured: 0, waiting: 0 };
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const run = (pacer: Omit<PacerOptions, "now" | "sleep">) =>
        drive({
          calls: 50,
          rate: () => 2,
          burst: 1,
          latencyMs: 20,
          seed,
          pacer: { underCeiling: 0, ...pacer },
        });
      const measured = await run({});
      const waiting = await run({ slowSpanMs: Number.POSITIVE_INFINITY });
      throttles.measured += measured.service.throttles();
      throttles.waiting += waiting.service.throttles();
      expect(measured.pacer.stats().granted).toBeLessThan(2 * 1.05);
    }
    expect(throttles.measured).toBeLessThan(throttles.waiting * 0.75);
  });

  test("keeps to a budget of two calls a second, bucket of one, by the ceiling its throttles prove and a probe paced per call", async () => {
    // Fifty calls at 2/s (25 s at best), each seed with the ceiling and the probe's cap per call,
    // without the ceiling, and without the cap. Alone, each of them trades time for throttles.
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
    const idealMs = (50 / 2) * 1000;
    const totals = {
      both: { ms: 0, throttles: 0 },
      noCeiling: { ms: 0, throttles: 0 },
      noCap: { ms: 0, throttles: 0 },
    };
    for (const seed of seeds) {
      const run = async (
        pacer: Omit<PacerOptions, "now" | "sleep">,
        into: { ms: number; throttles: number },
      ) => {
        const { ms, throttles } = await fiftyAtTwo({ seed, pacer });
        into.ms += ms;
        into.throttles += throttles;
      };
      await run({}, totals.both);
      await run({ underCeiling: 0 }, totals.noCeiling);
      await run({ probeCall: Number.POSITIVE_INFINITY }, totals.noCap);
    }
    // The aim: within 1.1 of the ideal on average, at most one throttled answer per ten calls;
    // without the ceiling it takes longer, without the cap it draws more throttled answers.
    expect(totals.both.ms).toBeLessThanOrEqual(seeds.length * idealMs * 1.1);
    expect(totals.both.throttles).toBeLessThanOrEqual(seeds.length * 50 * 0.1);
    expect(totals.both.ms).toBeLessThan(totals.noCeiling.ms * 0.9);
    expect(totals.both.throttles).toBeLessThan(totals.noCap.throttles * 0.75);
  });

  test("keeps a budget of two calls a second, bucket of one, when a check of 5 to 150 ms comes between each slot and its call", async () => {
    // A batch of ten real-time runs: ten callers, each confirming its claim (a DynamoDB round trip,
    // slower when the ten write at once) between its slot and its call. Each seed three ways: the
    // call waits for its turn after the check and the pacer is told when it went; it goes at once
    // and the pacer is told when it went; it goes at once and the pacer is told the slot.
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
    const idealMs = (50 / 2) * 1000;
    const ways = {
      turn: { turn: true },
      atOnce: { turn: false },
      slotAsSent: { turn: false, slotAsSent: true },
    };
    const totals = Object.fromEntries(Object.keys(ways).map((way) => [way, { ms: 0, throttles: 0 }]));
    for (const seed of seeds) {
      for (const [way, how] of Object.entries(ways)) {
        const { ms, throttles } = await fiftyAtTwo({
          seed,
          workers: 10,
          check: { minMs: 5, maxMs: 150, ...how },
        });
        const total = totals[way] ?? { ms: 0, throttles: 0 };
        total.ms += ms;
        total.throttles += throttles;
      }
    }
    // Waiting for the turn is what keeps the throttled answers down and the time near the ideal;
    // going at once, the pacer learns a rate the early calls spoil, told the slot or not.
    const turn = totals.turn ?? { ms: 0, throttles: 0 };
    expect(turn.ms).toBeLessThanOrEqual(seeds.length * idealMs * 1.15);
    expect(turn.throttles).toBeLessThanOrEqual(seeds.length * 50 * 0.1);
    expect(turn.ms).toBeLessThan((totals.atOnce?.ms ?? 0) * 0.9);
    expect(turn.ms).toBeLessThan((totals.slotAsSent?.ms ?? 0) * 0.9);
    expect(turn.throttles).toBeLessThan(totals.atOnce?.throttles ?? 0);
  });

  test("spaces the calls that wait for their turn by its interval while that is 100 ms or more, and never faster ones", async () => {
    const clock = virtualClock();
    const slow = createPacer({ initialRate: 2, now: clock.now, sleep: clock.sleep });
    const first = await turnOf(slow);
    const second = await turnOf(slow);
    expect(second - first).toBeCloseTo(slow.interval(), 6);
    const fast = createPacer({ initialRate: 40, now: clock.now, sleep: clock.sleep });
    const one = await turnOf(fast);
    expect((await turnOf(fast)) - one).toBe(0);
  });

  test("cuts the rate under the bound a throttle proves when no other call went in the gap", async () => {
    const { clock, pacer, call } = turningCallers();
    const through = await call();
    pacer.onSuccess(through);
    await clock.sleep(300);
    const refused = await call();
    pacer.onThrottle(refused);
    // The bucket refilled less than a token in the 300 ms: the limit is under 3.3 calls a second.
    expect(pacer.stats().rate).toBeLessThanOrEqual(DEFAULT_PACER.underCeiling * (1000 / (refused - through)));
  });

  test("gives no turn, and takes none, that would come a deadline's wait or more away", async () => {
    const clock = virtualClock();
    const pacer = createPacer({ initialRate: 2, now: clock.now, sleep: clock.sleep });
    const first = await turnOf(pacer);
    expect(await pacer.turn(pacer.interval())).toBeUndefined();
    expect(clock.now()).toBe(first);
    // The refused turn took nothing: the next one is still one interval after the first.
    expect(await turnOf(pacer)).toBe(first + pacer.interval());
  });

  test("gives no turn, even one that needs no wait, once the deadline has passed", async () => {
    const clock = virtualClock();
    const pacer = createPacer({ initialRate: 40, now: clock.now, sleep: clock.sleep });
    expect(await pacer.turn(-1)).toBeUndefined();
    expect(await pacer.turn(0)).toBeUndefined();
    expect(await pacer.turn(1)).toBe(clock.now());
  });

  test("takes no bound as proven from a gap longer than two intervals: a pause, or another client, may have emptied the bucket", async () => {
    const { clock, pacer, call } = turningCallers();
    const through = await call();
    pacer.onSuccess(through);
    // Sixty seconds idle, as between batches of a warm function; then a throttle.
    await clock.sleep(60_000);
    const refused = await call();
    pacer.onThrottle(refused);
    // The slow start's cut alone: not the 0.017 calls a second the gap would bound.
    expect(pacer.stats().rate).toBeCloseTo(5 * DEFAULT_PACER.decrease, 6);
  });

  test("leaves the rate to its measurement at 10 calls a second or more, where the bound is about the rate asked", async () => {
    const clock = virtualClock();
    const pacer = createPacer({ initialRate: 40, now: clock.now, sleep: clock.sleep });
    await pacer.acquire();
    const through = await turnOf(pacer);
    pacer.onSuccess(through);
    await clock.sleep(30);
    await pacer.acquire();
    const refused = await turnOf(pacer);
    pacer.onThrottle(refused);
    // Capped, it would be under 0.85 × 33; the slow start's cut leaves it at 0.9 × 40.
    expect(pacer.stats().rate).toBeCloseTo(40 * DEFAULT_PACER.decrease, 6);
  });

  test("takes no bound as proven when another call, still unanswered, went in the gap", async () => {
    const { clock, pacer, call } = turningCallers();
    const through = await call();
    pacer.onSuccess(through);
    await clock.sleep(200);
    const unanswered = await call();
    await clock.sleep(200);
    const refused = await call();
    pacer.onThrottle(refused);
    // The unanswered call may have taken the token: only the slow start's cut applies.
    expect(pacer.stats().rate).toBeCloseTo(5 * DEFAULT_PACER.decrease, 6);
    pacer.onSuccess(unanswered);
  });
});

/** Fifty calls against a budget of two a second, bucket of one, 20 ms round trips: all through, and how. */
async function fiftyAtTwo(
  options: Pick<Parameters<typeof drive>[0], "seed" | "workers" | "check" | "pacer">,
) {
  const { wallMs, service } = await drive({ calls: 50, rate: () => 2, burst: 1, latencyMs: 20, ...options });
  expect(service.successes()).toBe(50);
  return { ms: wallMs, throttles: service.throttles() };
}

/** The moment a turn() without a deadline gives, which is never none. */
async function turnOf(pacer: Pacer): Promise<number> {
  const at = await pacer.turn();
  if (at === undefined) throw new Error("turn() without a deadline gave no moment");
  return at;
}

/** A pacer at 5 calls a second on a virtual clock, and a call that takes a slot and waits for its turn. */
function turningCallers() {
  const clock = virtualClock();
  const pacer = createPacer({ initialRate: 5, now: clock.now, sleep: clock.sleep });
  const call = async () => {
    await pacer.acquire();
    return turnOf(pacer);
  };
  return { clock, pacer, call };
}

/**
 * `calls` successful calls by `workers` (default four) through one pacer; throttled calls go
 * again. `check`: a check between the slot and the call (the sweep's fence), of a random length
 * between its bounds, after which the call waits for its turn (`turn`) or goes at once; the pacer
 * is told when it went, or, with `slotAsSent`, the slot.
 */
async function drive(options: {
  calls: number;
  rate: (at: number) => number;
  latencyMs: number;
  burst?: number;
  seed?: number;
  workers?: number;
  check?: { minMs: number; maxMs: number; turn: boolean; slotAsSent?: boolean };
  pacer?: Omit<PacerOptions, "now" | "sleep">;
}) {
  const time = virtualTime();
  const pacer = createPacer({ ...options.pacer, now: time.now, sleep: time.sleep });
  const service = simulatedService(time, {
    rate: options.rate,
    burst: options.burst ?? 5,
    latencyMs: options.latencyMs,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  });
  const checkRandom = seededRandom((options.seed ?? 1) + 1000);
  const { check } = options;
  let left = options.calls;
  await time.run(() =>
    Promise.all(
      Array.from({ length: options.workers ?? 4 }, async () => {
        while (left > 0) {
          left -= 1;
          for (let attempt = 0; attempt < 20; attempt += 1) {
            let sentAt = await pacer.acquire();
            if (check !== undefined) {
              await time.sleep(check.minMs + checkRandom() * (check.maxMs - check.minMs));
              const went = check.turn ? await turnOf(pacer) : time.now();
              if (!check.slotAsSent) sentAt = went;
            }
            if (await service.call()) {
              pacer.onSuccess(sentAt);
              break;
            }
            pacer.onThrottle(sentAt);
          }
        }
      }),
    ),
  );
  return { wallMs: time.now(), service, pacer };
}

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
