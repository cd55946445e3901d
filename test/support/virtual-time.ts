import { seededRandom } from "../../devtools/org-emulator/index.js";

/**
 * Virtual time for code that takes `now` and `sleep`: sleeping parks the caller until the
 * scheduler moves the clock to its wake-up time. Concurrent callers interleave exactly as they
 * would in real time, only without waiting, so a minute of pacing is checked in milliseconds.
 */
export interface VirtualTime {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Runs `main` to completion, moving the clock from one wake-up to the next. */
  run<T>(main: () => Promise<T>): Promise<T>;
}

/** Wake-ups before `run` gives up: a guard against code that sleeps forever in a loop. */
const MAX_STEPS = 5_000_000;

export function virtualTime(): VirtualTime {
  let now = 0;
  let order = 0;
  const timers: { at: number; order: number; wake: () => void }[] = [];
  return {
    now: () => now,
    sleep(ms) {
      return new Promise((wake) => {
        timers.push({ at: now + Math.max(0, ms), order: order++, wake });
      });
    },
    async run(main) {
      let settled = false;
      const result = main().finally(() => {
        settled = true;
      });
      result.catch(() => {});
      for (let step = 0; step < MAX_STEPS; step += 1) {
        // Let every promise chain that can move without the clock do so first.
        await new Promise((resolve) => setImmediate(resolve));
        if (settled) return result;
        timers.sort((a, b) => a.at - b.at || a.order - b.order);
        const next = timers.shift();
        if (next === undefined) throw new Error("virtual time: nothing left to wake, but main has not ended");
        now = next.at;
        next.wake();
      }
      throw new Error(`virtual time: more than ${MAX_STEPS} wake-ups`);
    },
  };
}

export interface SimulatedService {
  /** One call: a round trip of `latencyMs` (jittered), answered by the token bucket on arrival. */
  call(): Promise<boolean>;
  successes(): number;
  throttles(): number;
}

/**
 * A throttled service as the emulator models one: a token bucket of `burst` tokens refilled at
 * `rate(nowMs)` per second, checked halfway through each round trip.
 */
export function simulatedService(
  clock: VirtualTime,
  options: { rate: (at: number) => number; burst: number; latencyMs: number; seed?: number },
): SimulatedService {
  const random = seededRandom(options.seed ?? 1);
  let tokens = options.burst;
  let refilledAt = 0;
  let successes = 0;
  let throttles = 0;
  return {
    async call() {
      const half = (options.latencyMs * (0.75 + random() / 2)) / 2;
      await clock.sleep(half);
      const at = clock.now();
      tokens = Math.min(options.burst, tokens + ((at - refilledAt) / 1000) * options.rate(at));
      refilledAt = at;
      const granted = tokens >= 1;
      if (granted) tokens -= 1;
      await clock.sleep(half);
      if (granted) successes += 1;
      else throttles += 1;
      return granted;
    },
    successes: () => successes,
    throttles: () => throttles,
  };
}
