import { describe, expect, test } from "vitest";
import { isRetryableDynamoDbError } from "../../src/aws/audit/index.js";
import { isAmbiguous, isRetryable, isThrottle } from "../../src/aws/errors.js";
import { isRetryableSnsError } from "../../src/aws/sns.js";
import { AuditWriteError, JanitorError } from "../../src/domain/errors.js";
import { RetriesExhaustedError } from "../../src/resilience/backoff.js";

function sdkError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, ...extra });
}
const answered = (status: number) => ({ $metadata: { httpStatusCode: status } });

describe("one classification of AWS failures", () => {
  test.each([
    // name, error, throttle, retryable, ambiguous
    [
      "Organizations' TooManyRequestsException",
      sdkError("TooManyRequestsException", answered(400)),
      true,
      true,
      false,
    ],
    [
      "DynamoDB's ProvisionedThroughputExceededException",
      sdkError("ProvisionedThroughputExceededException"),
      true,
      true,
      false,
    ],
    ["SNS's ThrottledException", sdkError("ThrottledException"), true, true, false],
    ["SNS's KMSThrottlingException", sdkError("KMSThrottlingException"), true, true, false],
    ["any 429", sdkError("Unknown", answered(429)), true, true, false],
    [
      "Organizations' ConcurrentModificationException",
      sdkError("ConcurrentModificationException", answered(400)),
      false,
      true,
      false,
    ],
    ["Organizations' ServiceException", sdkError("ServiceException", answered(500)), false, true, true],
    ["DynamoDB's InternalServerError", sdkError("InternalServerError"), false, true, true],
    ["SNS's InternalErrorException", sdkError("InternalErrorException"), false, true, true],
    ["an unmodeled 503", sdkError("Unknown", answered(503)), false, true, true],
    ["an unmodeled 501", sdkError("Unknown", answered(501)), false, true, true],
    ["a request timeout", sdkError("TimeoutError"), false, true, true],
    ["a reset connection", sdkError("Error", { code: "ECONNRESET" }), false, true, true],
    ["an aborted connection", sdkError("Error", { code: "ECONNABORTED" }), false, true, true],
    ["an unreachable host", sdkError("Error", { code: "EHOSTUNREACH" }), false, true, true],
    ["a failed condition", sdkError("ConditionalCheckFailedException", answered(400)), false, false, false],
    ["a validation error", sdkError("ValidationException", answered(400)), false, false, false],
    ["access denied", sdkError("AccessDeniedException", answered(403)), false, false, false],
    [
      "a handshake in another state",
      sdkError("HandshakeAlreadyInStateException", answered(400)),
      false,
      false,
      false,
    ],
    ["a missing table", sdkError("ResourceNotFoundException", answered(400)), false, false, false],
    ["an abort", sdkError("AbortError"), false, false, false],
    ["our own error", new JanitorError("nothing canceled"), false, false, false],
    [
      "our own error about a timeout",
      new AuditWriteError("write failed", { cause: sdkError("TimeoutError") }),
      false,
      false,
      false,
    ],
    [
      "retries already exhausted",
      new RetriesExhaustedError(sdkError("TimeoutError"), 8, "attempts"),
      false,
      false,
      false,
    ],
    ["a non-error", "throttled", false, false, false],
  ])("%s: throttle %s, retryable %s, ambiguous %s", (_label, error, throttle, retryable, ambiguous) => {
    expect([isThrottle(error), isRetryable(error), isAmbiguous(error)]).toEqual([
      throttle,
      retryable,
      ambiguous,
    ]);
  });

  test("the audit store and the notifier classify as the Organizations adapter does", () => {
    const cases = [
      sdkError("TooManyRequestsException"),
      sdkError("ServiceException"),
      sdkError("ThrottledException"),
      sdkError("Error", { code: "ECONNABORTED" }),
      sdkError("ValidationException", answered(400)),
    ];
    for (const error of cases) {
      expect(isRetryableDynamoDbError(error)).toBe(isRetryable(error));
      expect(isRetryableSnsError(error)).toBe(isRetryable(error));
    }
  });
});
