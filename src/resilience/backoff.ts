import { describeError, JanitorError } from "../domain/errors.js";

/**
 * The one retry mechanism of the project. SDK clients are built with maxAttempts: 1, so every
 * retry of an AWS call happens here, visible, bounded in attempts and in time.
 */
export interface BackoffPolicy {
  /** First delay ceiling; doubles per attempt. */
  baseMs: number;
  /** No single delay exceeds this. */
  capMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 5_000, maxAttempts: 8 };

export type Sleep = (ms: number) => Promise<void>;
export const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** "Full jitter": uniform in [0, min(cap, base * 2^attempt)), so retrying clients spread out. */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

export interface RetryOptions {
  policy?: BackoffPolicy;
  isRetryable: (error: unknown) => boolean;
  /** Epoch ms; no attempt starts after it, and no delay runs past it. */
  deadline?: number;
  now?: () => number;
  sleep?: Sleep;
  random?: () => number;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /**
   * The pause before the attempt after `attempt` (0-based) failed with `error`; default
   * backoffDelay(attempt, policy, random). Lets a caller scale the pause to what it knows, such as
   * a pacer's interval after a throttle.
   */
  delay?: (error: unknown, attempt: number) => number;
}

export class RetriesExhaustedError extends JanitorError {
  readonly attempts: number;
  readonly reason: "attempts" | "deadline";
  constructor(cause: unknown, attempts: number, reason: "attempts" | "deadline") {
    super(`gave up after ${attempts} attempt(s) (${reason}): ${describeError(cause)}`, { cause });
    this.name = "RetriesExhaustedError";
    this.attempts = attempts;
    this.reason = reason;
  }
}

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error (rethrown as is), or runs out of
 * attempts or time (RetriesExhaustedError with the last error as cause).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const policy = options.policy ?? DEFAULT_BACKOFF;
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (!options.isRetryable(error)) throw error;
      const attempts = attempt + 1;
      if (attempts >= policy.maxAttempts) throw new RetriesExhaustedError(error, attempts, "attempts");
      const delay = options.delay
        ? options.delay(error, attempt)
        : backoffDelay(attempt, policy, options.random);
      if (options.deadline !== undefined && now() + delay >= options.deadline) {
        throw new RetriesExhaustedError(error, attempts, "deadline");
      }
      options.onRetry?.(error, attempts, delay);
      await wait(delay);
    }
  }
}
