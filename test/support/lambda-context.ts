import type { Context } from "aws-lambda";

let invocation = 0;

/** A Lambda context as the runtime passes it; each call is a new invocation with its own request id. */
export function lambdaContext(remainingMs = 300_000): Context {
  invocation += 1;
  return {
    awsRequestId: `req-${invocation}-${Date.now()}`,
    functionName: "handshake-janitor-test-sweep",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:handshake-janitor-test-sweep",
    memoryLimitInMB: "512",
    logGroupName: "/aws/lambda/handshake-janitor-test-sweep",
    logStreamName: "test",
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
