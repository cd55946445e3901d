/**
 * The emulator's misbehaviour on purpose, the ways the real service misbehaves: a token bucket
 * per operation (TooManyRequestsException), empty and short list pages, random
 * ConcurrentModificationException, ServiceException and connection resets, a target accepting
 * just before the janitor's cancel, and latency. It holds its own state (buckets, list-call
 * count, pending accepts) and its own seeded random stream; the server and the handshake service
 * ask it what to do and it answers.
 */
import { setTimeout as delay } from "node:timers/promises";
import { OPERATION_ERRORS, type OperationName, WireError } from "./model.js";

export interface TokenBucket {
  /** Tokens added per second; 0 means the burst is all there is. */
  ratePerSecond: number;
  /** Bucket size and initial content; 0 throttles every call. */
  burst: number;
}

export interface EmulatorFaults {
  /** Token bucket per operation; operations without one are never throttled. */
  throttle?: Partial<Record<OperationName, TokenBucket>>;
  /** Most items a list page holds, whatever MaxResults asks for. */
  pageSize?: number;
  /** Every Nth list call (N >= 2) answers an empty page that still carries a NextToken. */
  emptyPageEvery?: number;
  /** List pages hold a random 1..limit items instead of limit. */
  shortPages?: boolean;
  /** Probability (0..1) per call of ConcurrentModificationException. */
  concurrentModificationRate?: number;
  /** Probability (0..1) per call of ServiceException (HTTP 500). */
  serviceExceptionRate?: number;
  /** Probability (0..1) per call that the socket is destroyed without an answer. */
  resetConnectionRate?: number;
  /** Operations the three rates above apply to; default ListHandshakesForOrganization and CancelHandshake. */
  faultOperations?: readonly OperationName[];
  /**
   * Handshakes the target accepts just before the first CancelHandshake for them arrives, as
   * when an invitee clicks "accept" between the janitor's list and its cancel.
   */
  acceptBeforeCancel?: readonly string[];
  /** Delay before every answer. */
  latencyMs?: number;
}

const THROTTLE_MESSAGE =
  "AWS Organizations can't complete your request because another request is already in progress. Try again later.";
/**
 * The model types TooManyRequestsException.Type as a free string with no enum and AWS does not
 * document its values, so this one is the emulator's choice.
 */
const THROTTLE_TYPE = "RequestRateExceeded";
const DEFAULT_FAULT_OPERATIONS: readonly OperationName[] = [
  "ListHandshakesForOrganization",
  "CancelHandshake",
];

/** What a list call may hold: at most `limit` items, or none at all when `empty`. */
export interface ListPageFaults {
  limit: number;
  empty: boolean;
}

export interface FaultInjector {
  /** Replaces the faults; token buckets, the empty-page count and acceptBeforeCancel start over. */
  set(faults: EmulatorFaults): void;
  /** Waits the configured latency; rejects when `signal` aborts. */
  latency(signal: AbortSignal): Promise<void>;
  /**
   * Decides the fate of a call before it runs: "reset" when the connection is to be dropped,
   * a thrown WireError (throttled, ConcurrentModification, ServiceException), else undefined.
   */
  beforeOperation(operation: OperationName): "reset" | undefined;
  /** Counts a list call and says how many items its page may hold (`requested` at most). */
  listPage(requested: number): ListPageFaults;
  /** True once for each handshake the target accepts just before its first cancel. */
  acceptsBeforeCancel(id: string): boolean;
}

/**
 * `random` decides the per-call faults; `pageRandom` the short pages' sizes. The caller passes
 * the page stream because the handshake service draws its NextToken nonces from it as well.
 */
export function createFaultInjector(dependencies: {
  random: () => number;
  pageRandom: () => number;
  /** Monotonic milliseconds for the token buckets. */
  clock: () => number;
}): FaultInjector {
  const { random, pageRandom, clock } = dependencies;
  let faults: EmulatorFaults = {};
  let buckets = new Map<string, { tokens: number; at: number }>();
  let listCalls = 0;
  let acceptPending = new Set<string>();

  function takeToken(operation: OperationName): boolean {
    const config = faults.throttle?.[operation];
    if (config === undefined) return true;
    const at = clock();
    const bucket = buckets.get(operation) ?? { tokens: config.burst, at };
    bucket.tokens = Math.min(config.burst, bucket.tokens + ((at - bucket.at) / 1000) * config.ratePerSecond);
    bucket.at = at;
    buckets.set(operation, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  return {
    set(next) {
      const problems = faultProblems(next);
      if (problems.length > 0) throw new RangeError(problems.join("\n"));
      faults = structuredClone(next);
      buckets = new Map();
      listCalls = 0;
      acceptPending = new Set(next.acceptBeforeCancel ?? []);
    },
    async latency(signal) {
      if (faults.latencyMs !== undefined && faults.latencyMs > 0) {
        await delay(faults.latencyMs, undefined, { signal });
      }
    },
    beforeOperation(operation) {
      const faulty = (faults.faultOperations ?? DEFAULT_FAULT_OPERATIONS).includes(operation);
      // Always draw the same numbers per call so the fault sequence does not depend on timing.
      const draws = faulty ? [random(), random(), random()] : [1, 1, 1];
      if ((draws[0] ?? 1) < (faults.resetConnectionRate ?? 0)) return "reset";
      if (!takeToken(operation)) {
        throw new WireError("TooManyRequestsException", THROTTLE_MESSAGE, { Type: THROTTLE_TYPE });
      }
      if ((draws[1] ?? 1) < (faults.concurrentModificationRate ?? 0)) {
        throw new WireError(
          "ConcurrentModificationException",
          "The target of the operation is currently being modified by a different request. Try again later.",
        );
      }
      if ((draws[2] ?? 1) < (faults.serviceExceptionRate ?? 0)) {
        throw new WireError(
          "ServiceException",
          "AWS Organizations can't complete your request because of an internal service error. Try again later.",
        );
      }
      return undefined;
    },
    listPage(requested) {
      listCalls += 1;
      let limit = Math.min(requested, faults.pageSize ?? Infinity);
      if (faults.shortPages === true) limit = 1 + Math.floor(pageRandom() * limit);
      const empty = faults.emptyPageEvery !== undefined && listCalls % faults.emptyPageEvery === 0;
      return { limit, empty };
    },
    acceptsBeforeCancel(id) {
      return acceptPending.delete(id);
    },
  };
}

/** One line per problem, naming the field; empty when the faults are usable. */
export function faultProblems(faults: EmulatorFaults): string[] {
  const problems: string[] = [];
  const rate = (name: keyof EmulatorFaults) => {
    const value = faults[name];
    if (value !== undefined && (typeof value !== "number" || !(value >= 0 && value <= 1))) {
      problems.push(`faults.${name}: must be a number in 0..1`);
    }
  };
  rate("concurrentModificationRate");
  rate("serviceExceptionRate");
  rate("resetConnectionRate");
  if (faults.pageSize !== undefined && !(Number.isInteger(faults.pageSize) && faults.pageSize >= 1)) {
    problems.push("faults.pageSize: must be an integer >= 1");
  }
  // Every call empty would never make progress.
  if (
    faults.emptyPageEvery !== undefined &&
    !(Number.isInteger(faults.emptyPageEvery) && faults.emptyPageEvery >= 2)
  ) {
    problems.push("faults.emptyPageEvery: must be an integer >= 2");
  }
  if (faults.latencyMs !== undefined && !(faults.latencyMs >= 0)) {
    problems.push("faults.latencyMs: must be >= 0");
  }
  for (const [operation, bucket] of Object.entries(faults.throttle ?? {})) {
    if (!Object.hasOwn(OPERATION_ERRORS, operation)) {
      problems.push(`faults.throttle.${operation}: unknown operation`);
    }
    if (bucket === undefined) continue;
    if (!(bucket.ratePerSecond >= 0)) {
      problems.push(`faults.throttle.${operation}.ratePerSecond: must be >= 0`);
    }
    if (!(bucket.burst >= 0)) problems.push(`faults.throttle.${operation}.burst: must be >= 0`);
  }
  for (const operation of faults.faultOperations ?? []) {
    if (!Object.hasOwn(OPERATION_ERRORS, operation)) {
      problems.push(`faults.faultOperations: unknown operation ${operation}`);
    }
  }
  return problems;
}
