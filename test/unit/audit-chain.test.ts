import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { CHAIN_BACKOFF } from "../../src/aws/audit/chain.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { CHAIN_GENESIS, chainHash } from "../../src/evidence/integrity.js";
import type { AuditAction } from "../../src/ports/records.js";
import { backoffDelay } from "../../src/resilience/backoff.js";
import { auditAction } from "../support/fakes.js";

const action: AuditAction = auditAction({
  ruleId: "stale",
  matchedRules: ["stale"],
  outcome: "DRY_RUN",
  dryRun: true,
});

function canceled(...codes: string[]): Error {
  return Object.assign(new Error("cancelled"), {
    name: "TransactionCanceledException",
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

/** A run whose head moves between reads, as when another process appends first. */
function client(transactAnswers: (Error | undefined)[]) {
  const sent: { name: string; input: Record<string, unknown> }[] = [];
  const heads = [
    { chainHead: { S: CHAIN_GENESIS }, chainLength: { N: "0" } },
    { chainHead: { S: "a".repeat(64) }, chainLength: { N: "1" } },
  ];
  let reads = 0;
  const fake = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      sent.push({ name: command.constructor.name, input: command.input });
      if (command.constructor.name === "GetItemCommand") {
        const head = heads[Math.min(reads, heads.length - 1)];
        reads += 1;
        return { Item: { pk: { S: "RUN#run-1" }, sk: { S: "RUN" }, ...head } };
      }
      if (command.constructor.name === "TransactWriteItemsCommand") {
        const answer = transactAnswers.shift();
        if (answer) throw answer;
      }
      return {};
    },
  } as unknown as DynamoDBClient;
  return { fake, sent };
}

const noSleep = { sleep: async () => {} };

describe("audit chain appends", () => {
  it("re-reads the head and links after it when another writer appended first", async () => {
    const { fake, sent } = client([canceled("None", "ConditionalCheckFailed"), undefined]);
    await createAuditStore({ client: fake, tableName: "t", retry: noSleep }).recordAction(action);

    const transacts = sent.filter((c) => c.name === "TransactWriteItemsCommand");
    expect(transacts).toHaveLength(2);
    const last = JSON.stringify(transacts[1]?.input);
    expect(last).toContain(chainHash("a".repeat(64), action, 2));
    expect(last).toContain('":length":{"N":"1"}');
  });

  it("treats an item already linked as done, and gives up on a head that keeps moving", async () => {
    const linked = client([canceled("ConditionalCheckFailed", "None")]);
    const done = await createAuditStore({ client: linked.fake, tableName: "t", retry: noSleep }).recordAction(
      action,
    );
    expect(done).toEqual({ created: true });
    expect(linked.sent.filter((c) => c.name === "TransactWriteItemsCommand")).toHaveLength(1);

    const racing = client(Array.from({ length: 20 }, () => canceled("None", "ConditionalCheckFailed")));
    const stored = await createAuditStore({
      client: racing.fake,
      tableName: "t",
      retry: noSleep,
    }).recordAction(action);
    // The item is stored, marked to be linked later: the failure is answered, not thrown.
    expect(stored).toEqual({ created: true, unlinked: expect.stringContaining("chain run-1/h-1") });
    const put = racing.sent.find((c) => c.name === "PutItemCommand");
    expect((put?.input.Item as Record<string, unknown> | undefined)?.pendingKey).toEqual({ S: "UNLINKED" });
  });

  it("pauses before each new try with the one retry policy's jittered delay, moved head or busy table", async () => {
    const { fake, sent } = client([
      canceled("None", "ConditionalCheckFailed"),
      canceled("None", "ThrottlingError"),
      canceled("TransactionConflict", "None"),
      undefined,
    ]);
    const pauses: number[] = [];
    const random = () => 0.37;
    const store = createAuditStore({
      client: fake,
      tableName: "t",
      retry: { sleep: async (ms) => void pauses.push(ms), random },
    });

    expect(await store.recordAction(action)).toEqual({ created: true });
    expect(sent.filter((c) => c.name === "TransactWriteItemsCommand")).toHaveLength(4);
    // Full jitter: a share (random) of the ceiling min(cap, base * 2^attempt), attempts from 0.
    expect(pauses).toEqual([0, 1, 2].map((attempt) => backoffDelay(attempt, CHAIN_BACKOFF, random)));
    expect(new Set(pauses).size).toBe(3);
  });
});
