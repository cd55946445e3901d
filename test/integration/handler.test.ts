import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { ListHandshakesForOrganizationCommand } from "@aws-sdk/client-organizations";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { createClients } from "../../src/aws/clients.js";
import { createSweepHandler } from "../../src/handlers/sweep.js";
import { loadSettings } from "../../src/settings.js";
import { scheduledEvent } from "../support/events.js";
import { lambdaContext } from "../support/lambda-context.js";
import { type Stack, stackEnv, startStack } from "../support/stack.js";

let stack: Stack;
let table: string;

beforeAll(async () => {
  stack = await startStack(sampleOrganization(new Date(), { seed: 21 }));
  table = await stack.newTable();
});
afterAll(async () => {
  await stack?.stop();
});

const context = lambdaContext;

function env() {
  return {
    ...stackEnv(stack.org, stack.db, table),
    JANITOR_CONFIG: DEMO_CONFIG,
    POWERTOOLS_LOG_LEVEL: "ERROR",
  };
}

function calls(operation?: string): number {
  const stats = stack.org.stats();
  if (operation) return stats[operation]?.requests ?? 0;
  return Object.values(stats).reduce((sum, s) => sum + s.requests, 0);
}

describe("the SDK's endpoint variables", () => {
  test("point the clients the composition root builds at the local servers", async () => {
    stack.org.resetStats();
    const clients = createClients(loadSettings(env()));
    await clients.organizations.send(new ListHandshakesForOrganizationCommand({ MaxResults: 1 }));
    // The local server holds this run's table (of many: ListTables would answer a first page only).
    const described = await clients.dynamodb.send(new DescribeTableCommand({ TableName: table }));
    expect(described.Table?.TableName).toBe(table);
    clients.organizations.destroy();
    clients.dynamodb.destroy();
    expect(calls("ListHandshakesForOrganization")).toBe(1);
  });
});

describe("Lambda handler", () => {
  test("a manual dry run records DRY_RUN and calls no CancelHandshake", async () => {
    stack.org.resetStats();
    const summary = await createSweepHandler(env())(
      { dryRun: true, reason: "CHG-1234", actor: "alice" },
      context(),
    );

    expect(summary.trigger).toBe("manual");
    expect(summary.actor).toBe("alice");
    expect(summary.dryRun).toBe(true);
    expect(calls("CancelHandshake")).toBe(0);
    expect(summary.counts.DRY_RUN).toBeGreaterThan(0);
  });

  test("a scheduled event runs under the event id, and a retried event does nothing twice", async () => {
    const event = scheduledEvent({ id: `sched-${Date.now()}`, time: new Date().toISOString() }) as {
      id: string;
      resources: string[];
    };
    const open = () =>
      stack.org.handshakes().filter((h) => h.State === "OPEN" || h.State === "REQUESTED").length;
    const openBefore = open();

    const handler = createSweepHandler(env());
    const first = await handler(event, context());
    const cancelsAfterFirst = calls("CancelHandshake");
    const again = await handler(event, context());

    expect(first.runId).toBe(event.id);
    expect(first.trigger).toBe("scheduled");
    expect(first.actor).toBe(event.resources[0]);
    expect(first.counts.CANCELED ?? 0).toBeGreaterThan(0);
    expect(open()).toBe(openBefore - (first.counts.CANCELED ?? 0));
    expect(again.replayed).toBe(true);
    expect(calls("CancelHandshake")).toBe(cancelsAfterFirst);
    const run = await createAuditStore({
      client: createClients(loadSettings(env())).dynamodb,
      tableName: table,
    }).getRun(event.id);
    expect(run?.trigger).toBe("scheduled");
    expect(run?.status).toBe("COMPLETED");
  });

  test("writes the run's metrics as one EMF line that agrees with the summary", async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    let summary: Awaited<ReturnType<ReturnType<typeof createSweepHandler>>>;
    try {
      summary = await createSweepHandler(env())({ dryRun: true }, context());
    } finally {
      spy.mockRestore();
    }

    const emf = written
      .flatMap((chunk) => chunk.split("\n"))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line));
    expect(emf).toHaveLength(1);
    const [metrics] = emf;
    expect(metrics._aws.CloudWatchMetrics[0].Namespace).toBe("HandshakeJanitor");
    expect(metrics.Listed).toBe(summary.listed);
    expect(metrics.Matched).toBe(summary.matched);
    for (const outcome of ["DRY_RUN", "EXEMPTED", "CANCELED", "FAILED"] as const) {
      expect(metrics[`Outcome_${outcome}`]).toBe(summary.counts[outcome] ?? 0);
    }
    expect(metrics.Canceled).toBe(0);
    expect(metrics.RunNotCompleted).toBe(0);
  });

  test.each([
    [{ dryRun: "yes" }, "event.dryRun"],
    // Worded for the event, with the id's place in the list.
    [{ rules: ["stale-invitations", "no-such-rule"] }, "event.rules[1]: unknown rule id 'no-such-rule'"],
    [{ handshakeIds: ["H-NOT-VALID"] }, "event.handshakeIds[0]"],
    [{ colour: "blue" }, "event: unknown key 'colour'"],
    [{ source: "aws.events", "detail-type": "Scheduled Event" }, "event.id"],
    [{ handshakeIds: [] }, "event.handshakeIds: must not be empty"],
    [{ rules: [] }, "event.rules: must not be empty"],
    [{ dryRun: false, source: "aws.events", "detail-type": "Scheduled Event" }, "unknown key 'dryRun'"],
    [scheduledEvent({ dryRun: true }), "event: unknown key 'dryRun' in a scheduled event"],
  ])("a malformed event %j is rejected naming %s, and nothing is called", async (event, field) => {
    stack.org.resetStats();

    const invoked = createSweepHandler(env())(event, context());

    await expect(invoked).rejects.toThrow(field);
    expect(calls()).toBe(0);
  });
});
