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
import { runCli, runCliProcess, stackEnv, startStack, withDynamoDb } from "../support/stack.js";

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

/** A config under approval; `extra` goes before the rules, `ruleExtra` into the one rule. */
function configFile(name: string, extra = "", ruleExtra = ""): string {
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
      ruleExtra,
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
    await editPlan(table, edited, (plan) =>
      plan.replace(/"expiresAt":"[^"]+"/, '"expiresAt":"2999-01-01T00:00:00.000Z"'),
    );
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

/** Rewrites a plan's stored JSON in the table, as someone who can write the table could. */
async function editPlan(table: string, planId: string, edit: (plan: string) => string): Promise<void> {
  const Key = { pk: { S: `PLAN#${planId}` }, sk: { S: "PLAN" } };
  await withDynamoDb(stack.db.endpoint, async (client) => {
    const item = await client.send(new GetItemCommand({ TableName: table, Key }));
    const forged = edit(item.Item?.plan?.S ?? "");
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key,
        UpdateExpression: "SET #p = :p",
        ExpressionAttributeNames: { "#p": "plan" },
        ExpressionAttributeValues: { ":p": { S: forged } },
      }),
    );
  });
}

/** An approval by someone other than the maker, through the CLI as a separate process; it must succeed. */
async function approve(planId: string, note: string, config: string, table: string, only: string[] = []) {
  const handshakes = only.flatMap((id) => ["--handshake", id]);
  const result = await runCliProcess(
    ["approve", planId, "--note", note, ...handshakes, "--config", config],
    as("approver", table),
  );
  expect(result.code, result.stderr).toBe(0);
}

/** `audit query … --format json`: its rows. */
async function queried(args: string[], table: string): Promise<Record<string, string>[]> {
  const result = await runCli(
    ["audit", "query", ...args, "--format", "json"],
    stackEnv(stack.org, stack.db, table),
  );
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

/** A config whose rule marks first: graceHours, under approval. */
function graceConfig(name: string, graceHours: number): string {
  return configFile(name, "", `    graceHours: ${graceHours}`);
}

interface Action {
  handshakeId: string;
  outcome: string;
  reason: string;
  cancelAfter?: string;
  planId?: string;
}

/** A live run through the CLI: its summary. */
async function liveRun(config: string, table: string) {
  const result = await runCli(["run", "--config", config, "--json"], stackEnv(stack.org, stack.db, table));
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as {
    runId: string;
    counts: Record<string, number>;
    actions: Action[];
    plan?: { planId: string };
  };
}

/** A fresh organization and table, its three invitations marked under a 24 h grace period and planned. */
async function markedPlan(name: string) {
  await stack.reseed(seed());
  const table = await stack.newTable();
  const config = graceConfig(name, 24);
  const marking = await liveRun(config, table);
  expect(marking.counts).toEqual({ MARKED: 3 });
  return { table, config, marking, planId: marking.plan?.planId ?? "", markRun: marking.runId };
}

/** Who closed the mark run `runId` made of the handshake, as the table holds it. */
async function markClosedBy(table: string, runId: string, handshakeId: string): Promise<string | undefined> {
  const item = await withDynamoDb(stack.db.endpoint, (client) =>
    client.send(
      new GetItemCommand({
        TableName: table,
        Key: { pk: { S: `RUN#${runId}` }, sk: { S: `ACTION#${handshakeId}` } },
      }),
    ),
  );
  expect(item.Item?.outcome?.S).toBe("MARKED");
  return item.Item?.markClosedBy?.S;
}

/** Waits until the instant has passed: a grace period runs in real time. */
async function until(instant: string): Promise<void> {
  const left = Date.parse(instant) - Date.now();
  expect(left).toBeLessThan(60_000);
  if (left >= 0) await new Promise((resolve) => setTimeout(resolve, left + 5));
}

describe("four eyes and a grace period: approve means cancel now", () => {
  test("a handshake is marked and planned at once; the plan shows until when its grace period runs", async () => {
    await stack.reseed(seed());
    const table = await stack.newTable();
    const started = Date.now();

    const config = graceConfig("grace-plan.yaml", 24);
    const env = stackEnv(stack.org, stack.db, table);

    const marking = await runCli(["run", "--config", config], env);

    expect(marking.code, marking.stderr).toBe(0);
    const planId = /^plan (plan-[0-9a-f]{16}): 3 handshakes await approval/m.exec(marking.stdout)?.[1] ?? "";
    expect(planId).not.toBe("");
    expect(marking.stdout).toContain(
      "3 of them marked: approving cancels them at apply, before their grace period ends",
    );
    // Each mark is on record as MARKED, due when its grace period ends, and names the plan.
    const rows = await queried(["--plan", planId], table);
    expect(rows.map((row) => [row.handshakeId, row.outcome, row.planId]).sort()).toEqual(
      ids.map((id) => [id, "MARKED", planId]),
    );
    const due = rows[0]?.cancelAfter ?? "";
    expect(rows.every((row) => row.cancelAfter === due)).toBe(true);
    expect(Date.parse(due)).toBeGreaterThanOrEqual(started + 24 * 3_600_000);
    const shown = await runCli(["plan", "show", planId], stackEnv(stack.org, stack.db, table));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("pending");
    expect(shown.stdout).toContain("intact");
    expect(shown.stdout).toContain("3 of 3 in a grace period (graceUntil): approving cancels them now");
    expect(shown.stdout.split("\n").filter((line) => line.includes(due))).toHaveLength(3);
    const json = JSON.parse(
      (await runCli(["plan", "show", planId, "--json"], stackEnv(stack.org, stack.db, table))).stdout,
    );
    expect(json.plan.entries.map((e: { cancelAfter?: string }) => e.cancelAfter)).toEqual([due, due, due]);
    // A second run leaves the marked handshakes to their mark and their plan.
    expect((await liveRun(config, table)).counts).toEqual({});
    expect(stack.org.stats().CancelHandshake).toBeUndefined();
  });

  test("approved, apply cancels before the grace period ends, names plan and approver, and closes the mark", async () => {
    const { table, config, marking, planId, markRun } = await markedPlan("grace-approve.yaml");
    await approve(planId, "CHG-7 cut short", config, table, [ids[0], ids[1]]);

    // Between approval and apply, the first invitation is accepted.
    stack.org.mutate(ids[0], "ACCEPTED");
    const summary = await applied(planId, config, table);

    const due = marking.actions[0]?.cancelAfter ?? "";
    expect(Date.now()).toBeLessThan(Date.parse(due));
    expect(summary.counts).toEqual({ STALE_PLAN: 1, CANCELED: 1 });
    expect(states()).toEqual({ [ids[0]]: "ACCEPTED", [ids[1]]: "CANCELED", [ids[2]]: "OPEN" });
    const byId = new Map<string, Action>(summary.actions.map((a: Action) => [a.handshakeId, a]));
    expect(byId.get(ids[0])?.reason).toContain("state OPEN -> ACCEPTED");
    expect(byId.get(ids[1])?.reason).toContain(`grace period cut short by the approval of plan ${planId}`);
    const rows = await queried(["--plan", planId], table);
    expect(rows.map((row) => [row.handshakeId, row.outcome, row.approver ?? "-"]).sort()).toEqual(
      [
        [ids[0], "MARKED", "-"],
        [ids[1], "MARKED", "-"],
        [ids[2], "MARKED", "-"],
        [ids[0], "STALE_PLAN", "arn:aws:iam::123456789012:user/approver"],
        [ids[1], "CANCELED", "arn:aws:iam::123456789012:user/approver"],
      ].sort(),
    );
    // The canceled handshake's mark is closed by the apply, as a due cancel closes it; the
    // stale one's and the unapproved one's stay open.
    expect(await markClosedBy(table, markRun, ids[1])).toBe(summary.runId);
    expect(await markClosedBy(table, markRun, ids[0])).toBeUndefined();
    expect(await markClosedBy(table, markRun, ids[2])).toBeUndefined();
    // The next run closes the accepted one's mark and leaves the unapproved one to its grace period.
    const next = await liveRun(config, table);
    expect(next.actions.map((a) => [a.handshakeId, a.outcome])).toEqual([[ids[0], "STATE_CHANGED"]]);
    expect(stack.org.stats().CancelHandshake?.requests).toBe(1);
  });

  test("approved, the next scheduled sweep applies it and cancels before the grace period ends", async () => {
    const { table, config, planId, markRun } = await markedPlan("grace-scheduled.yaml");
    await approve(planId, "CHG-11 now", config, table);

    const handler = createSweepHandler({
      ...stackEnv(stack.org, stack.db, table),
      JANITOR_CONFIG: config,
      POWERTOOLS_LOG_LEVEL: "ERROR",
    });
    const own = await handler(
      scheduledEvent({ id: `sched-${Date.now()}`, time: new Date().toISOString() }),
      lambdaContext(),
    );

    expect(own.counts).toEqual({});
    expect(states()).toEqual({ [ids[0]]: "CANCELED", [ids[1]]: "CANCELED", [ids[2]]: "CANCELED" });
    const rows = await queried(["--plan", planId, "--outcome", "CANCELED"], table);
    expect(rows.map((row) => [row.handshakeId, row.trigger, row.approver]).sort()).toEqual(
      ids.map((id) => [id, "scheduled", "arn:aws:iam::123456789012:user/approver"]),
    );
    for (const id of ids) expect(await markClosedBy(table, markRun, id)).toBe(rows[0]?.runId);
  });

  test("rejected, nothing is canceled early; once the mark is due it is planned again, and applied then", async () => {
    await stack.reseed(seed());
    const table = await stack.newTable();
    // 3.6 s of grace.
    const config = graceConfig("grace-reject.yaml", 0.001);
    const marking = await liveRun(config, table);
    expect(marking.counts).toEqual({ MARKED: 3 });
    const early = marking.plan?.planId ?? "";
    const rejected = await runCliProcess(
      ["reject", early, "--note", "CHG-8 let the grace period run", "--config", config],
      as("approver", table),
    );
    expect(rejected.code, rejected.stderr).toBe(0);
    const refused = await runCli(["apply", early, "--config", config], stackEnv(stack.org, stack.db, table));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("rejected by arn:aws:iam::123456789012:user/approver");
    expect(stack.org.stats().CancelHandshake).toBeUndefined();

    await until(marking.actions[0]?.cancelAfter ?? "");
    const atDue = await liveRun(config, table);

    expect(atDue.counts).toEqual({ PLANNED: 3 });
    const again = atDue.plan?.planId ?? "";
    expect(again).not.toBe(early);
    expect(stack.org.stats().CancelHandshake).toBeUndefined();
    const listed = await runCli(["plan", "show", early], stackEnv(stack.org, stack.db, table));
    expect(listed.stdout).toContain("rejected by arn:aws:iam::123456789012:user/approver");
    await approve(again, "CHG-9 now", config, table);
    const summary = await applied(again, config, table);
    expect(summary.counts).toEqual({ CANCELED: 3 });
    expect((await liveRun(config, table)).actions).toEqual([]);
  });

  test("a plan whose entry's due time was edited after the approval cancels nothing", async () => {
    const { table, config, planId } = await markedPlan("grace-edited-plan.yaml");
    await approve(planId, "CHG-12", config, table);
    await editPlan(table, planId, (plan) => {
      const edited = plan.replace(/"cancelAfter":"[^"]+"/, '"cancelAfter":"2000-01-01T00:00:00.000Z"');
      expect(edited).not.toBe(plan);
      return edited;
    });

    const result = await runCli(["apply", planId, "--config", config], stackEnv(stack.org, stack.db, table));

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `plan ${planId}: its content does not match its hash: edited since it was recorded`,
    );
    expect(stack.org.stats().CancelHandshake).toBeUndefined();
  });

  test("a mark edited in the table after the approval cancels nothing", async () => {
    const { table, config, planId, markRun } = await markedPlan("grace-forged.yaml");
    await approve(planId, "CHG-10", config, table);
    // Someone who can write the table moves the mark's due time into the past.
    await withDynamoDb(stack.db.endpoint, (client) =>
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: { S: `RUN#${markRun}` }, sk: { S: `ACTION#${ids[0]}` } },
          UpdateExpression: "SET cancelAfter = :c",
          ExpressionAttributeValues: { ":c": { S: new Date(Date.now() - 3_600_000).toISOString() } },
        }),
      ),
    );

    const result = await runCli(["apply", planId, "--config", config], stackEnv(stack.org, stack.db, table));

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`plan ${planId}: run ${markRun}: item ${ids[0]} (#1): content altered`);
    expect(result.stderr).toContain(`plan ${planId}: refused; nothing is done`);
    expect(stack.org.stats().CancelHandshake).toBeUndefined();
    expect(Object.values(states())).toEqual(["OPEN", "OPEN", "OPEN"]);
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
    // Written in carol's name, with a terminal control sequence in the ARN it shows.
    const carolId = await identityOf("carol");
    const carol = { ...carolId, arn: `${carolId.arn}\u001b[2J` };
    const forged = decisionOf(stored.plan, carol, {
      verdict: "approved",
      note: "CHG-11 in carol's name",
      handshakeIds: stored.plan.entries.map((entry) => entry.handshakeId),
      at: new Date().toISOString(),
    });

    // The approver may write decisions, but an attestation only under their own id.
    await expect(app.plans.decidePlan(forged)).rejects.toThrow("not authorized");
    // The decision item alone is theirs to write: apply finds it unattested and refuses the plan.
    await withDynamoDb(approverDb.endpoint, (client) =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            pk: { S: `${DECISION_KEY_PREFIX}${planId}` },
            sk: { S: "DECISION" },
            planId: { S: planId },
            decision: { S: canonicalJson(forged) },
          },
        }),
      ),
    );
    const applied = await runCli(["apply", planId, "--config", config], janitor);

    expect(applied.code).toBe(2);
    expect(applied.stderr).toContain(
      `names ${carol.arn.replace("\u001b", "\\x1b")} (${carol.userId}), and no write of that principal`,
    );
    expect(applied.stderr).not.toContain("\u001b");
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
  const found = await withDynamoDb(stack.db.endpoint, (client) =>
    client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `PLAN#${planId}` }, sk: { S: "PLAN" } } }),
    ),
  );
  return found.Item?.pendingKey?.S;
}
