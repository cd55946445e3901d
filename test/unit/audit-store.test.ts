import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { createAuditStore, isRetryableDynamoDbError, monthsBetween } from "../../src/aws/audit/index.js";
import { AuditWriteError, ConfigError } from "../../src/domain/errors.js";
import type { AuditAction } from "../../src/ports/records.js";
import { auditAction } from "../support/fakes.js";

interface SentCommand {
  name: string;
  input: Record<string, unknown>;
}

/** A client whose every call is recorded and answered by `answer` (a Query page with no items by default). */
function fakeClient(answer: (command: SentCommand, call: number) => unknown = () => ({ Items: [] })) {
  const sent: SentCommand[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const entry = { name: command.constructor.name, input: command.input };
      sent.push(entry);
      const result = answer(entry, sent.length);
      if (result instanceof Error) throw result;
      return result;
    },
  } as unknown as DynamoDBClient;
  return { client, sent };
}

function serviceError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} from the fake`), { name, ...extra });
}

const noSleep = { sleep: async () => {}, random: () => 0.5 };

const action: AuditAction = auditAction();

describe("audit queries", () => {
  it("never scan, whatever the filter", async () => {
    const { client, sent } = fakeClient();
    const store = createAuditStore({
      client,
      tableName: "audit",
      now: () => new Date("2026-03-10T00:00:00Z"),
    });
    const since = new Date("2025-11-01T00:00:00Z");
    const until = new Date("2026-03-01T00:00:00Z");

    for (const filter of [
      {},
      { since, until },
      { runId: "run-1" },
      { runId: "run-1", handshakeId: "h-1", outcome: "CANCELED", since },
      { handshakeId: "h-1" },
      { handshakeId: "h-1", since, until, ruleId: "r" },
      { ruleId: "r", since },
      { outcome: "FAILED", until },
    ]) {
      for await (const _ of store.queryActions(filter)) {
        // Only the commands matter here.
      }
    }
    for await (const _ of store.listRuns({ since, until })) {
      // As above.
    }
    await store.getRunActions("run-1");
    await store.listPendingIntents();

    expect(new Set(sent.map((command) => command.name))).toEqual(new Set(["QueryCommand"]));
  });

  it("follows LastEvaluatedKey through every page", async () => {
    const key = { pk: { S: "RUN#run-1" }, sk: { S: "ACTION#h-1" } };
    const { client, sent } = fakeClient((_command, call) =>
      call === 1 ? { Items: [], LastEvaluatedKey: key } : { Items: [] },
    );

    await createAuditStore({ client, tableName: "audit" }).listPendingIntents();

    expect(sent.map((command) => command.input.ExclusiveStartKey)).toEqual([undefined, key]);
  });

  it("rejects a range whose start is after its end before querying", async () => {
    const { client, sent } = fakeClient();
    const store = createAuditStore({ client, tableName: "audit" });

    const iterate = async () => {
      for await (const _ of store.queryActions({
        since: new Date("2026-02-01"),
        until: new Date("2026-01-01"),
      })) {
        // Never reached.
      }
    };

    await expect(iterate()).rejects.toThrow(ConfigError);
    expect(sent).toEqual([]);
  });
});

describe("audit write retries", () => {
  it("retries throttling until the write goes through", async () => {
    const { client, sent } = fakeClient((_command, call) =>
      call < 3 ? serviceError("ProvisionedThroughputExceededException") : {},
    );

    const result = await createAuditStore({ client, tableName: "audit", retry: noSleep }).recordAction(
      action,
    );

    expect(result).toEqual({ created: true });
    expect(sent.map((command) => command.name)).toEqual([
      "PutItemCommand",
      "PutItemCommand",
      "PutItemCommand",
    ]);
  });

  it("gives up after the bounded attempts with an AuditWriteError", async () => {
    const { client, sent } = fakeClient(() => serviceError("ThrottlingException"));

    const write = createAuditStore({ client, tableName: "audit", retry: noSleep }).recordAction(action);

    await expect(write).rejects.toThrow(AuditWriteError);
    expect(sent).toHaveLength(6);
  });

  it("does not retry an error that another attempt cannot fix", async () => {
    const { client, sent } = fakeClient(() => serviceError("AccessDeniedException"));

    const write = createAuditStore({ client, tableName: "audit", retry: noSleep }).recordAction(action);

    await expect(write).rejects.toThrow(/AccessDeniedException/);
    await expect(write).rejects.toThrow(AuditWriteError);
    expect(sent).toHaveLength(1);
  });

  it("counts a retried put that finds its own earlier write as created", async () => {
    let written: unknown;
    const { client } = fakeClient((command, call) => {
      if (call === 1) {
        written = command.input.Item;
        return serviceError("Error", { code: "ECONNRESET" });
      }
      return new ConditionalCheckFailedException({
        message: "The conditional request failed",
        $metadata: {},
        Item: written as never,
      });
    });

    const result = await createAuditStore({ client, tableName: "audit", retry: noSleep }).recordAction(
      action,
    );

    expect(result).toEqual({ created: true });
  });

  it("reports an existing item found on the first attempt as not created", async () => {
    const { client } = fakeClient(
      (command) =>
        new ConditionalCheckFailedException({
          message: "The conditional request failed",
          $metadata: {},
          Item: command.input.Item as never,
        }),
    );

    const result = await createAuditStore({ client, tableName: "audit", retry: noSleep }).recordAction(
      action,
    );

    expect(result).toEqual({ created: false, existing: action });
  });

  it("refuses an action whose time is not an instant, before any call", async () => {
    const { client, sent } = fakeClient(() => ({}));

    const write = createAuditStore({ client, tableName: "audit" }).recordAction({
      ...action,
      at: "yesterday",
    });

    await expect(write).rejects.toThrow(AuditWriteError);
    expect(sent).toEqual([]);
  });
});

describe("isRetryableDynamoDbError", () => {
  it.each([
    ["ProvisionedThroughputExceededException", serviceError("ProvisionedThroughputExceededException"), true],
    ["ThrottlingException", serviceError("ThrottlingException"), true],
    ["RequestLimitExceeded", serviceError("RequestLimitExceeded"), true],
    ["InternalServerError", serviceError("InternalServerError"), true],
    ["an unmodeled 503", serviceError("Unknown", { $metadata: { httpStatusCode: 503 } }), true],
    ["a reset connection", serviceError("Error", { code: "ECONNRESET" }), true],
    ["a request timeout", serviceError("TimeoutError"), true],
    ["a failed condition", serviceError("ConditionalCheckFailedException"), false],
    [
      "a validation error",
      serviceError("ValidationException", { $metadata: { httpStatusCode: 400 } }),
      false,
    ],
    ["a missing table", serviceError("ResourceNotFoundException"), false],
    ["a non-error", "throttled", false],
  ])("treats %s as retryable: %s", (_label, error, expected) => {
    expect(isRetryableDynamoDbError(error)).toBe(expected);
  });
});

describe("monthsBetween", () => {
  it("lists every UTC month of the range, across a year end", () => {
    expect(monthsBetween(new Date("2025-11-30T23:00:00Z"), new Date("2026-02-01T00:00:00Z"))).toEqual([
      "2025-11",
      "2025-12",
      "2026-01",
      "2026-02",
    ]);
  });

  it("uses UTC months, not local ones", () => {
    expect(monthsBetween(new Date("2026-01-31T23:30:00-02:00"), new Date("2026-02-01T01:00:00Z"))).toEqual([
      "2026-02",
    ]);
  });
});
