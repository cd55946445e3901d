import { type Sleep, sleep } from "./backoff.js";

/**
 * A client-side rate limiter shared by every concurrent call to one throttled API, which learns
 * the service's rate from its throttling answers.
 *
 * Organizations throttles per account and the janitor shares that budget with other tools, so the
 * rate cannot be configured once: it is found.
 *
 * - Slow start: until the first throttle the rate grows exponentially (`growth` e-folds a second:
 *   from 5 calls a second to 40 in half a second). What a fast start costs is the overshoot at the
 *   first throttle, what the rate grows in one round trip (1.5 times at 100 ms), a few calls; a
 *   slow one leaves the budget unused for as long as it climbs.
 * - Measure: a throttle means the service's token bucket is empty. Between two such moments the
 *   successes are what the service granted, with no burst inflating the count as in a plain
 *   sliding window (only a floor, if the bucket also sat full for a while). Once a span since the
 *   last cut, or since the start of the current episode of throttles, is long enough
 *   (`minSpanMs`, `minSuccesses`; for a budget of a few calls a second, `slowSpanMs` and
 *   `slowSuccesses`), the rate settles at `settle` times the measured rate.
 *   Time in which no caller asked for a slot that was due (the pacer idle: between the bursts of
 *   a real-time queue's batches, say) is left out of the span: the service granted nothing then
 *   because nothing was asked, and counting it would settle the rate far below the limit.
 * - Step down: a throttle too soon to measure anything cuts the rate, once per round trip
 *   (throttles of calls sent before the last cut are answers from the same empty bucket). The cut
 *   is `decrease`, or deeper when few calls got through since the last one: the share that got
 *   through says how far above the limit the rate still is.
 * - Ceiling: a throttle also bounds the rate from above. Whatever the bucket's capacity, a call
 *   refused at t after the last call that got through at s proves the rate below 1 / (t - s): had
 *   the bucket refilled a whole token in between, the call would have gone through (a full
 *   bucket only wastes refill, and a refused call takes nothing). The measurement is a floor when
 *   the pacer asked for less than the limit during part of its span, as it does while it climbs
 *   back, and a bucket of one token keeps nothing of that: at 2 calls a second it measured 1.3 and
 *   took fifteen seconds to probe back to 2. So no throttle cuts the rate below `underCeiling`
 *   times the lowest such bound (though a throttle still cuts by `decrease` at least, and never
 *   raises it), and the quick climb after a cut goes up to that much (before the first
 *   measurement, no higher). The bound comes from send times, not arrival times: over gaps of
 *   half a second a few ms of latency jitter move it by 1 %, and the tens of ms of a check
 *   between acquire() and the call (the sweep's fence) by a few %, inside the margin; at 40 calls
 *   a second the bound is about the rate asked and the measurement decides. A budget may grow,
 *   so the bound loosens as fast as the probe may climb.
 * - Cap: at a few calls a second (an interval of `turnFromMs` or more), a throttle's own bound
 *   caps the rate (at `underCeiling` of it) when none of the pacer's calls but refused ones went
 *   in its gap (all of them through turn(); a call still unanswered there may have taken the
 *   token), the gap is two intervals or less, and the cut no deeper than a half: the budget is
 *   the account's, and another client may have taken the token, which a long gap (a pause
 *   between batches) makes likelier. It takes the rate under the limit at the first throttle
 *   that shows it, not after three cuts. Faster, the bound is about the rate asked, and a cap at
 *   `underCeiling` of it would undercut the measurement.
 * - Turn: a caller that checks something between its slot and its call (the sweep's fence) waits
 *   after the check for its turn, one interval after the call before it, so that a check quicker
 *   than the last does not send its call early: with a bucket of one token at two calls a second,
 *   fifty calls with a check of 5 to 150 ms before each drew 0.26 throttled answers a call and
 *   took 1.37 times the ideal (virtual time, ten callers, eight seeds); waiting for the turn,
 *   0.10 and 1.12. Not below `turnFromMs`: there a check is as long as the interval, only the
 *   bucket's burst can absorb it, and a wait would only slow each caller's round.
 * - Probe: once settled the rate creeps up by `probe` a second, so a budget that grows is found
 *   again at the cost of an occasional throttle, and each throttle measures again; but by no more
 *   than `probeCall` a call, since at a few calls a second 3 % a second from `settle` to the limit
 *   is a throttle every two or three calls. After a cut below the settled rate, a quiet
 *   `minSpanMs` lets it climb back by `recover` a second.
 *
 * Halving on a throttle (AIMD, and the CUBIC of the SDK's adaptive retry mode) leaves a sawtooth
 * that averages well below the limit; measuring what was granted lands next to it.
 */
export interface PacerOptions {
  /** Calls per second to start with. */
  initialRate?: number;
  minRate?: number;
  maxRate?: number;
  /** Slow start: e-folds of the rate per second until the first throttle. */
  growth?: number;
  /** Fraction of the measured granted rate to settle at. */
  settle?: number;
  /** Relative increase per second once settled, above the settled rate. */
  probe?: number;
  /** Relative increase per second back up to the settled rate after a cut below it. */
  recover?: number;
  /**
   * Largest factor applied on a throttle too soon to measure anything; with n calls through since
   * the last cut it is (n + 1) / (n + 2) when that is smaller, and never below a half.
   */
  decrease?: number;
  /** A measurement spans at least this many ms … */
  minSpanMs?: number;
  /** … and this many successes, so that one call more or less moves it by a few percent only. */
  minSuccesses?: number;
  /**
   * A slow budget (a few calls a second) never gives `minSuccesses` in a short span: it is measured
   * over at least `slowSpanMs` with at least `slowSuccesses`, coarser but soon enough to matter.
   */
  slowSpanMs?: number;
  slowSuccesses?: number;
  /** A throttle cuts the rate no lower than this fraction of the ceiling its gaps proved (0: no ceiling). */
  underCeiling?: number;
  /** Largest relative increase of the probe per call through (and of the ceiling's loosening). */
  probeCall?: number;
  /**
   * turn() spaces calls only while the interval is at least this long (ms). Faster, a check's
   * tens of ms are as long as the interval: only the bucket's burst can absorb them, and a wait
   * would only lengthen each caller's round of writes and calls, so fewer calls get made.
   */
  turnFromMs?: number;
  now?: () => number;
  sleep?: Sleep;
}

export interface PacerStats {
  rate: number;
  successes: number;
  throttles: number;
  /** The last measured granted rate (calls per second); undefined before the first measurement. */
  granted?: number;
}

export interface Pacer {
  /**
   * Resolves when the caller may send its next call, with that moment (to hand back to onSuccess
   * or onThrottle); or at once with undefined, taking no slot, when that moment is `maxWaitMs` or more
   * away (a deadline the call would miss).
   */
  acquire(maxWaitMs?: number): Promise<number | undefined>;
  /**
   * A call the service answered without throttling it, whatever the answer. `sentAt`: when it
   * went, as acquire() gave it (or turn(), to a caller that waited for one); without it no
   * throttle can bound the rate from above.
   */
  onSuccess(sentAt?: number): void;
  /** `sentAt`: when the throttled call went, as acquire() or turn() gave it. */
  onThrottle(sentAt?: number): void;
  /**
   * For a caller that checks something between its slot and its call (the sweep's fence, a
   * DynamoDB round trip of a few ms, or of a few hundred under load): waits, after the check,
   * until one interval after the last call that waited here, and resolves with the moment the
   * call may go; or at once with undefined, taking no turn, when that moment is `maxWaitMs` or
   * more away (a deadline the call would miss). The slots are evenly spaced, but a check that
   * took less than the one before would send its call early, and with a bucket of one token a
   * call early by a few ms is throttled. Spaced here, the calls reach the service as evenly as
   * the slots were handed out.
   */
  turn(maxWaitMs?: number): Promise<number | undefined>;
  /**
   * The pacer's clock. A caller that checked something after its slot hands onSuccess and
   * onThrottle this reading, taken as the call goes (turn() gives it), not the slot: the gaps
   * the ceiling reads must be the gaps the service saw.
   */
  now(): number;
  /** Milliseconds between two calls at the current rate. */
  interval(): number;
  stats(): PacerStats;
}

export const DEFAULT_PACER: Required<Omit<PacerOptions, "now" | "sleep">> = {
  initialRate: 5,
  minRate: 0.5,
  maxRate: 500,
  growth: 4,
  settle: 0.97,
  probe: 0.03,
  recover: 0.5,
  decrease: 0.9,
  minSpanMs: 1_000,
  minSuccesses: 20,
  slowSpanMs: 1_500,
  slowSuccesses: 3,
  underCeiling: 0.85,
  probeCall: 0.002,
  turnFromMs: 100,
};

export function createPacer(options: PacerOptions = {}): Pacer {
  const settings = { ...DEFAULT_PACER, ...definedOnly(options) };
  const { minRate, maxRate, growth, settle, probe, recover, decrease, minSpanMs, minSuccesses } = settings;
  const { slowSpanMs, slowSuccesses, underCeiling, probeCall, turnFromMs: turnFrom } = settings;
  const now = options.now ?? (() => performance.now());
  const wait = options.sleep ?? sleep;

  let rate = clamp(settings.initialRate, minRate, maxRate);
  // When the last slot was given. Slots are handed out one at a time at the rate of the moment,
  // not booked ahead: a caller queued behind others gets the rate learnt while it waited.
  let last = Number.NEGATIVE_INFINITY;
  const waiting: ((slot: number) => void)[] = [];
  let pumping = false;
  let slowStart = true;
  let lastGrowth: number | undefined;
  // The last throttle that changed the rate: the bucket was empty then.
  let cut: Mark | undefined;
  let successes = 0;
  let throttles = 0;
  // Milliseconds in all during which a slot was due and no caller asked for it.
  let idle = 0;
  let granted: number | undefined;
  // The cut that opened the current episode of throttles, measured as a whole when no span
  // between two of its cuts is long enough.
  let anchor: Mark | undefined;
  // When the last calls that got through were sent, and the lowest rate a throttle proved too
  // high (loosened since by the probe's pace per call).
  const gotThrough: number[] = [];
  let ceiling: { rate: number; successes: number } | undefined;
  // When the last call that waited for its turn goes (or went); the recent ones, and the recent
  // throttled calls, to know whether any other call could have taken a token within a gap.
  let lastTurn = Number.NEGATIVE_INFINITY;
  const turns: number[] = [];
  const refused: number[] = [];
  // Whether every call answered so far went through turn(), without which no gap is known alone.
  let allTurned = true;

  function grow(at: number): void {
    const seconds = Math.max(0, (at - (lastGrowth ?? at)) / 1000);
    lastGrowth = at;
    // Up to the ceiling's floor, whatever was measured; before any measurement, no higher.
    let target = granted === undefined ? Number.POSITIVE_INFINITY : granted * settle;
    if (ceiling !== undefined && underCeiling > 0)
      target = Math.max(granted === undefined ? 0 : target, ceiling.rate * underCeiling);
    if (slowStart) {
      rate *= Math.exp(growth * seconds);
    } else if (rate < target && at - (cut?.at ?? at) >= minSpanMs) {
      // Quiet for a while below what was granted (or before any measurement, after a throttle that
      // may have been a fluke of timing): climb back quickly.
      rate = Math.min(target, rate * Math.exp(recover * seconds));
    } else {
      rate *= Math.exp(Math.min(probe * seconds, probeCall));
    }
    rate = clamp(rate, minRate, maxRate);
  }

  async function pump(): Promise<void> {
    pumping = true;
    try {
      for (let head = waiting[0]; head !== undefined; head = waiting[0]) {
        const at = now();
        const slot = last + 1000 / rate;
        if (slot > at) {
          // The rate may change during the pause; the loop looks again when it ends.
          await wait(slot - at);
          continue;
        }
        waiting.shift();
        // Timers fire a little late; keeping the cadence makes up for it, but by no more than a
        // quarter slot per call, so two calls never go out back to back. The caller is handed
        // the moment it goes, not the slot: the gaps between calls that onThrottle reads are real.
        last = at - Math.min(at - slot, 250 / rate);
        head(at);
      }
    } finally {
      pumping = false;
    }
  }

  return {
    acquire(maxWaitMs) {
      const at = now();
      const slot = Math.max(at, last + 1000 / rate) + (waiting.length * 1000) / rate;
      if (maxWaitMs !== undefined && slot - at >= maxWaitMs) return Promise.resolve(undefined);
      if (waiting.length === 0 && slot <= at) {
        // Nobody asked since the slot fell due: the pacer sat idle that long.
        if (Number.isFinite(last)) idle += at - (last + 1000 / rate);
        last = at;
        return Promise.resolve(at);
      }
      return new Promise<number>((resolve) => {
        waiting.push(resolve);
        if (!pumping) void pump();
      });
    },
    onSuccess(sentAt) {
      successes += 1;
      if (sentAt === undefined || !turns.includes(sentAt)) allTurned = false;
      if (sentAt !== undefined) {
        gotThrough.push(sentAt);
        if (gotThrough.length > 16) gotThrough.shift();
      }
      grow(now());
    },
    onThrottle(sentAt) {
      const at = now();
      throttles += 1;
      if (sentAt === undefined || !turns.includes(sentAt)) allTurned = false;
      // This throttle's gap, when none of our calls but refused ones went in it (see the cap).
      let aloneGap: number | undefined;
      if (sentAt !== undefined) {
        // The bound needs the last call through before this one; one still unanswered is missed,
        // which makes the gap longer and the bound lower than proven: a smaller floor, never a
        // higher one.
        let before = Number.NEGATIVE_INFINITY;
        for (const slot of gotThrough) if (slot < sentAt && slot > before) before = slot;
        if (Number.isFinite(before)) {
          const bound = 1000 / (sentAt - before);
          // Loosened per call through since; none through, none loosened (and no Infinity × 0
          // when probeCall is unbounded).
          const old =
            ceiling === undefined
              ? Number.POSITIVE_INFINITY
              : successes === ceiling.successes
                ? ceiling.rate
                : ceiling.rate * Math.exp(probeCall * (successes - ceiling.successes));
          ceiling = { rate: Math.min(old, bound), successes };
          // Every call between the two went through turn() and was refused too: none of ours still
          // unanswered can have taken a token in the gap.
          const alone =
            allTurned &&
            turns.every((moment) => moment <= before || moment >= sentAt || refused.includes(moment));
          if (alone) aloneGap = sentAt - before;
        }
        refused.push(sentAt);
        if (refused.length > 16) refused.shift();
      }
      // A call sent before the last cut was answered by the bucket that cut was about.
      if (cut !== undefined && sentAt !== undefined && sentAt <= cut.at) return;
      slowStart = false;
      const asked = rate;
      const busy = (mark: Mark) => at - mark.at - (idle - mark.idle);
      const long = (mark: Mark) => {
        const through = successes - mark.successes;
        return (
          (busy(mark) >= minSpanMs && through >= minSuccesses) ||
          (busy(mark) >= slowSpanMs && through >= slowSuccesses)
        );
      };
      const since = (mark: Mark | undefined) =>
        mark !== undefined && long(mark) ? ((successes - mark.successes) * 1000) / busy(mark) : undefined;
      const measured = Math.max(since(cut) ?? 0, since(anchor) ?? 0);
      if (measured > 0) {
        granted = measured;
        rate = measured * settle;
        anchor = { at, successes, idle };
      } else {
        // Too soon to count: step down and keep the anchor, whose bucket was as empty as this one.
        anchor ??= { at, successes, idle };
        const through = cut === undefined ? undefined : successes - cut.successes;
        rate *=
          through === undefined ? decrease : Math.max(0.5, Math.min(decrease, (through + 1) / (through + 2)));
      }
      // Not below the ceiling's floor; but a throttle always cuts the rate, by `decrease` at least.
      if (ceiling !== undefined && underCeiling > 0)
        rate = Math.max(rate, Math.min(asked * decrease, ceiling.rate * underCeiling));
      // Nor above the bound of a gap none of our calls shared, at a few calls a second. Only a
      // gap of two intervals or less at the rate asked counts, and the cut goes no deeper than a
      // half: the budget is the account's, and another client's call, or a gap that spans a
      // pause, may have emptied the bucket instead. Faster, the bound is about the rate asked,
      // and the measurement decides.
      if (aloneGap !== undefined && underCeiling > 0 && 1000 / asked >= turnFrom && aloneGap <= 2000 / asked)
        rate = Math.min(rate, Math.max(asked * 0.5, (1000 / aloneGap) * underCeiling));
      rate = clamp(rate, minRate, maxRate);
      cut = { at, successes, idle };
      lastGrowth = at;
      // The bucket is empty now: give it a slot's worth of time before the next call.
      last = Math.max(last, at);
    },
    async turn(maxWaitMs) {
      const at = now();
      const go = 1000 / rate < turnFrom ? at : Math.max(at, lastTurn + 1000 / rate);
      if (maxWaitMs !== undefined && go - at >= maxWaitMs) return undefined;
      lastTurn = go;
      if (go > at) await wait(go - at);
      const went = now();
      turns.push(went);
      if (turns.length > 16) turns.shift();
      return went;
    },
    now,
    interval() {
      return 1000 / rate;
    },
    stats() {
      return { rate, successes, throttles, ...(granted !== undefined ? { granted } : {}) };
    },
  };
}

interface Mark {
  at: number;
  successes: number;
  /** The pacer's idle time in all at that moment. */
  idle: number;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
