import { DeleteItemCommand, type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { wire } from "../../src/app.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { createClients } from "../../src/aws/clients.js";
import { loadConfig } from "../../src/config/config.js";
import { LeaseHeldError, LeaseLostError } from "../../src/domain/errors.js";
import { DEFAULT_FENCING } from "../../src/fencing-settings.js";
import { createSweepHandler } from "../../src/handlers/sweep.js";
import type { RunRecord } from "../../src/ports/records.js";
import { loadSettings } from "../../src/settings.js";
import { type RunSummary, sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { auditAction, runRecord as startedRun } from "../support/fakes.js";
import { lambdaContext } from "../support/lambda-context.js";
import { localDynamoDbClient, type Stack, stackEnv, startStack } from "../support/stack.js";

let stack: Stack;
let client: DynamoDBClient;

beforeAll(async () => {
  stack = await startStack(sampleOrganization(new Date(), { seed: 5 }));
  client = localDynamoDbClient(stack.db.endpoint);
});
afterAll(async () => {
  client?.destroy();
  await stack?.stop();
});

const T0 = new Date("2026-11-29T18:00:00.000Z");
const LEASE_KEY = { pk: { S: "LEASE#organization" }, sk: { S: "LEASE" } };

/** A store on the shared table whose clock reads `at`, as a process whose clock says so. */
function storeAt(tableName: string, at: () => Date) {
  return createAuditStore({ client, tableName, now: at, leaseDurationMs: 60_000 });
}

function runRecord(runId: string): RunRecord {
  return startedRun(runId, { startedAt: T0.toISOString() });
}

describe("the lease item", () => {
  test("is taken when free, refused while held naming the holder, and taken again by its own run", async () => {
    const table = await stack.newTable();
    const store = storeAt(table, () => T0);

    const first = await store.acquireLease("run-a");
    const second = await store.acquireLease("run-b");
    const again = await store.acquireLease("run-a");

    const held = { runId: "run-a", since: T0.toISOString(), expiresAt: T0.getTime() + 60_000 };
    expect(first).toEqual({ acquired: true, lease: held });
    expect(second).toEqual({ acquired: false, holder: held });
    expect(again).toEqual({ acquired: true, lease: held });
  });

  test("is on no index: it carries none of the indexes' key attributes", async () => {
    const table = await stack.newTable();
    await storeAt(table, () => T0).acquireLease("run-a");

    const stored = await client.send(new GetItemCommand({ TableName: table, Key: LEASE_KEY }));

    expect(Object.keys(stored.Item ?? {}).sort()).toEqual(
      ["itemType", "leaseExpiresAt", "pk", "runId", "since", "sk"].sort(),
    );
  });

  test("of a holder that died is taken over once it lapsed by more than the fencing margin, and not a millisecond before", async () => {
    const table = await stack.newTable();
    await storeAt(table, () => T0).acquireLease("crashed");
    // The crashed holder may have confirmed its lease with M left just before it lapsed: a cancel
    // it started then can land until M after the lapse.
    const lapsed = T0.getTime() + 60_000 + DEFAULT_FENCING.marginMs;

    const early = await storeAt(table, () => new Date(lapsed - 1)).acquireLease("next");
    const late = await storeAt(table, () => new Date(lapsed)).acquireLease("next");

    expect(early.acquired).toBe(false);
    expect(late).toEqual({
      acquired: true,
      lease: { runId: "next", since: new Date(lapsed).toISOString(), expiresAt: lapsed + 60_000 },
    });
  });

  test("is renewed only by its holder, noted on the holder's running run item, and released only by it", async () => {
    const table = await stack.newTable();
    let now = T0.getTime();
    const store = storeAt(table, () => new Date(now));
    await store.acquireLease("run-a");
    await store.startRun(runRecord("run-a"));

    now += 20_000;
    const renewed = await store.renewLease("run-a");
    const liveness = await store.runLiveness("run-a");
    const foreignRenewal = await store.renewLease("run-b").then(
      () => "renewed",
      (error: unknown) => error,
    );
    const foreignRelease = await store.releaseLease("run-b");
    const release = await store.releaseLease("run-a");
    const next = await store.acquireLease("run-b");

    expect(renewed).toEqual({ runId: "run-a", since: T0.toISOString(), expiresAt: T0.getTime() + 80_000 });
    expect(liveness).toEqual({ status: "RUNNING", leaseExpiresAt: T0.getTime() + 80_000 });
    expect(foreignRenewal).toBeInstanceOf(LeaseLostError);
    expect((foreignRenewal as Error).message).toBe(
      `run run-b lost the organization's lease to run run-a (since ${T0.toISOString()})`,
    );
    expect(foreignRelease).toBe(false);
    expect(release).toBe(true);
    expect(next.acquired).toBe(true);
  });

  test("a holder whose lease was taken over after it lapsed finds it lost when it renews", async () => {
    const table = await stack.newTable();
    await storeAt(table, () => T0).acquireLease("hung");
    await storeAt(table, () => new Date(T0.getTime() + 90_000)).acquireLease("next");

    const renewal = storeAt(table, () => new Date(T0.getTime() + 91_000)).renewLease("hung");

    await expect(renewal).rejects.toBeInstanceOf(LeaseLostError);
    await expect(renewal).rejects.toThrow("run hung lost the organization's lease to run next");
  });
});

describe("a run's counts as stored", () => {
  test("are read back consistently from its items, a stale mark is stored only when stale, and a seal is written once", async () => {
    const table = await stack.newTable();
    const store = storeAt(table, () => T0);
    await store.startRun(runRecord("run-c"));
    await store.recordAction(auditAction({ runId: "run-c", handshakeId: "h-1", outcome: "CANCELED" }));
    await store.recordAction(auditAction({ runId: "run-c", handshakeId: "h-2" }));

    const outcomes = await store.runOutcomes("run-c");
    await store.finishRun({
      ...runRecord("run-c"),
      status: "PARTIAL",
      counts: { CANCELED: 1 },
      countsStale: true,
    });
    const stale = await store.getRun("run-c");
    // A seal is written once: finishing the run again is refused, and the run stays as sealed.
    await expect(
      store.finishRun({ ...runRecord("run-c"), status: "COMPLETED", counts: { CANCELED: 1 } }),
    ).rejects.toThrow("audit run run-c: sealed already");
    expect(await store.getRun("run-c")).toEqual(stale);
    await store.startRun(runRecord("run-d"));
    await store.finishRun({ ...runRecord("run-d"), status: "PARTIAL", counts: { CANCELED: 1 } });
    const fresh = await store.getRun("run-d");

    expect(outcomes).toEqual(
      new Map([
        ["h-1", "CANCELED"],
        ["h-2", undefined],
      ]),
    );
    expect(stale?.countsStale).toBe(true);
    expect(fresh?.countsStale).toBeUndefined();
  });
});

describe("reconciliation beside a live run", () => {
  test("leaves the intents of a running run with an unexpired lease alone, even when the lease item was deleted by hand", async () => {
    const table = await stack.newTable();
    const env = stackEnv(stack.org, stack.db, table);
    const open = stack.org.handshakes().find((h) => h.State === "OPEN");
    if (!open?.Id) throw new Error("the sample organization has an open handshake");
    const holder = createAuditStore({ client, tableName: table });
    const claim = await holder.acquireLease("run-live");
    expect(claim.acquired).toBe(true);
    await holder.startRun({ ...runRecord("run-live"), startedAt: new Date().toISOString() });
    await holder.renewLease("run-live");
    await holder.recordAction(
      auditAction({ runId: "run-live", handshakeId: open.Id, at: new Date().toISOString() }),
    );
    await client.send(new DeleteItemCommand({ TableName: table, Key: LEASE_KEY }));
    const config = await loadConfig(DEMO_CONFIG);

    const settings = { ...loadSettings(env), auditTableName: table };
    const clients = createClients(settings);
    let summary: RunSummary;
    try {
      const { organizations, audit } = wire(settings, { clients });
      summary = await sweep(
        { config: { ...config, rules: [] }, runId: "run-next", trigger: "cli", actor: "bob" },
        { organizations, ...sweepPorts(audit), now: () => new Date() },
      );
    } finally {
      clients.dynamodb.destroy();
      clients.organizations.destroy();
    }

    expect(summary.reconciled).toBe(0);
    expect((await holder.listPendingIntents()).map((i) => [i.runId, i.handshakeId])).toEqual([
      ["run-live", open.Id],
    ]);
  });
});

describe("the Lambda handler", () => {
  test("fails the invocation when another live run holds the lease, and writes no run item", async () => {
    const table = await stack.newTable();
    const holder = createAuditStore({ client, tableName: table });
    await holder.acquireLease("cli-20261129T180000Z-abcdef");
    stack.org.resetStats();
    const context = lambdaContext();

    const invocation = createSweepHandler({
      ...stackEnv(stack.org, stack.db, table),
      JANITOR_CONFIG: DEMO_CONFIG,
    })({ reason: "CHG-1" }, context);

    await expect(invocation).rejects.toBeInstanceOf(LeaseHeldError);
    await expect(invocation).rejects.toThrow(/run cli-20261129T180000Z-abcdef since .*; nothing done$/);
    expect(await holder.getRun(context.awsRequestId)).toBeUndefined();
    expect(Object.keys(stack.org.stats())).toEqual([]);
  });
});
