import { randomUUID } from "node:crypto";
import {
  type AttributeValue,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DynamoDbLocal } from "../../devtools/dynamodb-local.js";
import { chainedActions, createAuditStore } from "../../src/aws/audit/index.js";
import { ensureAuditTable } from "../../src/aws/audit-table-init.js";
import { AuditWriteError } from "../../src/domain/errors.js";
import { TRIGGERS } from "../../src/domain/outcomes.js";
import { verifyChain } from "../../src/evidence/integrity.js";
import type { AuditAction, RunRecord } from "../../src/ports/records.js";
import { chainFailingClient, localDynamoDbClient, sharedDynamoDbLocal } from "../support/stack.js";

const tableName = `audit-store-test-${randomUUID()}`;
let db: DynamoDbLocal;
let client: DynamoDBClient;
let firstEnsure: Awaited<ReturnType<typeof ensureAuditTable>>;
/** Every command the client sent, by name, so tests can see how a result was obtained. */
const sent: string[] = [];

beforeAll(async () => {
  db = await sharedDynamoDbLocal();
  client = localDynamoDbClient(db.endpoint, (name) => sent.push(name));
  firstEnsure = await ensureAuditTable(client, tableName);
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

/** A fresh id per test, so tests sharing the table never see each other's items by accident. */
function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

function intent(overrides: Partial<AuditAction> = {}): AuditAction {
  return {
    runId: unique("run"),
    handshakeId: unique("h"),
    ruleId: "stale-invitations",
    matchedRules: ["stale-invitations", "outside-email"],
    dryRun: false,
    at: "2026-03-10T12:00:00.000Z",
    trigger: "scheduled",
    actor: "events.amazonaws.com",
    action: "INVITE",
    target: "someone@gmail.com",
    targetType: "EMAIL",
    requestedAt: "2026-02-01T09:30:00.000Z",
    reason: "open for 37 days, more than 7",
    attempts: 0,
    ...overrides,
  };
}

function run(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: unique("run"),
    trigger: "cli",
    actor: "arn:aws:iam::111122223333:user/alice",
    status: "RUNNING",
    dryRun: true,
    startedAt: "2026-03-10T11:59:00.000Z",
    counts: {},
    listed: 12,
    candidates: 5,
    matched: 2,
    configVersion: 1,
    configHash: "sha256:abc",
    ...overrides,
  };
}

async function rawItem(pk: string, sk: string) {
  const result = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
  );
  return result.Item;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe("ensureAuditTable", () => {
  it("creates the table once and reports it exists afterwards", async () => {
    const second = await ensureAuditTable(client, tableName);

    expect(firstEnsure).toBe("created");
    expect(second).toBe("exists");
  });

  it("creates the sparse indexes, the listed one projecting only what a sweep compares", async () => {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));

    const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
      name: index.IndexName,
      keys: index.KeySchema?.map((key) => `${key.AttributeName}:${key.KeyType}`),
      projection: index.Projection?.ProjectionType,
    }));
    expect(Table?.KeySchema?.map((key) => `${key.AttributeName}:${key.KeyType}`)).toEqual([
      "pk:HASH",
      "sk:RANGE",
    ]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe("PAY_PER_REQUEST");
    expect(indexes.sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual([
      { name: "byHandshake", keys: ["handshakeId:HASH", "at:RANGE"], projection: "ALL" },
      { name: "byRule", keys: ["ruleId:HASH", "at:RANGE"], projection: "ALL" },
      { name: "byTime", keys: ["timeKey:HASH", "at:RANGE"], projection: "ALL" },
      { name: "lifecycle", keys: ["ledgerKey:HASH", "at:RANGE"], projection: "ALL" },
      { name: "listed", keys: ["listedKey:HASH", "ledgerId:RANGE"], projection: "INCLUDE" },
      { name: "pending", keys: ["pendingKey:HASH", "at:RANGE"], projection: "ALL" },
      { name: "population", keys: ["popKey:HASH", "popAt:RANGE"], projection: "ALL" },
    ]);
  });
});

describe("audit writes", () => {
  const store = () => createAuditStore({ client, tableName });

  it("records an intent as pending and completes it with its outcome", async () => {
    const action = intent();
    const audit = store();

    const put = await audit.recordAction(action);
    const pendingItem = await rawItem(`RUN#${action.runId}`, `ACTION#${action.handshakeId}`);
    await audit.recordOutcome(action.runId, action.handshakeId, {
      outcome: "CANCELED",
      attempts: 2,
      at: "2026-04-01T00:00:01.000Z",
    });
    const doneItem = await rawItem(`RUN#${action.runId}`, `ACTION#${action.handshakeId}`);

    expect(put).toEqual({ created: true });
    expect(pendingItem?.pendingKey).toEqual({ S: "PENDING" });
    expect(pendingItem?.outcome).toBeUndefined();
    expect(doneItem?.pendingKey).toBeUndefined();
    expect(doneItem?.outcome).toEqual({ S: "CANCELED" });
    expect(doneItem?.attempts).toEqual({ N: "2" });
    expect(doneItem?.at).toEqual({ S: "2026-04-01T00:00:01.000Z" });
    expect(doneItem?.timeKey).toEqual({ S: "ACTION#2026-04" });
    expect(doneItem?.error).toBeUndefined();
  });

  it("stores every contract attribute with its DynamoDB type", async () => {
    const action = intent({ dryRun: true, outcome: "DRY_RUN", at: "2026-03-10T14:00:00+02:00" });

    await store().recordAction(action);
    const item = await rawItem(`RUN#${action.runId}`, `ACTION#${action.handshakeId}`);

    expect(item).toEqual({
      pk: { S: `RUN#${action.runId}` },
      sk: { S: `ACTION#${action.handshakeId}` },
      itemType: { S: "action" },
      timeKey: { S: "ACTION#2026-03" },
      runId: { S: action.runId },
      handshakeId: { S: action.handshakeId },
      ruleId: { S: "stale-invitations" },
      matchedRules: { L: [{ S: "stale-invitations" }, { S: "outside-email" }] },
      outcome: { S: "DRY_RUN" },
      dryRun: { BOOL: true },
      at: { S: "2026-03-10T12:00:00.000Z" },
      trigger: { S: "scheduled" },
      actor: { S: "events.amazonaws.com" },
      action: { S: "INVITE" },
      target: { S: "someone@gmail.com" },
      targetType: { S: "EMAIL" },
      requestedAt: { S: "2026-02-01T09:30:00.000Z" },
      reason: { S: "open for 37 days, more than 7" },
      attempts: { N: "0" },
    });
    const at = item?.at?.S ?? "";
    expect(new Date(at).toISOString()).toBe(at);
  });

  it("returns the stored item and writes nothing when an action is recorded twice", async () => {
    const action = intent();
    const audit = store();
    await audit.recordAction(action);
    const before = await rawItem(`RUN#${action.runId}`, `ACTION#${action.handshakeId}`);

    const second = await audit.recordAction({
      ...action,
      reason: "a different reason",
      at: "2026-03-11T00:00:00.000Z",
    });
    const after = await rawItem(`RUN#${action.runId}`, `ACTION#${action.handshakeId}`);

    expect(second).toEqual({ created: false, existing: action });
    expect(after).toEqual(before);
  });

  it("accepts the same outcome again but refuses to overwrite it with another", async () => {
    const action = intent();
    const audit = store();
    await audit.recordAction(action);
    const outcome = { outcome: "CANCELED" as const, attempts: 1, at: "2026-03-10T12:00:02.000Z" };
    await audit.recordOutcome(action.runId, action.handshakeId, outcome);

    await audit.recordOutcome(action.runId, action.handshakeId, outcome);
    const overwrite = audit.recordOutcome(action.runId, action.handshakeId, {
      outcome: "FAILED",
      attempts: 3,
      at: "2026-03-10T12:00:05.000Z",
      error: "AccessDeniedException: no",
    });

    await expect(overwrite).rejects.toThrow(AuditWriteError);
    await expect(overwrite).rejects.toThrow(/outcome CANCELED already recorded/);
    const item = await rawItem(`RUN#${action.runId}`, `ACTION#${action.handshakeId}`);
    expect(item?.outcome).toEqual({ S: "CANCELED" });
    expect(item?.error).toBeUndefined();
  });

  it("refuses an outcome for which no intent was recorded", async () => {
    const runId = unique("run");

    const write = store().recordOutcome(runId, "h-nothing", {
      outcome: "CANCELED",
      attempts: 1,
      at: "2026-03-10T12:00:00.000Z",
    });

    await expect(write).rejects.toThrow(AuditWriteError);
    expect(await rawItem(`RUN#${runId}`, "ACTION#h-nothing")).toBeUndefined();
  });

  it("writes error and reason with a failed outcome", async () => {
    const action = intent();
    const audit = store();
    await audit.recordAction(action);

    await audit.recordOutcome(action.runId, action.handshakeId, {
      outcome: "FAILED",
      attempts: 6,
      at: "2026-03-10T12:01:00.000Z",
      error: "AccessDeniedException: not the management account",
      reason: "cancel refused",
    });

    const [stored] = await audit.getRunActions(action.runId);
    expect(stored).toEqual({
      ...action,
      outcome: "FAILED",
      attempts: 6,
      at: "2026-03-10T12:01:00.000Z",
      error: "AccessDeniedException: not the management account",
      reason: "cancel refused",
    });
  });

  it("lists only the intents that have no outcome", async () => {
    const runId = unique("run");
    const audit = store();
    const open = intent({ runId, handshakeId: unique("h") });
    const completed = intent({ runId, handshakeId: unique("h") });
    const direct = intent({ runId, handshakeId: unique("h"), outcome: "EXEMPTED" });
    for (const action of [open, completed, direct]) await audit.recordAction(action);
    await audit.recordOutcome(runId, completed.handshakeId, {
      outcome: "CANCELED",
      attempts: 1,
      at: completed.at,
    });

    const pending = await audit.listPendingIntents();

    expect(pending.filter((action) => action.runId === runId)).toEqual([open]);
    expect(pending.every((action) => action.outcome === undefined)).toBe(true);
  });

  it("starts a run once and returns the stored run when started again", async () => {
    const audit = store();
    const first = run({ note: "CHG-1234" });

    const created = await audit.startRun(first);
    const again = await audit.startRun({ ...first, actor: "someone else" });

    expect(created).toEqual({ created: true, run: first });
    expect(again).toEqual({ created: false, run: first });
    const item = await rawItem(`RUN#${first.runId}`, "RUN");
    expect(item?.itemType).toEqual({ S: "run" });
    expect(item?.dryRun).toEqual({ BOOL: true });
    expect(item?.timeKey).toEqual({ S: "RUN#2026-03" });
    expect(item?.at).toEqual({ S: first.startedAt });
  });

  it("finishes a run with its status, end and counts", async () => {
    const audit = store();
    const started = run();
    await audit.startRun(started);

    await audit.finishRun({
      ...started,
      status: "PARTIAL",
      endedAt: "2026-03-10T12:03:00.000Z",
      counts: { CANCELED: 1, DEFERRED: 1 },
      matched: 2,
    });

    // The seal's link in the organization's chain comes with it (src/evidence/integrity.ts OrgHead).
    const { prevRun: _prevRun, prevSeal, orgSeq, ...finished } = (await audit.getRun(started.runId)) ?? {};
    expect(finished).toEqual({
      ...started,
      status: "PARTIAL",
      endedAt: "2026-03-10T12:03:00.000Z",
      counts: { CANCELED: 1, DEFERRED: 1 },
    });
    expect(prevSeal).toMatch(/^[0-9a-f]{64}$/);
    expect(orgSeq).toBe((await audit.orgHead())?.length);
    const item = await rawItem(`RUN#${started.runId}`, "RUN");
    expect(item?.counts).toEqual({ M: { CANCELED: { N: "1" }, DEFERRED: { N: "1" } } });
  });

  it("keeps why a failed run failed", async () => {
    const audit = store();
    const started = run();
    await audit.startRun(started);

    await audit.finishRun({ ...started, status: "FAILED", error: "AuditWriteError: throttled" });

    const finished = await audit.getRun(started.runId);
    expect(finished?.status).toBe("FAILED");
    expect(finished?.error).toBe("AuditWriteError: throttled");
    expect(finished?.endedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("refuses to finish a run that was never started", async () => {
    await expect(store().finishRun(run({ status: "COMPLETED" }))).rejects.toThrow(AuditWriteError);
  });
});

describe("final items in batches", () => {
  const store = () => createAuditStore({ client, tableName });
  const final = (runId: string, i: number, overrides: Partial<AuditAction> = {}): AuditAction =>
    intent({
      runId,
      handshakeId: `h-batch${String(i).padStart(6, "0")}`,
      outcome: "DRY_RUN",
      dryRun: true,
      reason: `open for ${i} days`,
      ...overrides,
    });
  async function verify(audit: ReturnType<typeof store>, runId: string) {
    const { head, actions } = await audit.readChain(runId);
    return { head, problems: verifyChain({ runId, head }, chainedActions(actions).items), actions };
  }
  const transactions = () => sent.filter((name) => name === "TransactWriteItemsCommand").length;

  it("writes many in few transactions, each extending the run's chain, which verifies intact", async () => {
    const audit = store();
    const started = run();
    await audit.startRun(started);
    // One appended the single way first: the batches must continue its chain, not restart it.
    await audit.recordAction(final(started.runId, 0));
    const count = 250;
    const items = Array.from({ length: count }, (_, i) => final(started.runId, i + 1));

    const before = { transactions: transactions(), puts: sent.filter((n) => n === "PutItemCommand").length };
    const results = await audit.recordFinals(items);
    const used = transactions() - before.transactions;

    expect(results).toEqual(items.map(() => ({ created: true })));
    // At most 99 items and the head per transaction: 250 items take 3.
    expect(used).toBe(Math.ceil(count / 99));
    expect(sent.filter((n) => n === "PutItemCommand").length).toBe(before.puts);
    const { head, problems, actions } = await verify(audit, started.runId);
    expect(problems).toEqual([]);
    expect(head?.length).toBe(count + 1);
    expect(actions).toHaveLength(count + 1);
    const stored = await rawItem(`RUN#${started.runId}`, `ACTION#${items[41]?.handshakeId}`);
    expect(stored?.outcome).toEqual({ S: "DRY_RUN" });
    expect(stored?.reason).toEqual({ S: items[41]?.reason });
  });

  it("splits by size as well as by count, below DynamoDB's 4 MB per transaction", async () => {
    const audit = store();
    const started = run();
    await audit.startRun(started);
    // 60 items of some 20 KB: under the count bound, over 1 MB together.
    const items = Array.from({ length: 60 }, (_, i) =>
      final(started.runId, i, { reason: "r".repeat(20_000) }),
    );

    const before = transactions();
    const results = await audit.recordFinals(items);

    expect(results.every((result) => "created" in result && result.created)).toBe(true);
    expect(transactions() - before).toBe(2);
    expect((await verify(audit, started.runId)).problems).toEqual([]);
  });

  it("reads the run's head once for a run's appends, and again only after another writer moved it", async () => {
    const audit = store();
    const other = store();
    const started = run();
    await audit.startRun(started);
    const gets = () => sent.filter((name) => name === "GetItemCommand").length;

    const before = gets();
    for (let i = 0; i < 5; i += 1) await audit.recordAction(final(started.runId, i));
    const readsForFive = gets() - before;
    await other.recordAction(final(started.runId, 5));
    await audit.recordAction(final(started.runId, 6));

    expect(readsForFive).toBe(1);
    const { head, problems } = await verify(audit, started.runId);
    expect(problems).toEqual([]);
    expect(head?.length).toBe(7);
  });

  it("goes item by item when one is stored already, and answers that one as found", async () => {
    const audit = store();
    const started = run();
    await audit.startRun(started);
    const earlier = final(started.runId, 2, { outcome: "EXEMPTED" });
    await audit.recordAction(earlier);

    const results = await audit.recordFinals([
      final(started.runId, 1),
      final(started.runId, 2),
      final(started.runId, 3),
    ]);

    expect(results[0]).toEqual({ created: true });
    expect(results[1]).toMatchObject({ created: false, existing: { outcome: "EXEMPTED" } });
    expect(results[2]).toEqual({ created: true });
    const { head, problems } = await verify(audit, started.runId);
    expect(problems).toEqual([]);
    expect(head?.length).toBe(3);
  });

  it("answers failed for an item it cannot write and writes the others", async () => {
    const audit = store();
    const started = run();
    await audit.startRun(started);
    const { outcome: _none, ...pending } = final(started.runId, 2);

    const results = await audit.recordFinals([final(started.runId, 1), pending, final(started.runId, 3)]);

    expect(results[0]).toEqual({ created: true });
    expect(results[1]).toEqual({ failed: expect.stringContaining("needs an outcome") });
    expect(results[2]).toEqual({ created: true });
    expect(await rawItem(`RUN#${started.runId}`, `ACTION#${pending.handshakeId}`)).toBeUndefined();
    expect((await verify(audit, started.runId)).problems).toEqual([]);
  });

  it("answers every item failed, and throws nothing, when the table is not there", async () => {
    const audit = createAuditStore({
      client,
      tableName: `missing-${randomUUID()}`,
      retry: { policy: { baseMs: 1, capMs: 2, maxAttempts: 2 } },
    });
    const runId = unique("run");

    const results = await audit.recordFinals([final(runId, 1), final(runId, 2)]);

    expect(results).toEqual([
      { failed: expect.stringContaining("ResourceNotFound") },
      { failed: expect.stringContaining("ResourceNotFound") },
    ]);
  });

  it("keeps one intact chain while single appends of the same run interleave with a batch", async () => {
    const audit = store();
    const started = run();
    await audit.startRun(started);
    const singles = Array.from({ length: 6 }, (_, i) => final(started.runId, 500 + i));
    const batch = Array.from({ length: 120 }, (_, i) => final(started.runId, i));

    await Promise.all([audit.recordFinals(batch), ...singles.map((item) => audit.recordAction(item))]);

    const { head, problems } = await verify(audit, started.runId);
    expect(problems).toEqual([]);
    expect(head?.length).toBe(126);
  });
});

describe("final items a fault leaves out of the chain", () => {
  it("are stored and marked, answered as unlinked, and linked by linkUnchained", async () => {
    // The same table through a client whose chain transactions fail while `failing` is on.
    const { client: flaky, failing } = chainFailingClient(db.endpoint);
    const audit = createAuditStore({
      client: flaky,
      tableName,
      retry: { policy: { baseMs: 1, capMs: 2, maxAttempts: 2 } },
    });
    const started = run({ dryRun: false });
    await audit.startRun(started);
    const canceled = intent({ runId: started.runId });
    const exempted = intent({ runId: started.runId, outcome: "EXEMPTED" });
    await audit.recordAction(canceled);

    failing(true);
    const outcome = await audit.recordOutcome(canceled.runId, canceled.handshakeId, {
      outcome: "CANCELED",
      attempts: 1,
      at: "2026-03-10T12:00:05.000Z",
    });
    const put = await audit.recordAction(exempted);
    failing(false);

    expect(outcome).toEqual({ unlinked: expect.stringContaining("InternalServerError") });
    expect(put).toEqual({ created: true, unlinked: expect.stringContaining("InternalServerError") });
    for (const [item, expected] of [
      [canceled, "CANCELED"],
      [exempted, "EXEMPTED"],
    ] as const) {
      const stored = await rawItem(`RUN#${started.runId}`, `ACTION#${item.handshakeId}`);
      expect(stored?.outcome).toEqual({ S: expected });
      expect(stored?.pendingKey).toEqual({ S: "UNLINKED" });
      expect(stored?.chainHash).toBeUndefined();
    }
    const chainOf = async () => {
      const { head, actions } = await audit.readChain(started.runId);
      return { head, problems: verifyChain({ runId: started.runId, head }, chainedActions(actions).items) };
    };
    expect((await chainOf()).problems).toEqual([
      expect.stringContaining("final but not in the chain"),
      expect.stringContaining("final but not in the chain"),
    ]);
    const intents = (await audit.listPendingIntents()).map((i) => i.handshakeId);
    expect(intents).not.toContain(canceled.handshakeId);
    expect(intents).not.toContain(exempted.handshakeId);

    expect(await audit.linkUnchained()).toBe(2);

    const after = await chainOf();
    expect(after.problems).toEqual([]);
    expect(after.head?.length).toBe(2);
    const linked = await rawItem(`RUN#${started.runId}`, `ACTION#${canceled.handshakeId}`);
    expect(linked?.pendingKey).toBeUndefined();
    expect(await audit.linkUnchained()).toBe(0);
    flaky.destroy();
  });
});

describe("audit queries", () => {
  // Dates in 2024 keep this data set apart from the write tests' 2026 items in the shared table.
  // One shared tag with ordinal suffixes, so the sort key order within a run is known.
  const tag = unique("q");
  const [h1, h2, h3] = [`h-${tag}-1`, `h-${tag}-2`, `h-${tag}-3`];
  const [ruleA, ruleB] = [`rule-${tag}-a`, `rule-${tag}-b`];
  const runJanuary = run({ runId: unique("run-jan"), startedAt: "2024-01-15T10:00:00.000Z" });
  const runFebruary = run({ runId: unique("run-feb"), startedAt: "2024-02-03T10:00:00.000Z" });
  const actions: AuditAction[] = [
    intent({ runId: runJanuary.runId, handshakeId: h1, ruleId: ruleA, at: "2024-01-15T10:00:01.000Z" }),
    intent({ runId: runJanuary.runId, handshakeId: h2, ruleId: ruleB, at: "2024-01-15T10:00:02.000Z" }),
    intent({ runId: runFebruary.runId, handshakeId: h1, ruleId: ruleA, at: "2024-02-03T10:00:01.000Z" }),
    intent({ runId: runFebruary.runId, handshakeId: h3, ruleId: ruleB, at: "2024-02-03T10:00:02.000Z" }),
  ];
  const outcomes = ["CANCELED", "DRY_RUN", "ALREADY_CLOSED", "FAILED"] as const;
  const completed = actions.map((action, i) => ({ ...action, outcome: outcomes[i], attempts: 1 }));
  const byHandshake = (list: readonly { runId: string; handshakeId: string }[]) =>
    list.map((action) => `${action.runId}/${action.handshakeId}`);

  const audit = () =>
    createAuditStore({ client, tableName, now: () => new Date("2024-02-20T00:00:00.000Z") });

  beforeAll(async () => {
    const store = audit();
    await store.startRun(runJanuary);
    await store.startRun(runFebruary);
    for (const [i, action] of actions.entries()) {
      await store.recordAction(action);
      await store.recordOutcome(action.runId, action.handshakeId, {
        outcome: outcomes[i] ?? "FAILED",
        attempts: 1,
        at: action.at,
      });
    }
  });

  beforeEach(() => {
    sent.length = 0;
  });

  it("finds a run's actions in the run's partition", async () => {
    const found = await collect(audit().queryActions({ runId: runJanuary.runId }));

    expect(found).toEqual(completed.slice(0, 2));
    expect(sent).toEqual(["QueryCommand"]);
  });

  it("narrows a run to one handshake by key", async () => {
    const found = await collect(audit().queryActions({ runId: runJanuary.runId, handshakeId: h2 }));

    expect(byHandshake(found)).toEqual([`${runJanuary.runId}/${h2}`]);
  });

  it("finds a handshake's history across runs, oldest first", async () => {
    const found = await collect(audit().queryActions({ handshakeId: h1 }));

    expect(found).toEqual([completed[0], completed[2]]);
  });

  it("limits a handshake's history to the time range", async () => {
    const found = await collect(
      audit().queryActions({ handshakeId: h1, since: new Date("2024-02-01T00:00:00Z") }),
    );

    expect(byHandshake(found)).toEqual([`${runFebruary.runId}/${h1}`]);
  });

  it("finds what a rule did in a time range", async () => {
    const found = await collect(
      audit().queryActions({
        ruleId: ruleB,
        since: new Date("2024-01-01T00:00:00Z"),
        until: new Date("2024-01-31T23:59:59Z"),
      }),
    );

    expect(byHandshake(found)).toEqual([`${runJanuary.runId}/${h2}`]);
  });

  it("filters a rule's actions by outcome", async () => {
    const found = await collect(audit().queryActions({ ruleId: ruleB, outcome: "FAILED" }));

    expect(byHandshake(found)).toEqual([`${runFebruary.runId}/${h3}`]);
  });

  it("finds actions in a time range with one query per month", async () => {
    const found = await collect(
      audit().queryActions({
        since: new Date("2023-12-20T00:00:00Z"),
        until: new Date("2024-02-10T00:00:00Z"),
      }),
    );

    expect(found).toEqual(completed);
    expect(sent).toEqual(["QueryCommand", "QueryCommand", "QueryCommand"]);
  });

  it("reads the last 30 days when a time query gives no start", async () => {
    const found = await collect(audit().queryActions({ outcome: "FAILED" }));

    expect(byHandshake(found)).toEqual([`${runFebruary.runId}/${h3}`]);
  });

  it("lists the runs that started in a time range", async () => {
    const found = await collect(
      audit().listRuns({ since: new Date("2024-01-01T00:00:00Z"), until: new Date("2024-02-29T00:00:00Z") }),
    );

    expect(found).toEqual([runJanuary, runFebruary]);
  });

  it("gets one run and its actions", async () => {
    const store = audit();

    const found = await store.getRun(runFebruary.runId);
    const missing = await store.getRun(unique("run"));
    const runActions = await store.getRunActions(runFebruary.runId);

    expect(found).toEqual(runFebruary);
    expect(missing).toBeUndefined();
    expect(runActions).toEqual(completed.slice(2));
  });

  it("answers every query without a Scan", async () => {
    const store = audit();

    await collect(store.queryActions({ runId: runJanuary.runId }));
    await collect(store.queryActions({ handshakeId: h1 }));
    await collect(store.queryActions({ ruleId: ruleA }));
    await collect(store.queryActions({}));
    await collect(store.listRuns());
    await store.getRun(runJanuary.runId);
    await store.getRunActions(runJanuary.runId);
    await store.listPendingIntents();

    expect(new Set(sent)).toEqual(new Set(["QueryCommand", "GetItemCommand"]));
  });
});

describe("reading items that do not read in full", () => {
  // May 2023: apart from every other data set in the shared table.
  const runId = unique("run-damaged");
  const at = "2023-05-10T08:00:00.000Z";
  const good = intent({ runId, handshakeId: unique("h-1-good"), at, outcome: "DRY_RUN" });
  const badHandshake = unique("h-2-bad");
  const audit = () =>
    createAuditStore({ client, tableName, now: () => new Date("2023-05-20T00:00:00.000Z") });
  const put = (item: Record<string, AttributeValue>) =>
    client.send(new PutItemCommand({ TableName: tableName, Item: item }));

  beforeAll(async () => {
    await audit().recordAction(good);
    // Written past the store, as another tool or a hand in the console could: an unknown trigger,
    // a number stored as a string, a missing reason, and a run with an unknown status.
    await put({
      pk: { S: `RUN#${runId}` },
      sk: { S: `ACTION#${badHandshake}` },
      itemType: { S: "action" },
      timeKey: { S: "ACTION#2023-05" },
      runId: { S: runId },
      handshakeId: { S: badHandshake },
      ruleId: { S: "outside-email" },
      matchedRules: { L: [{ S: "outside-email" }] },
      dryRun: { BOOL: true },
      at: { S: "2023-05-10T08:00:05.000Z" },
      trigger: { S: "teleport" },
      actor: { S: "ops@cli" },
      action: { S: "INVITE" },
      target: { S: "x@gmail.com" },
      targetType: { S: "EMAIL" },
      attempts: { S: "1" },
      outcome: { S: "DRY_RUN" },
    });
    await put({
      pk: { S: `RUN#${runId}` },
      sk: { S: "RUN" },
      itemType: { S: "run" },
      timeKey: { S: "RUN#2023-05" },
      runId: { S: runId },
      trigger: { S: "cli" },
      actor: { S: "ops@cli" },
      status: { S: "HALTED" },
      dryRun: { BOOL: true },
      startedAt: { S: at },
      at: { S: at },
      counts: { M: { DRY_RUN: { N: "2" } } },
      listed: { N: "3" },
      candidates: { N: "2" },
      matched: { N: "2" },
      configVersion: { N: "1" },
      configHash: { S: "sha256:abc" },
    });
  });

  const expectedFlag = `trigger is not ${TRIGGERS.join(" | ")}; reason is not a string; attempts is not a number`;

  it("yields an unreadable action with what could be read and the flag, and the others as they are", async () => {
    const byRun = await collect(audit().queryActions({ runId }));
    const byTime = await collect(audit().queryActions({ since: new Date("2023-05-01T00:00:00Z") }));

    for (const found of [byRun, byTime]) {
      expect(found).toEqual([
        { ...good, outcome: "DRY_RUN" },
        {
          runId,
          handshakeId: badHandshake,
          ruleId: "outside-email",
          matchedRules: ["outside-email"],
          dryRun: true,
          at: "2023-05-10T08:00:05.000Z",
          actor: "ops@cli",
          action: "INVITE",
          target: "x@gmail.com",
          targetType: "EMAIL",
          outcome: "DRY_RUN",
          unreadable: expectedFlag,
        },
      ]);
    }
  });

  it("yields an unreadable run flagged, and exports the action flagged with its link", async () => {
    const runs = await collect(
      audit().listRuns({ since: new Date("2023-05-01T00:00:00Z"), until: new Date("2023-05-31T00:00:00Z") }),
    );
    const exported = await collect(
      audit().exportActions({
        since: new Date("2023-05-01T00:00:00Z"),
        until: new Date("2023-05-31T00:00:00Z"),
      }),
    );

    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      runId,
      actor: "ops@cli",
      unreadable: "status is not RUNNING | COMPLETED | PARTIAL | BLOCKED | FAILED",
    });
    expect(runs[0]?.status).toBeUndefined();
    expect(runs[0]?.counts).toEqual({ DRY_RUN: 2 });
    const bad = exported.find((stored) => stored.keyHandshakeId === badHandshake);
    expect(bad?.action).toBeUndefined();
    expect(bad?.readError).toBe(`audit item RUN#${runId}/ACTION#${badHandshake}: ${expectedFlag}`);
    expect(bad?.record).toMatchObject({ runId, handshakeId: badHandshake, unreadable: expectedFlag });
    expect(
      exported.find((stored) => stored.keyHandshakeId === good.handshakeId)?.record.unreadable,
    ).toBeUndefined();
  });

  it("still refuses such an item where the sweep reads one", async () => {
    await expect(audit().getRun(runId)).rejects.toThrow(
      `audit item RUN#${runId}/RUN: status is not RUNNING | COMPLETED | PARTIAL | BLOCKED | FAILED`,
    );
    await expect(audit().getRunActions(runId)).rejects.toThrow(`trigger is not ${TRIGGERS.join(" | ")}`);
  });
});
