/**
 * Fencing (docs/fencing.md). CancelHandshake takes no fencing token, so the rule lives here:
 * immediately before each CancelHandshake attempt, the holder confirms with one conditional write
 * that the handshake's claim is still its own with at least M left (and, for a sweep, that the
 * organization's lease is still its run's with at least M left). The confirmation lasts M: an
 * attempt starts only while the rest of M still covers the longest one attempt may take, and
 * nobody takes the claim over until it has lapsed by more than M. A refusal means no call.
 */

import { describeError, JanitorError } from "../domain/errors.js";
import { attemptBoundMs, DEFAULT_FENCING } from "../fencing-settings.js";
import type { FenceAnswer, FenceStore } from "../ports/fence.js";

/** The margin and the bound on one attempt, in milliseconds. */
export interface FenceTiming {
  marginMs: number;
  attemptMs: number;
}

export const DEFAULT_FENCE_TIMING: FenceTiming = {
  marginMs: DEFAULT_FENCING.marginMs,
  attemptMs: attemptBoundMs(DEFAULT_FENCING),
};

/** Why the holder may not make another attempt; `lost`: its claim or lease is someone else's now. */
export interface FenceRefusal {
  reason: string;
  lost: boolean;
}

/** The adapter's signal that the fence refused an attempt: no call was made for it. */
export class FenceRefusedError extends JanitorError {
  constructor(readonly refusal: FenceRefusal) {
    super(refusal.reason);
  }
}

/**
 * An attempt's answer was lost and the fence refused the next attempt: whether the handshake was
 * canceled is unknown to the adapter. The sweep looks the handshake up (src/sweep/cancel-fence.ts).
 */
export class FencedOutcomeUnknownError extends JanitorError {
  constructor(
    message: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A holder's fence over one handshake: checked before each attempt, remembering why it refused. */
export interface Fence {
  /**
   * Confirms before an attempt; false means the attempt must not be sent. Never throws. `turn`
   * (the adapter's spacing of its calls) is awaited once confirmed, before the confirmation's age
   * is checked, so that an attempt never starts later than the margin allows, wait included.
   */
  beforeAttempt(turn?: () => Promise<boolean>): Promise<boolean>;
  /** Why the last check refused; undefined while every check confirmed. */
  refusal(): FenceRefusal | undefined;
  /** The end of the latest confirmation (epoch ms): an answer after it may come from outside the claim. */
  confirmedUntil(): number | undefined;
}

export interface FenceOptions {
  store: FenceStore;
  handshakeId: string;
  holder: string;
  leaseRunId?: string;
  timing: FenceTiming;
  /** Epoch ms. */
  now: () => number;
  /** A run-wide reason to start no more attempts (a fence of the same run found its lease lost). */
  stopped?: () => string | undefined;
}

export function createFence(options: FenceOptions): Fence {
  const { store, handshakeId, holder, timing, now } = options;
  let refused: FenceRefusal | undefined;
  let until: number | undefined;
  const refuse = (refusal: FenceRefusal) => {
    refused = refusal;
    return false;
  };
  return {
    async beforeAttempt(turn) {
      const stop = options.stopped?.();
      if (stop !== undefined) return refuse({ reason: stop, lost: true });
      const at = now();
      let answer: FenceAnswer;
      try {
        answer = await store.confirmClaim({
          handshakeId,
          holder,
          ...(options.leaseRunId === undefined ? {} : { leaseRunId: options.leaseRunId }),
          at,
          marginMs: timing.marginMs,
        });
      } catch (error) {
        // Unsure whether the claim holds: no call.
        return refuse({ reason: `its claim could not be confirmed (${describeError(error)})`, lost: false });
      }
      if (!answer.confirmed) {
        return refuse({
          reason: `${answer.lost === "lease" ? "the lease" : "its claim"} was lost: ${answer.detail}`,
          lost: true,
        });
      }
      if (turn !== undefined && !(await turn())) {
        return refuse({ reason: "its call's turn would have come after the run's deadline", lost: false });
      }
      // The confirmation lasts M from `at`; an attempt started later than M minus one attempt's
      // bound could end after it. A confirmation this slow (a stall, a retried write, a long
      // wait for the call's turn) is not used.
      const latest = at + timing.marginMs - timing.attemptMs;
      const answered = now();
      if (answered > latest) {
        return refuse({
          reason: `its claim was confirmed too late to act on (${answered - at} ms after asking, more than the ${timing.marginMs - timing.attemptMs} ms the fencing margin leaves)`,
          lost: false,
        });
      }
      until = at + timing.marginMs;
      refused = undefined;
      return true;
    },
    refusal: () => refused,
    confirmedUntil: () => until,
  };
}

/**
 * Run-wide: once a fence finds the claim or lease lost, the run starts no further cancellation.
 * Kept beside the run's state rather than on it, keyed by the run's state object.
 */
const stops = new WeakMap<object, string>();

export function stopCancelling(run: object, reason: string): void {
  if (!stops.has(run)) stops.set(run, reason);
}

export function cancellingStopped(run: object): string | undefined {
  return stops.get(run);
}
