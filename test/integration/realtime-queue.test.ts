import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import { deliverFifo, queuedMessage, sqsBatchEvent } from "../../devtools/fifo-delivery.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { createRealtimeLambdaHandler } from "../../src/handlers/realtime.js";
import { type InvitingStack, startInvitingStack } from "../support/invitations.js";
import { lambdaContext } from "../support/lambda-context.js";
import { localDynamoDbClient, type Stack, stackEnv } from "../support/stack.js";

/**
 * The real-time function fed by its FIFO queue: batches of the queue's records, as Lambda's SQS
 * event source mapping hands them over (devtools/fifo-delivery.ts stands in for it; it is not
 * SQS), judged through the real SDK clients against the emulator and DynamoDB Local.
 */
let local: InvitingStack;
let stack: Stack;
let table: string;

beforeAll(async () => {
  local = await startInvitingStack("AKIALOCALQUEUE");
  ({ stack, table } = local);
}, 60_000);
afterAll(async () => {
  await local?.stop();
});
afterEach(() => {
  stack.org.setFaults({});
  vi.restoreAllMocks();
});

const handler = () =>
  createRealtimeLambdaHandler({
    ...stackEnv(stack.org, stack.db, table),
    JANITOR_CONFIG: DEMO_CONFIG,
    POWERTOOLS_LOG_LEVEL: "INFO",
  });

const store = () => createAuditStore({ client: localDynamoDbClient(stack.db.endpoint), tableName: table });

const invite = (kind: "forbidden" | "allowed") => local.invite(kind);

const stateOf = (id: string) => stack.org.handshakes().find((h) => h.Id === id)?.State;

async function outcomesOf(id: string): Promise<string[]> {
  const outcomes: string[] = [];
  for await (const item of store().queryActions({ handshakeId: id })) outcomes.push(item.outcome ?? "none");
  return outcomes;
}

/** What the handler logs, one JSON object a line, while `act` runs. */
async function logged<T>(act: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  // Powertools writes errors and warnings to stderr, the rest to stdout.
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    vi.spyOn(stream, "write").mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      for (const line of text.split("\n")) if (line.startsWith("{")) lines.push(JSON.parse(line));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write);
  }
  const result = await act();
  vi.restoreAllMocks();
  return { result, lines };
}

describe("a batch from the real-time queue", () => {
  test("cancels what the rules select through one pacer, drawing fewer throttles than the same burst as separate invocations", async () => {
    const kinds = Array.from({ length: 10 }, (_, i): "allowed" | "forbidden" =>
      i % 4 === 3 ? "allowed" : "forbidden",
    );
    const invited = [];
    for (const kind of kinds) invited.push({ kind, ...(await invite(kind)) });
    const control = [];
    for (const kind of kinds) if (kind === "forbidden") control.push(await invite(kind));
    // A bucket of one token, refilled below what the separate invocations' pacers start at
    // together (the bench measures the same at two a second: npm run bench -- realtime).
    const limit = { throttle: { CancelHandshake: { ratePerSecond: 5, burst: 1 } } };
    const throttled = () => stack.org.stats().CancelHandshake?.errors.TooManyRequestsException ?? 0;

    stack.org.setFaults(limit);
    stack.org.resetStats();
    const delivered = await deliverFifo(
      invited.map((i, n) => queuedMessage(i.event, `m-paced-${n}`)),
      (batch) => handler()(batch, lambdaContext(60_000)),
    );
    const batchThrottles = throttled();
    // The same number of cancels, each event its own invocation with its own pacer, all at once.
    stack.org.setFaults(limit);
    stack.org.resetStats();
    await Promise.all(control.map(({ event }) => handler()(event, lambdaContext(60_000))));
    const separateThrottles = throttled();

    expect(delivered.deliveries.map((d) => [d.messageIds.length, d.failed])).toEqual([[10, []]]);
    for (const { id, kind } of invited) {
      expect(stateOf(id)).toBe(kind === "forbidden" ? "CANCELED" : "OPEN");
      expect(await outcomesOf(id)).toEqual(kind === "forbidden" ? ["CANCELED"] : []);
    }
    const spans: [number, number][] = [];
    for (const { event } of invited) {
      const run = await store().getRun(`event-${event.id}`);
      expect(run).toMatchObject({ trigger: "event", status: "COMPLETED" });
      spans.push([Date.parse(run?.startedAt ?? ""), Date.parse(run?.endedAt ?? "")]);
    }
    // Judged four at a time: never more runs open at once, and more than one.
    const open = (at: number) => spans.filter(([start, end]) => start <= at && at < end).length;
    const most = Math.max(...spans.map(([start]) => open(start)));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
    for (const { id } of control) expect(stateOf(id)).toBe("CANCELED");
    expect(batchThrottles).toBeLessThan(separateThrottles);
  }, 90_000);

  test("answers in batchItemFailures the record another invocation is judging, and nothing else", async () => {
    const first = await invite("forbidden");
    const busy = await invite("forbidden");
    const holder = `event-${busy.event.id}/req-earlier-delivery`;
    await store().claimHandshake(busy.id, holder, 60_000);

    const answer = await handler()(
      sqsBatchEvent([queuedMessage(first.event, "m-first"), queuedMessage(busy.event, "m-busy")]),
      lambdaContext(30_000),
    );

    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: "m-busy" }] });
    expect(stateOf(first.id)).toBe("CANCELED");
    expect(stateOf(busy.id)).toBe("OPEN");
    expect(await store().getRun(`event-${busy.event.id}`)).toBeUndefined();
    await store().releaseHandshake(busy.id, holder);
  });

  test("delivered again, or twice in one batch, cancels each handshake once", async () => {
    const a = await invite("forbidden");
    const b = await invite("forbidden");
    stack.org.resetStats();

    const once = await deliverFifo(
      [queuedMessage(a.event, "m-a"), queuedMessage(a.event, "m-a-again"), queuedMessage(b.event, "m-b")],
      (batch) => handler()(batch, lambdaContext(30_000)),
    );
    const again = await deliverFifo([queuedMessage(b.event, "m-b-redelivered")], (batch) =>
      handler()(batch, lambdaContext(30_000)),
    );

    expect([...once.deliveries, ...again.deliveries].map((d) => d.failed)).toEqual([[], []]);
    expect(stack.org.stats().CancelHandshake?.requests).toBe(2);
    expect(await outcomesOf(a.id)).toEqual(["CANCELED"]);
    expect(await outcomesOf(b.id)).toEqual(["CANCELED"]);
  });

  test("logs one line naming the record and the field of a malformed record, fails it alone, and calls nothing for it", async () => {
    const good = await invite("forbidden");
    const noCaller = { ...good.event, id: "b1c2d3e4-0000-4000-8000-000000000001" };
    noCaller.detail = {
      ...good.event.detail,
      userIdentity: { accountId: "123456789012" },
    } as typeof good.event.detail;
    stack.org.resetStats();

    const { result, lines } = await logged(() =>
      handler()(
        {
          Records: [
            ...sqsBatchEvent([queuedMessage(noCaller, "m-no-caller")]).Records,
            { ...sqsBatchEvent([queuedMessage(good.event, "m-not-json")]).Records[0], body: "{not json" },
          ],
        },
        lambdaContext(30_000),
      ),
    );

    expect(result).toEqual({
      batchItemFailures: [{ itemIdentifier: "m-no-caller" }, { itemIdentifier: "m-not-json" }],
    });
    const errors = lines.filter((line) => line.level === "ERROR").map((line) => line.message);
    expect(errors).toEqual([
      "record m-no-caller: event.detail.userIdentity: names no caller (arn, or type and principalId)",
      "record m-not-json: body: must be the EventBridge event as JSON",
    ]);
    expect(Object.values(stack.org.stats()).reduce((sum, s) => sum + s.requests, 0)).toBe(0);
    expect(await store().getRun(`event-${noCaller.id}`)).toBeUndefined();
  });

  test("ignores an event for another operation and answers no failure for it", async () => {
    const { event } = await invite("allowed");
    const other = { ...event, detail: { ...event.detail, eventName: "CreateAccount" } };
    stack.org.resetStats();

    const answer = await handler()(sqsBatchEvent([queuedMessage(other, "m-other")]), lambdaContext(30_000));

    expect(answer).toEqual({ batchItemFailures: [] });
    expect(Object.values(stack.org.stats()).reduce((sum, s) => sum + s.requests, 0)).toBe(0);
  });
});
