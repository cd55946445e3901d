import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetItemCommand, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type FaultProxy, startFaultProxy } from "../../devtools/fault-proxy.js";
import * as emulator from "../../devtools/org-emulator/index.js";
import { approverPolicyResource, iamStatements } from "../../scripts/template-parts.js";
import { wire } from "../../src/app.js";
import { DECISION_KEY_PREFIX } from "../../src/aws/audit/key-prefixes.js";
import { createWhoAmI } from "../../src/aws/identity.js";
import { canonicalJson } from "../../src/domain/canonical-json.js";
import { createSweepHandler } from "../../src/handlers/sweep.js";
import { decisionOf } from "../../src/policy/approval.js";
import type { CallerIdentity } from "../../src/ports/plans.js";
import { loadSettings } from "../../src/settings.js";
import { scheduledEvent } from "../support/events.js";
import { lambdaContext } from "../support/lambda-context.js";
import { type PolicyStatement, policyRule } from "../support/leading-keys.js";
import { localDynamoDbClient, runCli, runCliProcess, stackEnv, startStack } from "../support/stack.js";

/** Four eyes through the command line: a run plans, someone else approves, apply cancels what still matches. */

const { DEFAULT_ORGANIZATION, handshakeArn, inviteResources } = emulator;
type EmulatorHandshake = emulator.EmulatorHandshake;
const DAY = 86_400_000;
const ids = ["h-appr0000001", "h-appr0000002", "h-appr0000003"] as const;

/** One instant for every seeding: a reseeded invitation differs only in what a test changes. */
const requested = new Date(Date.now() - DAY);

function invitation(id: string, email: string, notes: string): EmulatorHandshake {
  return {
    Id: id,
    Arn: handshakeArn(DEFAULT_ORGANIZATION, "INVITE", id),
    Parties: [
      { Id: DEFAULT_ORGANIZATION.Id.slice(2), Type: "ORGANIZATION" },
      { Id: email, Type: "EMAIL" },
    ],
    State: "OPEN",
    RequestedTimestamp: requested,
    ExpirationTimestamp: new Date(requested.getTime() + 14 * DAY),
    Action: "INVITE",
    Resources: inviteResources(DEFAULT_ORGANIZATION, { Id: email, Type: "EMAIL" }, notes),
  };
}

function seed(notes: Partial<Record<string, string>> = {}): EmulatorHandshake[] {
  return ids.map((id, index) => invitation(id, `person${index}@gmail.com`, notes[id] ?? "welcome"));
}

let stack: Awaited<ReturnType<typeof startStack>>;
const dir = mkdtempSync(join(tmpdir(), "janitor-approval-"));

function configFile(name: string, extra = ""): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      "version: 1",
      "dryRun: false",
      "approval: required",
      'approvalNoteRequire: "CHG-[0-9]+"',
      extra,
      "rules:",
      "  - id: outside-email",
      "    type: email",
      '    deny: ["*@gmail.com"]',
    ].join("\n"),
  );
  return path;
}

beforeAll(async () => {
  stack = await startStack(seed());
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The environment of a person: the same stack, their own credentials (STS names them by key id). */
function as(person: string, table: string): Record<string, string> {
  return { ...stackEnv(stack.org, stack.db, table), AWS_ACCESS_KEY_ID: person, AWS_SECRET_ACCESS_KEY: "x" };
}

async function makePlan(config: string, table: string): Promise<string> {
  const made = await runCli(["run", "--config", config, "--json"], stackEnv(stack.org, stack.db, table));
  expect(made.code, made.stderr).toBe(0);
  const summary = JSON.parse(made.stdout);
  expect(summary.counts).toEqual({ PLANNED: 3 });
  return summary.plan.planId as string;
}

/** A fresh organization and table, a plan made of it, approved by someone else. */
async function approvedPlan(name: string, extra: string[] = []) {
  await stack.reseed(seed());
  const table = await stack.newTable();
  const config = configFile(name);
  const planId = await makePlan(config, table);
  const approved = await runCliProcess(
    ["approve", planId, "--note", "CHG-42 reviewed", ...extra, "--config", config],
    as("approver", table),
  );
  expect(approved.code, approved.stderr).toBe(0);
  return { table, config, planId, approved };
}

/** `apply --json` of a plan that applies: its run summary. */
async function applied(planId: string, config: string, table: string) {
  const result = await runCli(
    ["apply", planId, "--config", config, "--json"],
    stackEnv(stack.org, stack.db, table),
  );
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

function states(): Record<string, string> {
  return Object.fromEntries(stack.org.handshakes().map((h) => [h.Id, h.State]));
}

describe("four eyes", () => {
  test("a live run under approval cancels nothing and records a plan that names its maker", async () => {
    await stack.reseed(seed());
    const table = await stack.newTable();
    const planId = await makePlan(configFile("plan.yaml"), table);

    expect(stack.org.stats().CancelHandshake).toBeUndefined();
    const shown = await runCli(["plan", "show", planId], stackEnv(stack.org, stack.db, table));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("pending");
    expect(shown.stdout).toContain("made by arn:aws:iam::123456789012:user/local");
    expect(shown.stdout).toContain("intact");
    const listed = await runCli(["plan", "list", "--json"], stackEnv(stack.org, stack.db, table));
    expect(JSON.parse(listed.stdout).planId).toBe(planId);
  });

  test("the maker approving their own plan is refused with one line, exit 2", async () => {
    await stack.reseed(seed());
    const table = await stack.newTable();
    const config = configFile("own.yaml");
    const planId = await makePlan(config, table);

    const own = await runCli(
      ["approve", planId, "--note", "CHG-1 ok", "--config", config],
      stackEnv(stack.org, stack.db, table),
    );

    expect(own.code).toBe(2);
    expect(own.stderr.trim().split("\n")).toEqual([
      `approve: arn:aws:iam::123456789012:user/local made plan ${planId}; someone other than its maker must approve it`,
    ]);
  });

  test("a note without the required ticket is refused before anything is called", async () => {
    const table = await stack.newTable();
    const result = await runCli(
      ["approve", "plan-0123456789abcdef", "--note", "looks fine", "--config", configFile("note.yaml")],
      stackEnv(stack.org, stack.db, table),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--note: must contain a match for /CHG-[0-9]+/");
  });

  test("apply cancels exactly the approved handshakes that still match; a changed one is STALE_PLAN", async () => {
    const { table, config, planId, approved } = await approvedPlan("apply.yaml", [
      "--handshake",
      ids[0],
      "--handshake",
      ids[1],
    ]);
    expect(approved.stdout).toContain("approved by arn:aws:iam::123456789012:user/approver: 2 of 3");

    // Between approval and apply, the first invitation is accepted.
    stack.org.mutate(ids[0], "ACCEPTED");
    const summary = await applied(planId, config, table);

    expect(summary.counts).toEqual({ STALE_PLAN: 1, CANCELED: 1 });
    expect(states()).toEqual({ [ids[0]]: "ACCEPTED", [ids[1]]: "CANCELED", [ids[2]]: "OPEN" });
    expect(summary.plan).toMatchObject({
      planId,
      maker: "arn:aws:iam::123456789012:user/local",
      approver: "arn:aws:iam::123456789012:user/approver",
    });
    const stale = summary.actions.find((a: { outcome: string }) => a.outcome === "STALE_PLAN");
    expect(stale.reason).toContain("state OPEN -> ACCEPTED");

    const audit = await runCli(
      ["audit", "query", "--run", summary.runId, "--format", "json"],
      stackEnv(stack.org, stack.db, table),
    );
    const rows = audit.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows.map((row) => [row.handshakeId, row.outcome, row.planId, row.approver]).sort()).toEqual([
      [ids[0], "STALE_PLAN", planId, "arn:aws:iam::123456789012:user/approver"],
      [ids[1], "CANCELED", planId, "arn:aws:iam::123456789012:user/approver"],
    ]);
    const again = await runCli(["apply", planId, "--config", config], stackEnv(stack.org, stack.db, table));
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already applied");

    // The plan's whole record: what was planned, and what its apply did with each.
    const byPlan = await runCli(
      ["audit", "query", "--plan", planId, "--format", "json"],
      stackEnv(stack.org, stack.db, table),
    );
    expect(byPlan.code, byPlan.stderr).toBe(0);
    const planRows = byPlan.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(planRows.map((row) => [row.handshakeId, row.outcome]).sort()).toEqual(
      [
        [ids[0], "PLANNED"],
        [ids[1], "PLANNED"],
        [ids[2], "PLANNED"],
        [ids[0], "STALE_PLAN"],
        [ids[1], "CANCELED"],
      ].sort(),
    );
    expect(planRows.every((row) => row.planId === planId)).toBe(true);

    // The report puts the maker and the approver side by side.
    const out = join(dir, `report-${table}.html`);
    const report = await runCli(["audit", "report", "--out", out], stackEnv(stack.org, stack.db, table));
    expect(report.code, report.stderr).toBe(0);
    const html = readFileSync(out, "utf8");
    const plans = html.slice(
      html.indexOf('<table id="plans">'),
      html.indexOf("</table>", html.indexOf('<table id="plans">')),
    );
    expect(plans).toContain(planId);
    expect(plans).toContain("arn:aws:iam::123456789012:user/local");
    expect(plans).toContain("approved by arn:aws:iam::123456789012:user/approver");
    expect(plans).toContain("2 of 3");
    expect(plans).toContain(`run ${summary.runId}`);
  });

  test("a handshake given new notes between plan and apply is STALE_PLAN and not canceled", async () => {
    const { table, config, planId } = await approvedPlan("notes.yaml");

    await stack.reseed(seed({ [ids[2]]: "welcome, see CHG-9" }));
    const summary = await applied(planId, config, table);

    expect(summary.counts).toEqual({ CANCELED: 2, STALE_PLAN: 1 });
    expect(states()[ids[2]]).toBe("OPEN");
    const stale = summary.actions.find((a: { handshakeId: string }) => a.handshakeId === ids[2]);
    expect(stale.reason).toContain("its notes changed");
  });

  test("an expired plan applies nothing (exit 2)", async () => {
    await stack.reseed(seed());
    const table = await stack.newTable();
    // A hundredth of a second: expired by the time anyone approves.
    const config = configFile("expired.yaml", "approvalExpiryHours: 0.000003");
    const planId = await makePlan(config, table);
    const approve = await runCliProcess(
      ["approve", planId, "--note", "CHG-1", "--config", config],
      as("approver", table),
    );
    expect(approve.code).toBe(2);
    expect(approve.stderr).toContain("expired");

    const applied = await runCli(["apply", planId, "--config", config], stackEnv(stack.org, stack.db, table));

    expect(applied.code).toBe(2);
    expect(applied.stderr).toContain("expired");
    expect(stack.org.stats().CancelHandshake).toBeUndefined();
  });

  test("a rejected, unknown or edited plan is refused and nothing is canceled", async () => {
    await stack.reseed(seed());
    const table = await stack.newTable();
    const config = configFile("refused.yaml");
    const env = stackEnv(stack.org, stack.db, table);

    const unknown = await runCli(["apply", "plan-0123456789abcdef", "--config", config], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no plan 'plan-0123456789abcdef'");

    const edited = await makePlan(config, table);
    const client = localDynamoDbClient(stack.db.endpoint);
    try {
      const item = await client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: { S: `PLAN#${edited}` }, sk: { S: "PLAN" } },
          UpdateExpression: "SET #p = :p",
          ExpressionAttributeNames: { "#p": "plan" },
          ExpressionAttributeValues: { ":p": { S: "{}" } },
          ReturnValues: "ALL_OLD",
        }),
      );
      const original = item.Attributes?.plan?.S ?? "";
      const forged = original.replace(/"expiresAt":"[^"]+"/, '"expiresAt":"2999-01-01T00:00:00.000Z"');
      await client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: { S: `PLAN#${edited}` }, sk: { S: "PLAN" } },
          UpdateExpression: "SET #p = :p",
          ExpressionAttributeNames: { "#p": "plan" },
          ExpressionAttributeValues: { ":p": { S: forged } },
        }),
      );
    } finally {
      client.destroy();
    }
    const approveEdited = await runCliProcess(
      ["approve", edited, "--note", "CHG-3", "--config", config],
      as("approver", table),
    );
    expect(approveEdited.code).toBe(2);
    expect(approveEdited.stderr).toContain("edited since it was recorded");
    // The refusal is on record: verify names the edited plan as an integrity finding.
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const verified = await runCli(
      ["audit", "verify", "--since", since],
      stackEnv(stack.org, stack.db, table),
    );
    expect(verified.code).toBe(5);
    expect(verified.stdout).toMatch(
      new RegExp(
        `^plan ${edited}: integrity finding F-[0-9a-f]{12}: .*edited since it was recorded.*\\(not acknowledged`,
        "m",
      ),
    );

    await stack.reseed(seed());
    const rejectedTable = await stack.newTable();
    const rejected = await makePlan(config, rejectedTable);
    const reject = await runCliProcess(["reject", rejected, "--note", "CHG-4 not these"], {
      ...as("approver", rejectedTable),
      JANITOR_CONFIG: config,
    });
    expect(reject.code, reject.stderr).toBe(0);
    const applied = await runCli(
      ["apply", rejected, "--config", config],
      stackEnv(stack.org, stack.db, rejectedTable),
    );
    expect(applied.code).toBe(2);
    expect(applied.stderr).toContain("rejected by arn:aws:iam::123456789012:user/approver");
    expect(stack.org.stats().CancelHandshake).toBeUndefined();
  });
});

test("a stalled STS ends approve with a timeout, not a hang, and nothing is recorded", async () => {
  await stack.reseed(seed());
  const table = await stack.newTable();
  const config = configFile("stalled-sts.yaml");
  const planId = await makePlan(config, table);
  // Every STS request held far longer than the client's request timeout.
  const stalled = await startFaultProxy({
    target: stack.org.endpoint,
    rules: [{ fault: { kind: "delay", ms: 60_000 } }],
  });
  try {
    const approved = await runCliProcess(
      ["approve", planId, "--note", "CHG-12 reviewed", "--config", config],
      { ...as("approver", table), AWS_ENDPOINT_URL_STS: stalled.endpoint, JANITOR_REQUEST_TIMEOUT_MS: "500" },
      30_000,
    );

    expect(approved.code, approved.stderr).toBe(1);
    expect(approved.stderr).toMatch(/timeout|timed out/i);
    expect(stalled.stats().faults).not.toEqual({});
    const shown = await runCli(["plan", "show", planId, "--json"], stackEnv(stack.org, stack.db, table));
    expect(JSON.parse(shown.stdout).status).toBe("pending");
  } finally {
    await stalled.stop();
  }
});

const TRANSACT = "DynamoDB_20120810.TransactWriteItems";

describe("under the deployed policies, enforced in front of DynamoDB Local as IAM would", () => {
  // The sweep role's and the approvers' statements as the template holds them (test/support/leading-keys.ts).
  let janitorDb: FaultProxy;
  let approverDb: FaultProxy;
  /** Who "approver" is to STS, and to IAM's `${aws:userid}`. */
  let approverId: CallerIdentity;
  beforeAll(async () => {
    const approver = approverPolicyResource() as {
      Properties: { PolicyDocument: { Statement: PolicyStatement[] } };
    };
    approverId = await identityOf("approver");
    const janitorId = await identityOf("local");
    [janitorDb, approverDb] = await Promise.all([
      startFaultProxy({ target: stack.db.endpoint, rules: [policyRule(iamStatements(), janitorId)] }),
      startFaultProxy({
        target: stack.db.endpoint,
        rules: [policyRule(approver.Properties.PolicyDocument.Statement, approverId)],
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([janitorDb?.stop(), approverDb?.stop()]);
  });

  const through = (proxy: FaultProxy, env: Record<string, string>) => ({
    ...env,
    AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
  });

  /** A fresh organization and table, and a plan made with the janitor's role. */
  async function plannedByJanitor(name: string) {
    await stack.reseed(seed());
    const table = await stack.newTable();
    const config = configFile(name);
    const janitor = through(janitorDb, stackEnv(stack.org, stack.db, table));
    const made = await runCli(["run", "--config", config, "--json"], janitor);
    expect(made.code, made.stderr).toBe(0);
    return { table, config, janitor, planId: JSON.parse(made.stdout).plan.planId as string };
  }

  test("the janitor's role can plan and apply but not approve; an approver's policy approves; the schedule applies", async () => {
    const { table, config, janitor, planId } = await plannedByJanitor("policies.yaml");

    // Someone other than the maker, but holding the janitor's role: the decision is refused.
    const byJanitorRole = await runCliProcess(
      ["approve", planId, "--note", "CHG-7 looks fine", "--config", config],
      through(janitorDb, as("approver", table)),
    );
    expect(byJanitorRole.code).not.toBe(0);
    expect(byJanitorRole.stderr).toContain("AccessDenied");
    expect(janitorDb.stats().faults[TRANSACT]).toEqual({ error: 1 });
    const pending = await runCli(["plan", "show", planId, "--json"], janitor);
    expect(JSON.parse(pending.stdout).status).toBe("pending");

    const approved = await runCliProcess(
      ["approve", planId, "--note", "CHG-7 looks fine", "--config", config],
      through(approverDb, as("approver", table)),
    );
    expect(approved.code, approved.stderr).toBe(0);
    expect(approverDb.stats().faults).toEqual({});

    // The scheduled sweep, with the janitor's role, applies it.
    const summary = await scheduledSweep(janitor, config);
    expect(summary.status).toBe("COMPLETED");
    expect(Object.values(states())).toEqual(ids.map(() => "CANCELED"));
    const shown = await runCli(["plan", "show", planId, "--json"], janitor);
    expect(JSON.parse(shown.stdout).status).toBe("applied");
    expect(janitorDb.stats().faults).toEqual({ [TRANSACT]: { error: 1 } });
  });

  test("a decision written in someone else's name: its attestation is refused, and without one apply refuses the plan", async () => {
    const { table, config, janitor, planId } = await plannedByJanitor("policies-forged.yaml");
    const approverEnv = through(approverDb, as("approver", table));
    const app = wire(loadSettings(approverEnv));
    const stored = await app.plans.readPlan(planId);
    if (stored === undefined) throw new Error(`plan ${planId} is not on record`);
    const carol = await identityOf("carol");
    const forged = decisionOf(stored.plan, carol, {
      verdict: "approved",
      note: "CHG-11 in carol's name",
      handshakeIds: stored.plan.entries.map((entry) => entry.handshakeId),
      at: new Date().toISOString(),
    });

    // The approver may write decisions, but an attestation only under their own id.
    await expect(app.plans.decidePlan(forged)).rejects.toThrow("not authorized");
    // The decision item alone is theirs to write: apply finds it unattested and refuses the plan.
    const client = localDynamoDbClient(approverDb.endpoint);
    try {
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            pk: { S: `${DECISION_KEY_PREFIX}${planId}` },
            sk: { S: "DECISION" },
            planId: { S: planId },
            decision: { S: canonicalJson(forged) },
          },
        }),
      );
    } finally {
      client.destroy();
    }
    const applied = await runCli(["apply", planId, "--config", config], janitor);

    expect(applied.code).toBe(2);
    expect(applied.stderr).toContain(`names ${carol.arn} (${carol.userId}), and no write of that principal`);
    expect(stack.org.stats().CancelHandshake).toBeUndefined();
    const shown = JSON.parse((await runCli(["plan", "show", planId, "--json"], janitor)).stdout);
    expect(shown.status).toBe("unattested");
    expect(shown.problems.join("\n")).toContain("written in someone else's name");
  });

  test("an approver's rejection writes the decision alone, and holds its handshakes: the next sweep plans none of them", async () => {
    const { table, config, janitor, planId } = await plannedByJanitor("policies-reject.yaml");
    const faultsBefore = JSON.stringify(approverDb.stats().faults);

    const rejected = await runCliProcess(
      ["reject", planId, "--note", "CHG-9 not these", "--config", config],
      through(approverDb, as("approver", table)),
    );
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(JSON.stringify(approverDb.stats().faults)).toBe(faultsBefore);
    expect(await openPlanKey(table, planId)).toBe("PLAN");

    const summary = await scheduledSweep(janitor, config);
    // Nothing of the rejected plan is canceled, nor planned again while the plan lasts.
    expect(summary.status).toBe("COMPLETED");
    expect(summary.counts).toEqual({});
    expect(summary.plan).toBeUndefined();
    expect(stack.org.stats().CancelHandshake).toBeUndefined();
    expect(await openPlanKey(table, planId)).toBe("PLAN");
  });
});

/** What STS GetCallerIdentity answers to the person whose access key id is `person`. */
function identityOf(person: string): Promise<CallerIdentity> {
  return createWhoAmI({
    region: "us-east-1",
    endpoint: stack.org.endpoint,
    credentials: { accessKeyId: person, secretAccessKey: "x" },
  })();
}

/** The sweep function's scheduled invocation, in this process. */
function scheduledSweep(env: Record<string, string>, config: string) {
  return createSweepHandler({ ...env, JANITOR_CONFIG: config, POWERTOOLS_LOG_LEVEL: "ERROR" })(
    scheduledEvent(),
    lambdaContext(),
  );
}

/** The plan item's pendingKey: "PLAN" while the plan is open, undefined once closed. */
async function openPlanKey(table: string, planId: string): Promise<string | undefined> {
  const client = localDynamoDbClient(stack.db.endpoint);
  try {
    const found = await client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `PLAN#${planId}` }, sk: { S: "PLAN" } } }),
    );
    return found.Item?.pendingKey?.S;
  } finally {
    client.destroy();
  }
}
