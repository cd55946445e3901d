import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { InviteAccountToOrganizationCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { CloudTrailApiCallEvent } from "../../devtools/cloudtrail.js";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import { DEFAULT_TOPIC_ARN, startSnsEmulator } from "../../devtools/sns-emulator.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { HANDSHAKE_ID_PROBLEM } from "../../src/domain/handshake.js";
import { parseRealtimeEvent } from "../../src/handlers/cloudtrail-event.js";
import { createRealtimeLambdaHandler, type RealtimeResult } from "../../src/handlers/realtime.js";
import type { RunSummary } from "../../src/sweep/sweep.js";
import { lambdaContext } from "../support/lambda-context.js";
import { localDynamoDbClient, type Stack, stackEnv, startStack } from "../support/stack.js";

let stack: Stack;
let table: string;
let organizations: OrganizationsClient;
let sequence = 0;

beforeAll(async () => {
  // An organization with no handshakes: every one the tests judge is created by a real invitation.
  stack = await startStack([]);
  table = await stack.newTable();
  organizations = new OrganizationsClient({
    endpoint: stack.org.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIALOCALTEST", secretAccessKey: "local" },
    maxAttempts: 1,
  });
}, 60_000);
afterAll(async () => {
  organizations?.destroy();
  await stack?.stop();
});

function env() {
  return {
    ...stackEnv(stack.org, stack.db, table),
    JANITOR_CONFIG: DEMO_CONFIG,
    POWERTOOLS_LOG_LEVEL: "ERROR",
  };
}

function store(now?: () => Date) {
  return createAuditStore({
    client: localDynamoDbClient(stack.db.endpoint),
    tableName: table,
    ...(now ? { now } : {}),
  });
}

function calls(operation?: string): number {
  const stats = stack.org.stats();
  if (operation) return stats[operation]?.requests ?? 0;
  return Object.values(stats).reduce((sum, s) => sum + s.requests, 0);
}

function stateOf(id: string): string | undefined {
  return stack.org.handshakes().find((h) => h.Id === id)?.State;
}

/**
 * Sends a real invitation through the SDK and returns the CloudTrail event the emulator recorded
 * for it. examples/janitor.yaml denies *@gmail.com and requires a CHG- ticket in the notes.
 */
async function invite(kind: "forbidden" | "allowed"): Promise<{ id: string; event: CloudTrailApiCallEvent }> {
  sequence += 1;
  const email = kind === "forbidden" ? `someone.${sequence}@gmail.com` : `new.hire.${sequence}@example.com`;
  const answer = await organizations.send(
    new InviteAccountToOrganizationCommand({
      Target: { Type: "EMAIL", Id: email },
      ...(kind === "allowed" ? { Notes: `onboarding, CHG-${1000 + sequence}` } : {}),
    }),
  );
  const id = answer.Handshake?.Id ?? "";
  const event = stack.org.events().find((e) => e.detail.responseElements.handshake.id === id);
  if (!event) throw new Error(`the emulator recorded no event for ${id}`);
  return { id, event };
}

function judged(event: unknown): Promise<RealtimeResult> {
  return createRealtimeLambdaHandler(env())(event, lambdaContext(30_000));
}

function asSummary(result: RealtimeResult): RunSummary {
  if (!("runId" in result)) throw new Error(`not a run summary: ${JSON.stringify(result)}`);
  return result;
}

async function auditOf(handshakeId: string) {
  const items = [];
  for await (const item of store().queryActions({ handshakeId })) items.push(item);
  return items;
}

describe("the emulator's CloudTrail event", () => {
  test("has EventBridge's envelope and the lower-case, text-dated copy of the new handshake", async () => {
    const before = Date.now();
    const { id, event } = await invite("forbidden");

    expect(event).toMatchObject({
      version: "0",
      source: "aws.organizations",
      "detail-type": "AWS API Call via CloudTrail",
      account: stack.org.organization.MasterAccountId,
      region: "us-east-1",
      detail: {
        eventSource: "organizations.amazonaws.com",
        eventName: "InviteAccountToOrganization",
        eventType: "AwsApiCall",
        userIdentity: { accessKeyId: "AKIALOCALTEST", accountId: stack.org.organization.MasterAccountId },
      },
    });
    const copy = event.detail.responseElements.handshake;
    expect(Object.keys(copy).every((key) => key === key.toLowerCase() || key.endsWith("Timestamp"))).toBe(
      true,
    );
    expect(copy.action).toBe("invite");
    expect(copy.requestedTimestamp).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$/);

    const parsed = parseRealtimeEvent(event);
    if (parsed.kind !== "invite") throw new Error("not an invitation");
    const stored = stack.org.handshakes().find((h) => h.Id === id);
    expect(parsed.handshakeId).toBe(id);
    expect(parsed.runId).toBe(`event-${event.id}`);
    expect(parsed.actor).toBe(event.detail.userIdentity.arn);
    expect(parsed.hint.action).toBe("INVITE");
    expect(parsed.hint.target).toEqual({ type: "EMAIL", value: stored?.Parties[1]?.Id });
    // Text dates keep whole seconds.
    const requested = parsed.hint.requestedAt?.getTime() ?? 0;
    expect(Math.abs(requested - (stored?.RequestedTimestamp.getTime() ?? 0))).toBeLessThan(1000);
    expect(requested).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  });
});

describe("a CloudTrail event for an invitation", () => {
  test("to a forbidden address cancels it at once and records a trigger: event run", async () => {
    const { id, event } = await invite("forbidden");
    stack.org.resetStats();

    const summary = asSummary(await judged(event));

    expect(summary.runId).toBe(`event-${event.id}`);
    expect(summary.trigger).toBe("event");
    expect(summary.status).toBe("COMPLETED");
    expect(summary.actions.map((a) => [a.handshakeId, a.outcome])).toEqual([[id, "CANCELED"]]);
    expect(stateOf(id)).toBe("CANCELED");
    expect(calls("DescribeHandshake")).toBe(1);
    expect(calls("CancelHandshake")).toBe(1);
    expect(calls("ListHandshakesForOrganization")).toBe(0);
    const [item, ...others] = await auditOf(id);
    expect(others).toEqual([]);
    expect(item).toMatchObject({
      runId: `event-${event.id}`,
      outcome: "CANCELED",
      trigger: "event",
      actor: event.detail.userIdentity.arn,
      ruleId: "outside-email",
    });
    const run = await store().getRun(`event-${event.id}`);
    expect(run).toMatchObject({ trigger: "event", status: "COMPLETED", listed: 1, candidates: 1 });
    // The ledger has it as seen, then canceled by this run, before any listing shows it so.
    const { record, entries } = await store().handshakeLedger(id);
    expect(record).toMatchObject({ state: "CANCELED", verdict: "selected", changedRun: summary.runId });
    expect(entries.map((entry) => [entry.kind, entry.previousState, entry.state])).toEqual([
      ["SEEN", undefined, "OPEN"],
      ["STATE", "OPEN", "CANCELED"],
    ]);
  });

  test("delivered twice cancels once: the second delivery replays the recorded run", async () => {
    const { id, event } = await invite("forbidden");
    stack.org.resetStats();

    const first = asSummary(await judged(event));
    const second = asSummary(await judged(structuredClone(event)));

    expect(first.counts.CANCELED).toBe(1);
    expect(second.replayed).toBe(true);
    expect(second.status).toBe("COMPLETED");
    expect(calls("CancelHandshake")).toBe(1);
    expect((await auditOf(id)).map((item) => item.outcome)).toEqual(["CANCELED"]);
  });

  test("to an allowed address leaves it open and records a run with no action", async () => {
    const { id, event } = await invite("allowed");
    stack.org.resetStats();

    const summary = asSummary(await judged(event));

    expect(summary.status).toBe("COMPLETED");
    expect([summary.listed, summary.candidates, summary.matched]).toEqual([1, 1, 0]);
    expect(stateOf(id)).toBe("OPEN");
    expect(calls("CancelHandshake")).toBe(0);
    expect(await auditOf(id)).toEqual([]);
    // No action, but the handshake ledger has it, with the verdict.
    const { record, entries } = await store().handshakeLedger(id);
    expect(record).toMatchObject({ state: "OPEN", verdict: "compliant", firstSeenRun: summary.runId });
    expect(entries.map((entry) => entry.kind)).toEqual(["SEEN"]);
  });

  test("is judged on the service's answer, not the event's copy: an invitation accepted meanwhile is left alone", async () => {
    const { id, event } = await invite("forbidden");
    stack.org.mutate(id, "ACCEPTED");
    stack.org.resetStats();

    const summary = asSummary(await judged(event));

    expect(event.detail.responseElements.handshake.state).toBe("OPEN");
    expect([summary.status, summary.listed, summary.candidates]).toEqual(["COMPLETED", 1, 0]);
    expect(calls("CancelHandshake")).toBe(0);
    // A rule would have selected it, and it was accepted before the janitor could act: escaped.
    expect(summary.ledger?.escaped.map((e) => [e.handshakeId, e.ruleId])).toEqual([[id, "outside-email"]]);
    expect(await auditOf(id)).toEqual([]);
  });

  test("for a handshake the service no longer knows records a run that found nothing", async () => {
    const { event } = await invite("forbidden");
    const gone = structuredClone(event);
    gone.id = `${event.id.slice(0, -4)}0000`;
    gone.detail.responseElements.handshake.id = "h-0000000000gone00";
    stack.org.resetStats();

    const summary = asSummary(await judged(gone));

    expect([summary.status, summary.listed, summary.actions.length]).toEqual(["COMPLETED", 0, 0]);
    expect(calls("DescribeHandshake")).toBe(1);
    expect(calls("CancelHandshake")).toBe(0);
  });
});

describe("a judged invitation's notification", () => {
  test("is one SNS digest naming the canceled handshake and who sent the invitation", async () => {
    const sns = await startSnsEmulator();
    try {
      const { id, event } = await invite("forbidden");
      const notifyEnv = { ...env(), NOTIFY_TOPIC_ARN: DEFAULT_TOPIC_ARN, AWS_ENDPOINT_URL_SNS: sns.endpoint };

      const handler = createRealtimeLambdaHandler(notifyEnv);
      const result = asSummary(await handler(event, lambdaContext(30_000)));
      const again = asSummary(await handler(event, lambdaContext(30_000)));

      expect(result.counts.CANCELED).toBe(1);
      expect(again.replayed).toBe(true);
      const messages = sns.published();
      expect(messages).toHaveLength(1);
      expect(messages[0]?.subject).toBe("handshake-janitor: 1 canceled");
      expect(messages[0]?.message).toContain(id);
      expect(messages[0]?.message).toContain(`invitation sent by ${event.detail.userIdentity.arn}`);
    } finally {
      await sns.stop();
    }
  });
});

describe("events that are not judged", () => {
  const envelope = {
    version: "0",
    id: "6f1e3c52-0000-4000-8000-000000000001",
    "detail-type": "AWS API Call via CloudTrail",
    source: "aws.organizations",
    account: "123456789012",
    time: "2026-11-29T12:00:00Z",
    region: "us-east-1",
    resources: [],
  };
  const detail = {
    eventSource: "organizations.amazonaws.com",
    eventName: "InviteAccountToOrganization",
    userIdentity: { type: "IAMUser", principalId: "AIDAEXAMPLE", arn: "arn:aws:iam::123456789012:user/ops" },
    responseElements: { handshake: { id: "h-abcdef0123456789", state: "OPEN", action: "invite" } },
  };

  test.each([
    ["not an object", "just text", "event: must be object"],
    [
      "a scheduled event",
      { ...envelope, source: "aws.events", "detail-type": "Scheduled Event" },
      "event.source",
    ],
    ["no id", { ...envelope, id: undefined, detail }, "event.id"],
    ["an id that is not key-safe", { ...envelope, id: "a#b", detail }, "event.id"],
    [
      "another service",
      { ...envelope, detail: { ...detail, eventSource: "iam.amazonaws.com" } },
      "event.detail.eventSource",
    ],
    [
      "a handshake id that is not one",
      { ...envelope, detail: { ...detail, responseElements: { handshake: { id: "H-1; drop" } } } },
      `event.detail.responseElements.handshake.id: ${HANDSHAKE_ID_PROBLEM}`,
    ],
    [
      "no handshake",
      { ...envelope, detail: { ...detail, responseElements: null } },
      "event.detail.responseElements.handshake: required",
    ],
    [
      "no caller",
      { ...envelope, detail: { ...detail, userIdentity: { accountId: "123456789012" } } },
      "event.detail.userIdentity: names no caller",
    ],
  ])("%s is rejected with one line naming the field, and nothing is called", async (_name, event, line) => {
    stack.org.resetStats();

    const invoked = judged(event);

    await expect(invoked).rejects.toThrow(line);
    await invoked.catch((error: Error) => expect(error.message.split("\n")).toHaveLength(1));
    expect(calls()).toBe(0);
    expect(await store().getRun(`event-${envelope.id}`)).toBeUndefined();
  });

  test.each([
    [
      "another operation",
      { ...envelope, detail: { ...detail, eventName: "CreateAccount" } },
      "CreateAccount is not judged",
    ],
    [
      "an invitation that failed",
      {
        ...envelope,
        detail: { ...detail, errorCode: "DuplicateHandshakeException", responseElements: null },
      },
      "failed (DuplicateHandshakeException)",
    ],
  ])("%s is ignored: nothing is called", async (_name, event, reason) => {
    stack.org.resetStats();

    const result = await judged(event);

    expect(result).toEqual({ ignored: expect.stringContaining(reason) });
    expect(calls()).toBe(0);
  });
});

describe("the handshake's claim", () => {
  test("held by another run makes the decision DEFERRED without calling CancelHandshake", async () => {
    const { id, event } = await invite("forbidden");
    const claimed = await store().claimHandshake(id, "sweep-run-7", 60_000);
    stack.org.resetStats();

    const summary = asSummary(await judged(event));

    expect(claimed).toEqual({ taken: true });
    expect(summary.status).toBe("PARTIAL");
    expect(summary.actions).toHaveLength(1);
    expect(summary.actions[0]).toMatchObject({ handshakeId: id, outcome: "DEFERRED", attempts: 0 });
    expect(summary.actions[0]?.reason).toContain("claimed by sweep-run-7");
    expect(calls("CancelHandshake")).toBe(0);
    // Skipped before any intent: nothing pending for the next sweep to reconcile.
    expect((await store().listPendingIntents()).filter((intent) => intent.handshakeId === id)).toEqual([]);
    expect(stateOf(id)).toBe("OPEN");
    // The other holder still has it: the event did not take it over or release it.
    expect(await store().claimHandshake(id, "someone-else", 1_000)).toMatchObject({
      taken: false,
      holder: "sweep-run-7",
    });
    await store().releaseHandshake(id, "sweep-run-7");
  }, 20_000);

  test("held by the same event's run in another invocation means a concurrent redelivery: nothing is done", async () => {
    const { id, event } = await invite("forbidden");
    const holder = `event-${event.id}/req-first-delivery`;
    await store().claimHandshake(id, holder, 60_000);
    stack.org.resetStats();

    const result = await judged(event);

    expect(result).toMatchObject({ inProgress: { runId: `event-${event.id}`, holder } });
    expect(calls("CancelHandshake")).toBe(0);
    expect(await store().getRun(`event-${event.id}`)).toBeUndefined();
    await store().releaseHandshake(id, holder);
  });

  test("that expired is taken over, the handshake canceled and the claim released", async () => {
    const { id, event } = await invite("forbidden");
    // A holder that died two minutes ago with a one-minute claim.
    const past = store(() => new Date(Date.now() - 120_000));
    expect(await past.claimHandshake(id, "sweep-run-dead", 60_000)).toEqual({ taken: true });
    stack.org.resetStats();

    const summary = asSummary(await judged(event));

    expect(summary.actions.map((a) => a.outcome)).toEqual(["CANCELED"]);
    expect(calls("CancelHandshake")).toBe(1);
    const client = localDynamoDbClient(stack.db.endpoint);
    const claim = await client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `CLAIM#${id}` }, sk: { S: "CLAIM" } } }),
    );
    client.destroy();
    expect(claim.Item?.holder?.S).toMatch(new RegExp(`^event-${event.id}/`));
    expect(claim.Item?.claimedUntil?.N).toBe("0");
    // Off every index: none of the attributes the four indexes key on.
    for (const attribute of ["timeKey", "handshakeId", "ruleId", "pendingKey"]) {
      expect(claim.Item?.[attribute]).toBeUndefined();
    }
  });
});

describe("a burst of invitations", () => {
  test("fifty in a row, judged five at a time under CancelHandshake's rate limit: none lost, each canceled once", async () => {
    const invited: { id: string; kind: "forbidden" | "allowed"; event: CloudTrailApiCallEvent }[] = [];
    for (let i = 0; i < 50; i += 1) {
      const kind = i % 2 === 0 ? "forbidden" : "allowed";
      invited.push({ kind, ...(await invite(kind)) });
    }
    stack.org.setFaults({ throttle: { CancelHandshake: { ratePerSecond: 10, burst: 2 } } });
    stack.org.resetStats();

    const queue = [...invited];
    const results: RealtimeResult[] = [];
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) results.push(await judged(next.event));
      }),
    );
    stack.org.setFaults({});

    const forbidden = invited.filter((i) => i.kind === "forbidden");
    const allowed = invited.filter((i) => i.kind === "allowed");
    expect(results).toHaveLength(50);
    for (const result of results) expect(asSummary(result).status).toBe("COMPLETED");
    for (const { id } of forbidden) {
      expect(stateOf(id)).toBe("CANCELED");
      const items = await auditOf(id);
      expect(items.map((item) => [item.outcome, item.trigger])).toEqual([["CANCELED", "event"]]);
    }
    for (const { id } of allowed) {
      expect(stateOf(id)).toBe("OPEN");
      expect(await auditOf(id)).toEqual([]);
    }
    const cancels = stack.org.stats().CancelHandshake;
    expect(cancels?.successes).toBe(forbidden.length);
    // Every throttled call was retried: the attempts recorded account for every request sent.
    const attempts = results.flatMap((r) => asSummary(r).actions).reduce((sum, a) => sum + a.attempts, 0);
    expect(attempts).toBe(cancels?.requests);
  }, 120_000);
});

describe("an invitation under approval", () => {
  test("records a plan for its one handshake, made by the janitor's role, and cancels nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "janitor-realtime-approval-"));
    try {
      const config = join(dir, "approval.yaml");
      writeFileSync(
        config,
        'version: 1\ndryRun: false\napproval: required\nrules:\n  - id: outside-email\n    type: email\n    deny: ["*@gmail.com"]\n',
      );
      const { id, event } = await invite("forbidden");
      stack.org.resetStats();

      const summary = asSummary(
        await createRealtimeLambdaHandler({ ...env(), JANITOR_CONFIG: config })(event, lambdaContext(30_000)),
      );

      expect(summary.actions.map((a) => [a.handshakeId, a.outcome])).toEqual([[id, "PLANNED"]]);
      expect(calls("CancelHandshake")).toBe(0);
      expect(stateOf(id)).toBe("OPEN");
      expect(summary.plan).toMatchObject({ maker: "arn:aws:iam::123456789012:user/local", handshakes: 1 });
      const stored = await store().readPlan(summary.plan?.planId ?? "");
      expect(stored?.plan.entries.map((entry) => entry.handshakeId)).toEqual([id]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
