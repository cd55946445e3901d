import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import { JanitorError } from "../domain/errors.js";

/**
 * The one classification of AWS call failures, for every adapter (Organizations, the audit store,
 * SNS): the SDK's own (@smithy's service-error-classification: throttling names and 429, timeouts,
 * 5xx, Node's network codes) plus the few names each service models that it does not know.
 * Only this module looks at SDK error names to decide on a retry.
 */

/** Throttling the services model under names the SDK's list lacks. */
const THROTTLED = new Set(["KMSThrottlingException"]);

/** Server-side faults and conflicts that a later attempt can get past. */
const TRANSIENT = new Set([
  // Organizations
  "ConcurrentModificationException",
  "ServiceException",
  // DynamoDB, SNS and the generic AWS query errors
  "InternalServerError",
  "InternalErrorException",
  "InternalFailure",
  "ServiceUnavailable",
]);

/** Dropped connections the SDK's network list leaves out. */
const NETWORK_CODES = new Set(["ECONNABORTED"]);

/** The SDK's error shape as its classification reads it, and Node's system error code. */
type Shaped = Parameters<typeof isTransientError>[0] & Error & { code?: unknown };

/** An error of the SDK or the network; our own errors are decisions, never retried. */
function sdkError(error: unknown): Shaped | undefined {
  if (!(error instanceof Error) || error instanceof JanitorError) return undefined;
  return error as Shaped;
}

/** The error's name, or its Node system code (ECONNRESET …) when it has one. */
export function errorName(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (typeof code === "string" && code.startsWith("E")) return code;
  return typeof name === "string" ? name : "Error";
}

/** The HTTP status of the service's answer; undefined when no answer came. */
export function httpStatus(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return metadata?.httpStatusCode;
}

/** The service said to slow down. */
export function isThrottle(error: unknown): boolean {
  const shaped = sdkError(error);
  if (shaped === undefined) return false;
  return isThrottlingError(shaped) || THROTTLED.has(shaped.name);
}

/** Throttling, server faults, timeouts and dropped connections: worth another try. Nothing else is. */
export function isRetryable(error: unknown): boolean {
  const shaped = sdkError(error);
  if (shaped === undefined) return false;
  if (isThrottle(shaped) || TRANSIENT.has(shaped.name)) return true;
  if (typeof shaped.code === "string" && NETWORK_CODES.has(shaped.code)) return true;
  return isTransientError(shaped) || isServerError(shaped);
}

/**
 * A retryable failure after which the request may still have been carried out: the answer, not
 * the request, may be what was lost. A throttle or a conflict was refused before anything was done.
 */
export function isAmbiguous(error: unknown): boolean {
  if (isThrottle(error) || errorName(error) === "ConcurrentModificationException") return false;
  return isRetryable(error);
}
