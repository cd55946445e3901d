import { type Sleep, sleep } from "./backoff.js";

/**
 * A client-side rate limiter shared by every concurrent call to one throttled API, which learns
 * the service's rate from its throttling answers.
 *
 * Organizations throttles per account and the janitor shares that budget with other tools, so the
 * rate cannot be configured once: it is found. Until the first throttle the rate doubles every
 * second (slow start). A throttle sets the rate just under the success rate measured over the last
 * window (what the service actually granted), rather than halving it as plain AIMD does, which
 * would leave a sawtooth averaging well below the limit. After that the rate creeps up slowly, so a
 * budget that grows is found again at the cost of an occasional throttle.
 */
export interface PacerOptions {
  /** Calls per second to start with. */
  initialRate?: number;
  minRate?: number;
  maxRate?: number;
  /** Fraction of the measured rate to settle at after a throttle. */
  settle?: number;
  /** Relative increase per second after the first throttle. */
  probe?: number;
  /** Window over which the granted rate is measured, in ms. */
  windowMs?: number;
  now?: () => number;
  sleep?: Sleep;
}

export interface PacerStats {
  rate: number;
  successes: number;
  throttles: number;
}

export interface Pacer {
  /** Resolves when the caller may send its next call. */
  acquire(): Promise<void>;
  onSuccess(): void;
  onThrottle(): void;
  stats(): PacerStats;
}

export function createPacer(options: PacerOptions = {}): Pacer {
  const now = options.now ?? (() => performance.now());
  const wait = options.sleep ?? sleep;
  const minRate = options.minRate ?? 0.5;
  const maxRate = options.maxRate ?? 200;
  const settle = options.settle ?? 0.97;
  const probe = options.probe ?? 0.03;
  const windowMs = options.windowMs ?? 2_000;

  let rate = clamp(options.initialRate ?? 4, minRate, maxRate);
  let next = 0;
  let slowStart = true;
  let lastGrowth = now();
  let lastCut = Number.NEGATIVE_INFINITY;
  let successes = 0;
  let throttles = 0;
  // Times of recent successes, oldest first; trimmed to the window, so bounded by rate * window.
  const recent: number[] = [];

  function grow(at: number): void {
    const seconds = (at - lastGrowth) / 1000;
    lastGrowth = at;
    const factor = slowStart ? 1 + seconds : 1 + probe * seconds;
    rate = clamp(rate * factor, minRate, maxRate);
  }

  function trim(at: number): void {
    while (recent.length > 0 && (recent[0] ?? at) <= at - windowMs) recent.shift();
  }

  return {
    async acquire() {
      const at = now();
      const slot = Math.max(at, next);
      next = slot + 1000 / rate;
      if (slot > at) await wait(slot - at);
    },
    onSuccess() {
      const at = now();
      successes += 1;
      recent.push(at);
      trim(at);
      grow(at);
    },
    onThrottle() {
      const at = now();
      throttles += 1;
      trim(at);
      // Calls already in flight when the first throttle came back are answered by the same
      // empty bucket: one cut per round trip, not one per rejected call.
      if (at - lastCut < 1000 / rate) return;
      lastCut = at;
      slowStart = false;
      const span = Math.min(windowMs, at - (recent[0] ?? at));
      const granted = recent.length >= 3 && span > 0 ? (recent.length - 1) / (span / 1000) : rate / 2;
      rate = clamp(Math.min(rate, granted) * settle, minRate, maxRate);
      lastGrowth = at;
      // Let the bucket refill a little before the next call.
      next = Math.max(next, at + 1000 / rate);
    },
    stats() {
      return { rate, successes, throttles };
    },
  };
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
