import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_ORGANIZATION,
  type EmulatorHandshake,
  handshakeArn,
  inviteResources,
} from "../../devtools/org-emulator/index.js";
import { DEFAULT_TOPIC_ARN, type SnsEmulator, startSnsEmulator } from "../../devtools/sns-emulator.js";
import { LOCAL_CREDENTIALS } from "../../devtools/stack-env.js";
import { wire } from "../../src/app.js";
import { chainedActions, createAuditStore } from "../../src/aws/audit/index.js";
import type { Clients } from "../../src/aws/clients.js";
import { createSnsNotifier, SNS_BACKOFF } from "../../src/aws/sns.js";
import { parseConfig } from "../../src/config/config.js";
import { ConfigError } from "../../src/domain/errors.js";
import { verifyChain } from "../../src/evidence/integrity.js";
import { createSweepHandler } from "../../src/handlers/sweep.js";
import { MESSAGE_MAX_BYTES } from "../../src/notify/digest.js";
import { notifyRun } from "../../src/notify/notify.js";
import { loadSettings } from "../../src/settings.js";
import { type RunSummary, sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { lambdaContext } from "../support/lambda-context.js";
import { localDynamoDbClient, runCli, type Stack, stackEnv, startStack } from "../support/stack.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;
let stack: Stack;
let sns: SnsEmulator;
const dir = mkdtempSync(join(tmpdir(), "janitor-notify-"));

beforeAll(async () => {
  [stack, sns] = await Promise.all([startStack([]), startSnsEmulator()]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), sns?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function invite(n: number, email: string): EmulatorHandshake {
  const id = `h-${String(n).padStart(12, "0")}`;
  const requested = new Date(Date.now() - HOUR);
  const target = { Id: email, Type: "EMAIL" as const };
  return {
    Id: id,
    Arn: handshakeArn(DEFAULT_ORGANIZATION, "INVITE", id),
    Parties: [{ Id: DEFAULT_ORGANIZATION.Id, Type: "ORGANIZATION" }, target],
    State: "OPEN",
    RequestedTimestamp: requested,
    ExpirationTimestamp: new Date(requested.getTime() + 15 * DAY),
    Action: "INVITE",
    Resources: inviteResources(DEFAULT_ORGANIZATION, target),
  };
}

function env(tableName: string): Record<string, string> {
  return {
    ...stackEnv(stack.org, stack.db, tableName),
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    NOTIFY_TOPIC_ARN: DEFAULT_TOPIC_ARN,
  };
}

/** The real clients and adapters, pointed at the local stack by the settings of these variables. */
function realPorts(tableName: string) {
  return wire(loadSettings(env(tableName)), { credentials: LOCAL_CREDENTIALS });
}

const noPause = async () => {};

async function notifier(clients: Clients) {
  return createSnsNotifier({
    client: await clients.sns(),
    topicArn: DEFAULT_TOPIC_ARN,
    retry: { sleep: noPause },
  });
}

const DENY_GMAIL = (extra = "") =>
  parseConfig(
    [
      "version: 1",
      "dryRun: false",
      "maxCancellationsPerRun: 25",
      "rules:",
      "  - id: outside-email",
      "    type: email",
      '    deny: ["*@gmail.com"]',
      extra,
    ].join("\n"),
    "janitor.yaml",
  );

describe("one digest per run", () => {
  it("a run that cancels twenty handshakes publishes one message naming all twenty", async () => {
    const gmail = Array.from({ length: 20 }, (_, i) => invite(i + 1, `person${i + 1}@gmail.com`));
    const others = [invite(101, "ann@example.com"), invite(102, "bob@example.com")];
    await stack.reseed([...gmail, ...others]);
    const tableName = await stack.newTable();
    const config = join(dir, "deny.yaml");
    writeFileSync(
      config,
      'version: 1\ndryRun: false\nrules:\n  - id: outside-email\n    type: email\n    deny: ["*@gmail.com"]\n',
    );
    const before = sns.published().length;

    const first = await runCli(["run", "--config", config, "--json"], env(tableName));
    const again = await runCli(["run", "--config", config, "--json"], env(tableName));

    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).counts).toEqual({ CANCELED: 20 });
    expect(again.code, again.stderr).toBe(0);
    const messages = sns.published().slice(before);
    // The second run had nothing to say: no message.
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message?.subject).toBe("handshake-janitor: 20 canceled");
    for (const handshake of gmail)
      expect(message?.message).toContain(`${handshake.Id} INVITE to p***@gmail.com`);
    for (const handshake of others) expect(message?.message).not.toContain(handshake.Id);
    expect(message?.message).not.toMatch(/person\d+@gmail\.com/);
  });
});

describe("grace period", () => {
  it("marks once, waits across runs, closes marks that no longer apply and cancels the rest when due", async () => {
    const [a, b, c, d] = [1, 2, 3, 4].map((n) => invite(200 + n, `guest${n}@gmail.com`)) as [
      EmulatorHandshake,
      EmulatorHandshake,
      EmulatorHandshake,
      EmulatorHandshake,
    ];
    await stack.reseed([a, b, c, d, invite(299, "ok@example.com")]);
    const tableName = await stack.newTable();
    const { clients, organizations } = realPorts(tableName);
    const config = DENY_GMAIL("    graceHours: 2");
    const start = new Date();
    let clock = start;
    // The store keeps the run's clock too: the organization's lease expires by it.
    const audit = createAuditStore({ client: clients.dynamodb, tableName, now: () => clock });
    const ports = { organizations, ...sweepPorts(audit), now: () => clock };
    const states = () => new Map(stack.org.handshakes().map((h) => [h.Id, h.State]));
    const before = sns.published().length;
    const runs: RunSummary[] = [];
    const runAt = async (offsetMs: number, runConfig = config) => {
      clock = new Date(start.getTime() + offsetMs);
      const summary = await sweep(
        { config: runConfig, runId: `grace-${runs.length + 1}`, trigger: "cli", actor: "test" },
        ports,
      );
      await notifyRun(summary, { notifier: await notifier(clients), audit });
      runs.push(summary);
      return summary;
    };

    // 1. Marked, nothing canceled.
    const marked = await runAt(0);
    expect(marked.counts).toEqual({ MARKED: 4 });
    const due = new Date(start.getTime() + 2 * HOUR).toISOString();
    expect(marked.actions.map((x) => x.cancelAfter)).toEqual([due, due, due, due]);
    expect([...states().values()].every((state) => state === "OPEN")).toBe(true);
    expect((await audit.listOpenMarks()).map((m) => m.handshakeId).sort()).toEqual(
      [a.Id, b.Id, c.Id, d.Id].sort(),
    );

    // 2. While the grace runs: no item, no cancel, no message, however many runs.
    for (const offset of [HOUR, 1.5 * HOUR]) {
      const waiting = await runAt(offset);
      expect(waiting.counts).toEqual({});
      expect(waiting.actions).toEqual([]);
    }
    expect(stack.org.stats().CancelHandshake?.requests ?? 0).toBe(0);

    // 3. Meanwhile b is accepted and c exempted: their marks are closed, a and d still wait.
    stack.org.mutate(b.Id, "ACCEPTED");
    const exempting = DENY_GMAIL(
      `    graceHours: 2\nexemptions:\n  - handshakeId: ${c.Id}\n    reason: partner onboarding, ticket SEC-7`,
    );
    const closing = await runAt(1.75 * HOUR, exempting);
    expect(closing.actions.map((x) => [x.handshakeId, x.outcome]).sort()).toEqual(
      [
        [b.Id, "STATE_CHANGED"],
        [c.Id, "EXEMPTED"],
      ].sort(),
    );
    for (const action of closing.actions) expect(action.reason).toContain("mark of run grace-1 closed");
    expect((await audit.listOpenMarks()).map((m) => m.handshakeId).sort()).toEqual([a.Id, d.Id].sort());

    // 4. Due and still matching: canceled, and their marks closed (c is exempted as in any run).
    const canceling = await runAt(2 * HOUR + 1_000, exempting);
    expect(canceling.actions.map((x) => [x.handshakeId, x.outcome]).sort()).toEqual(
      [
        [a.Id, "CANCELED"],
        [c.Id, "EXEMPTED"],
        [d.Id, "CANCELED"],
      ].sort(),
    );
    expect(canceling.actions.find((x) => x.handshakeId === c.Id)?.reason).not.toContain("mark");
    expect(states().get(a.Id)).toBe("CANCELED");
    expect(states().get(b.Id)).toBe("ACCEPTED");
    expect(states().get(c.Id)).toBe("OPEN");
    expect(await audit.listOpenMarks()).toEqual([]);

    // 5. Nothing left to do; each handshake was marked exactly once.
    const after = await runAt(3 * HOUR, exempting);
    expect(after.actions.map((x) => [x.handshakeId, x.outcome])).toEqual([[c.Id, "EXEMPTED"]]);
    for (const handshake of [a, b, c, d]) {
      const history = [];
      for await (const item of audit.queryActions({ handshakeId: handshake.Id })) history.push(item.outcome);
      expect(history.filter((outcome) => outcome === "MARKED")).toHaveLength(1);
    }
    const db = localDynamoDbClient(stack.db.endpoint);
    const stored = await db.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: "RUN#grace-1" }, sk: { S: `ACTION#${a.Id}` } },
      }),
    );
    db.destroy();
    // Runs 2 and 3 waited, run 4 closed b's and c's marks, run 5 canceled a and d.
    expect(stored.Item?.markClosedBy?.S).toBe("grace-5");
    expect(stored.Item?.pendingKey).toBeUndefined();
    expect(stored.Item?.cancelAfter?.S).toBe(due);

    // Every run's chain is intact, the marks' cancelAfter included.
    for (const run of runs) {
      const chain = await audit.readChain(run.runId);
      expect(
        verifyChain(
          { runId: run.runId, ...(chain.head ? { head: chain.head } : {}) },
          chainedActions(chain.actions).items,
        ),
      ).toEqual([]);
    }

    // Two messages: the marks (with when they fall due), then the cancellations.
    const messages = sns.published().slice(before);
    expect(messages.map((m) => m.subject)).toEqual([
      "handshake-janitor: 4 marked",
      "handshake-janitor: 2 canceled",
    ]);
    expect(messages[0]?.message).toContain(`cancel after ${due}`);
  });

  it("a dry run records what it would mark and makes no mark", async () => {
    await stack.reseed([invite(301, "guest@gmail.com")]);
    const tableName = await stack.newTable();
    const { organizations, audit } = realPorts(tableName);
    const summary = await sweep(
      {
        config: DENY_GMAIL("    graceHours: 5"),
        runId: "dry-1",
        trigger: "cli",
        actor: "test",
        dryRun: true,
      },
      { organizations, ...sweepPorts(audit), now: () => new Date() },
    );
    expect(summary.counts).toEqual({ DRY_RUN: 1 });
    expect(summary.actions[0]?.reason).toMatch(/^would mark, due at \d{4}-/);
    expect(await audit.listOpenMarks()).toEqual([]);
  });

  it("audit query --outcome MARKED shows when each mark falls due", async () => {
    await stack.reseed([invite(401, "late@gmail.com")]);
    const tableName = await stack.newTable();
    const { organizations, audit } = realPorts(tableName);
    const summary = await sweep(
      { config: DENY_GMAIL("    graceHours: 24"), runId: "mark-1", trigger: "cli", actor: "test" },
      { organizations, ...sweepPorts(audit), now: () => new Date() },
    );
    const cancelAfter = summary.actions[0]?.cancelAfter ?? "missing";
    const shown = await runCli(["audit", "query", "--outcome", "MARKED"], env(tableName));
    expect(shown.code, shown.stderr).toBe(0);
    const [header] = shown.stdout.split("\n");
    const row = shown.stdout.split("\n").find((line) => line.includes("h-000000000401"));
    expect(header).toMatch(/cancelAfter/);
    expect(row).toContain(cancelAfter);
    expect(row).toContain("h-000000000401");
  });
});

describe("publish failures", () => {
  it.each([
    {
      fault: "throttled",
      faults: { throttle: "all" as const },
      error: /Throttled/,
      requests: SNS_BACKOFF.maxAttempts,
    },
    { fault: "down", faults: { down: true }, error: /ECONNRESET|socket hang up|Timeout/, requests: 0 },
  ])(
    "SNS $fault: the run's outcomes stand and the failure is on the run item",
    async ({ faults, error, requests }) => {
      const handshakes = [1, 2, 3].map((n) => invite(500 + n, `x${n}@gmail.com`));
      await stack.reseed(handshakes);
      const tableName = await stack.newTable();
      const { clients, organizations, audit } = realPorts(tableName);
      const runId = `fail-${faults.down ? "down" : "throttle"}`;
      const summary = await sweep(
        { config: DENY_GMAIL(), runId, trigger: "cli", actor: "test" },
        { organizations, ...sweepPorts(audit), now: () => new Date() },
      );
      const beforeRequests = sns.requests();
      const beforeMessages = sns.published().length;
      sns.setFaults(faults);
      let failures = 0;
      const result = await notifyRun(summary, {
        notifier: await notifier(clients),
        audit,
        onFailure: () => {
          failures += 1;
        },
      }).finally(() => sns.setFaults({}));

      expect(result).toMatchObject({ published: false, reason: "failed" });
      expect(failures).toBe(1);
      expect(sns.requests() - beforeRequests).toBe(requests);
      expect(sns.published().length).toBe(beforeMessages);
      expect(summary.counts).toEqual({ CANCELED: 3 });
      expect(stack.org.handshakes().map((h) => h.State)).toEqual(["CANCELED", "CANCELED", "CANCELED"]);
      const run = await audit.getRun(runId);
      expect(run?.status).toBe("COMPLETED");
      expect(run?.counts).toEqual({ CANCELED: 3 });
      expect(run?.notifyError).toMatch(error);
      const items = await audit.getRunActions(runId);
      expect(items.map((item) => item.outcome)).toEqual(["CANCELED", "CANCELED", "CANCELED"]);
    },
  );

  it("the CLI reports a throttled publish beside the run and exits as the run did", async () => {
    await stack.reseed([invite(601, "y@gmail.com")]);
    const tableName = await stack.newTable();
    const config = join(dir, "deny-cli.yaml");
    writeFileSync(
      config,
      'version: 1\ndryRun: false\nrules:\n  - {id: r, type: email, deny: ["*@gmail.com"]}\n',
    );
    sns.setFaults({ throttle: "all" });
    const result = await runCli(
      ["run", "--config", config, "--json", "--run-id", "cli-throttled"],
      env(tableName),
    ).finally(() => sns.setFaults({}));
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).counts).toEqual({ CANCELED: 1 });
    expect(result.stderr).toContain("notification not published (recorded on the run): NotifyError");
    const store = createAuditStore({ client: localDynamoDbClient(stack.db.endpoint), tableName });
    expect((await store.getRun("cli-throttled"))?.notifyError).toMatch(/Throttled/);
  });
});

describe("size limit", () => {
  it("a digest over 256 KB is summarised and published, never dropped", async () => {
    const allow = Array.from({ length: 30 }, (_, i) => `"*@approved-partner-number-${i}.example.com"`).join(
      ", ",
    );
    const handshakes = Array.from({ length: 300 }, (_, i) =>
      invite(1000 + i, `${"long-name.".repeat(8)}${i}@gmail.com`),
    );
    await stack.reseed(handshakes);
    const tableName = await stack.newTable();
    const { clients, organizations, audit } = realPorts(tableName);
    const config = parseConfig(
      `version: 1\ndryRun: false\nrules:\n  - id: partners-only\n    type: email\n    allow: [${allow}]\n    graceHours: 1\n`,
      "big.yaml",
    );
    const summary = await sweep(
      { config, runId: "big-1", trigger: "cli", actor: "test" },
      { organizations, ...sweepPorts(audit), now: () => new Date() },
    );
    expect(summary.counts).toEqual({ MARKED: 300 });
    const before = sns.published().length;

    const result = await notifyRun(summary, { notifier: await notifier(clients), audit });

    expect(result).toMatchObject({ published: true, summarised: true });
    const messages = sns.published().slice(before);
    expect(messages).toHaveLength(1);
    const message = messages[0]?.message ?? "";
    expect(Buffer.byteLength(message, "utf8")).toBeLessThanOrEqual(MESSAGE_MAX_BYTES);
    expect(messages[0]?.subject).toBe("handshake-janitor: 300 marked");
    expect(message).toContain("MARKED by rule partners-only: 300");
    const listed = message.split("\n").filter((line) => line.startsWith("- h-")).length;
    expect(listed).toBeGreaterThan(0);
    expect(listed).toBeLessThan(300);
    expect(message).toContain(`and ${300 - listed} more; run \`handshake-janitor audit query --run big-1\``);
  });
});

describe("the Lambda handler", () => {
  it("rejects a malformed NOTIFY_TOPIC_ARN before any call, and publishes the digest with a good one", async () => {
    const handshakes = [invite(701, "z1@gmail.com"), invite(702, "z2@gmail.com")];
    await stack.reseed(handshakes);
    const tableName = await stack.newTable();
    const config = join(dir, "handler.yaml");
    writeFileSync(
      config,
      'version: 1\ndryRun: false\nrules:\n  - {id: r, type: email, deny: ["*@gmail.com"]}\n',
    );
    const lambdaEnv = { ...env(tableName), JANITOR_CONFIG: config, POWERTOOLS_LOG_LEVEL: "ERROR" };
    stack.org.resetStats();

    const rejected = await createSweepHandler({
      ...lambdaEnv,
      NOTIFY_TOPIC_ARN: "arn:aws:sqs:us-east-1:123456789012:q",
    })({ reason: "CHG-1" }, lambdaContext()).catch((error: unknown) => error);
    expect(rejected).toBeInstanceOf(ConfigError);
    expect((rejected as ConfigError).issues).toEqual([
      'NOTIFY_TOPIC_ARN: "arn:aws:sqs:us-east-1:123456789012:q" is not the ARN of a standard SNS topic (arn:aws:sns:REGION:ACCOUNT:NAME)',
    ]);
    expect(Object.values(stack.org.stats()).reduce((sum, op) => sum + op.requests, 0)).toBe(0);

    const before = sns.published().length;
    const summary = await createSweepHandler(lambdaEnv)({ reason: "CHG-2" }, lambdaContext());
    expect(summary.counts).toEqual({ CANCELED: 2 });
    const messages = sns.published().slice(before);
    expect(messages.map((m) => m.subject)).toEqual(["handshake-janitor: 2 canceled"]);
    for (const h of handshakes) expect(messages[0]?.message).toContain(h.Id);
  });
});

describe("open marks in the audit table", () => {
  it("live on the pending index as MARKED, apart from pending intents and unlinked items", async () => {
    const tableName = await stack.newTable();
    const store = createAuditStore({ client: localDynamoDbClient(stack.db.endpoint), tableName });
    const at = "2026-11-29T10:00:00.000Z";
    await store.startRun({
      runId: "marks-1",
      trigger: "cli",
      actor: "t",
      status: "RUNNING",
      dryRun: false,
      startedAt: at,
      counts: {},
      listed: 0,
      candidates: 0,
      matched: 0,
      configVersion: 1,
      configHash: "x",
    });
    const item = {
      runId: "marks-1",
      ruleId: "r",
      matchedRules: ["r"],
      dryRun: false,
      at,
      trigger: "cli" as const,
      actor: "t",
      action: "INVITE",
      target: "a@gmail.com",
      targetType: "EMAIL",
      reason: "denied",
      attempts: 0,
    };
    const cancelAfter = "2026-11-30T10:00:00.000Z";
    // One mark written on its own (as a rerun does), one in a batch, one dry-run "mark", one intent.
    await store.recordAction({ ...item, handshakeId: "h-0000000011", outcome: "MARKED", cancelAfter });
    await store.recordFinals([
      { ...item, handshakeId: "h-0000000012", outcome: "MARKED", cancelAfter },
      { ...item, handshakeId: "h-0000000013", outcome: "DRY_RUN", dryRun: true },
    ]);
    await store.recordAction({ ...item, handshakeId: "h-0000000014" });

    const open = await store.listOpenMarks();
    expect(open.map((m) => [m.handshakeId, m.cancelAfter, m.runId, m.ruleId]).sort()).toEqual([
      ["h-0000000011", cancelAfter, "marks-1", "r"],
      ["h-0000000012", cancelAfter, "marks-1", "r"],
    ]);
    expect((await store.listPendingIntents()).map((i) => i.handshakeId)).toEqual(["h-0000000014"]);
    expect(await store.linkUnchained()).toBe(0);

    await store.closeMark({ runId: "marks-1", handshakeId: "h-0000000011" }, "marks-2");
    await store.closeMark({ runId: "marks-1", handshakeId: "h-0000000011" }, "marks-3");
    expect((await store.listOpenMarks()).map((m) => m.handshakeId)).toEqual(["h-0000000012"]);
    // The closing attribute is bookkeeping: the chain of the marking run still verifies.
    const chain = await store.readChain("marks-1");
    expect(
      verifyChain(
        { runId: "marks-1", ...(chain.head ? { head: chain.head } : {}) },
        chainedActions(chain.actions).items,
      ),
    ).toEqual([]);
  });
});
