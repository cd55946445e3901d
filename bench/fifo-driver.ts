/**
 * The queued variant's consumer (bench/scenarios/realtime.ts): one process that imports the built
 * realtime handler once and hands it the queued messages through devtools/fifo-delivery.ts, the
 * local stand-in for Lambda's SQS event source mapping over a FIFO queue of one message group (one
 * batch of up to ten at a time, the next after the previous returned). It is not SQS.
 *
 * The scenario bundles it with esbuild and runs it by plain node, as the other variants' processes
 * start: `node fifo-driver.mjs BUNDLE MESSAGES.json burst|single`: `burst` delivers
 * every message as one queue holds them; `single` delivers each alone, as events that arrive
 * while the consumer is idle. Prints one `DELIVERED {json}` line.
 */
import { readFileSync } from "node:fs";
import { deliverFifo, type FifoDeliveryResult, type QueuedMessage } from "../devtools/fifo-delivery.js";

const [bundle = "", file = "", mode = "burst"] = process.argv.slice(2);
const { handler } = (await import(bundle)) as {
  handler: (event: unknown, context: unknown) => Promise<unknown>;
};
const messages = JSON.parse(readFileSync(file, "utf8")) as QueuedMessage[];

let invocation = 0;
const invoke = (event: unknown) => {
  invocation += 1;
  return handler(event, {
    awsRequestId: `bench-fifo-${process.pid}-${invocation}`,
    functionName: "handshake-janitor-bench-realtime",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:bench",
    memoryLimitInMB: "512",
    logGroupName: "/aws/lambda/bench",
    logStreamName: "bench",
    callbackWaitsForEmptyEventLoop: false,
    // The function's timeout in serverless.yml.
    getRemainingTimeInMillis: () => 30_000,
    done() {},
    fail() {},
    succeed() {},
  });
};

const result: FifoDeliveryResult = { deliveries: [], deadLettered: [] };
const rounds = mode === "single" ? messages.map((m) => [m]) : [messages];
for (const round of rounds) {
  const delivered = await deliverFifo(round, invoke);
  result.deliveries.push(...delivered.deliveries);
  result.deadLettered.push(...delivered.deadLettered);
}
process.stdout.write(`DELIVERED ${JSON.stringify(result)}\n`);
