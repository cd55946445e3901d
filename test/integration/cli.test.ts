import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Handshake as SdkHandshake } from "@aws-sdk/client-organizations";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import type { EmulatorHandshake } from "../../devtools/org-emulator/index.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { toHandshake } from "../../src/aws/organizations.js";
import { loadConfig } from "../../src/config/config.js";
import { plan } from "../../src/policy/plan.js";
import {
  runCli,
  runCliFromSource,
  runCliProcess,
  type Stack,
  stackEnv,
  startStack,
} from "../support/stack.js";

let stack: Stack;
const dir = mkdtempSync(join(tmpdir(), "janitor-cli-"));

beforeAll(async () => {
  stack = await startStack(sampleOrganization(new Date()));
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** What the rules select, computed by the planner from the emulator's handshakes. */
async function expectedCancels(handshakes: EmulatorHandshake[], configPath = DEMO_CONFIG): Promise<string[]> {
  const config = await loadConfig(configPath);
  const decided = plan({
    handshakes: handshakes.map((h) => toHandshake(h as SdkHandshake)),
    config,
    now: new Date(),
  });
  return decided.decisions
    .filter((d) => d.kind === "cancel")
    .map((d) => d.handshake.id)
    .sort();
}

function canceledIds(handshakes: EmulatorHandshake[], before: EmulatorHandshake[]): string[] {
  const wasOpen = new Set(before.filter((h) => h.State !== "CANCELED").map((h) => h.Id));
  return handshakes
    .filter((h) => h.State === "CANCELED" && wasOpen.has(h.Id))
    .map((h) => h.Id)
    .sort();
}

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function cancelCalls(): number {
  return stack.org.stats().CancelHandshake?.requests ?? 0;
}

function anyCalls(): number {
  return Object.values(stack.org.stats()).reduce((sum, s) => sum + s.requests, 0);
}

describe("janitor run", () => {
  test("a dry run calls no CancelHandshake and records DRY_RUN for every selected handshake", async () => {
    const table = await stack.newTable();
    const expected = await expectedCancels(stack.org.handshakes());
    stack.org.resetStats();

    const result = await runCli(
      ["run", "--config", DEMO_CONFIG, "--dry-run", "--json"],
      stackEnv(stack.org, stack.db, table),
    );

    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(cancelCalls()).toBe(0);
    expect(summary.dryRun).toBe(true);
    const dry = summary.actions.filter((a: { outcome: string }) => a.outcome === "DRY_RUN");
    expect(dry.map((a: { handshakeId: string }) => a.handshakeId).sort()).toEqual(expected);
  });

  test("a live run cancels exactly what the rules select and audits each one (in a process of its own)", async () => {
    await stack.reseed(sampleOrganization(new Date(), { seed: 7 }));
    const table = await stack.newTable();
    const before = stack.org.handshakes();
    const expected = await expectedCancels(before);
    const env = stackEnv(stack.org, stack.db, table);

    // As users start it: a process of its own, exit code and output as the shell sees them.
    const result = await runCliProcess(["run", "--config", DEMO_CONFIG, "--json", "--run-id", "live-1"], env);

    expect(result.code, result.stderr).toBe(0);
    expect(expected.length).toBeGreaterThan(0);
    expect(canceledIds(stack.org.handshakes(), before)).toEqual(expected);
    const audit = await runCli(["audit", "query", "--run", "live-1", "--format", "json"], env);
    const items = audit.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const canceled = items.filter((i) => i.outcome === "CANCELED").map((i) => i.handshakeId);
    expect(canceled.sort()).toEqual(expected);
    expect(items.every((i) => i.dryRun === false && i.trigger === "cli")).toBe(true);
  });

  test("rerunning the same run id cancels nothing again", async () => {
    await stack.reseed(sampleOrganization(new Date(), { seed: 8 }));
    const table = await stack.newTable();
    const env = stackEnv(stack.org, stack.db, table);
    const first = await runCli(["run", "--config", DEMO_CONFIG, "--json", "--run-id", "same"], env);
    expect(first.code, first.stderr).toBe(0);
    const calls = cancelCalls();

    const again = await runCli(["run", "--config", DEMO_CONFIG, "--json", "--run-id", "same"], env);

    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).replayed).toBe(true);
    expect(cancelCalls()).toBe(calls);
  });

  test("more matches than the cap: exit 4, nothing canceled, BLOCKED recorded", async () => {
    await stack.reseed(sampleOrganization(new Date(), { seed: 9 }));
    const table = await stack.newTable();
    const capped = configFile(
      "capped.yaml",
      `version: 1\ndryRun: false\nmaxCancellationsPerRun: 1\nrules:\n  - id: outside-email\n    type: email\n    allow: ["*@example.com"]\n`,
    );
    expect((await expectedCancels(stack.org.handshakes(), capped)).length).toBeGreaterThan(1);
    stack.org.resetStats();

    const result = await runCli(["run", "--config", capped, "--json"], stackEnv(stack.org, stack.db, table));

    expect(result.code).toBe(4);
    expect(cancelCalls()).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.status).toBe("BLOCKED");
    expect(summary.counts.BLOCKED).toBeGreaterThan(1);
  });

  test("a throttled, faulty service still ends with every selected handshake canceled and audited", async () => {
    await stack.reseed(sampleOrganization(new Date(), { seed: 10 }), {
      throttle: {
        CancelHandshake: { ratePerSecond: 20, burst: 2 },
        ListHandshakesForOrganization: { ratePerSecond: 20, burst: 1 },
      },
      concurrentModificationRate: 0.15,
      serviceExceptionRate: 0.1,
      shortPages: true,
      emptyPageEvery: 3,
      pageSize: 5,
    });
    const table = await stack.newTable();
    const before = stack.org.handshakes();
    const expected = await expectedCancels(before);
    const env = stackEnv(stack.org, stack.db, table);

    const result = await runCli(["run", "--config", DEMO_CONFIG, "--json", "--run-id", "faulty"], env);

    expect(result.code, result.stderr).toBe(0);
    expect(canceledIds(stack.org.handshakes(), before)).toEqual(expected);
    // Both operations were refused along the way, and the run still got through.
    for (const operation of ["CancelHandshake", "ListHandshakesForOrganization"] as const) {
      const errors = stack.org.stats()[operation]?.errors ?? {};
      expect(
        Object.values(errors).reduce((a, b) => a + b, 0),
        operation,
      ).toBeGreaterThan(0);
    }
    const summary = JSON.parse(result.stdout);
    expect(summary.counts.CANCELED).toBe(expected.length);
  });
});

describe("bad input stops the run before any call", () => {
  test("an invalid config: exit 2, one line per problem naming file and field, no stack trace", async () => {
    const bad = configFile(
      "bad.yaml",
      `version: 1\nrules:\n  - id: a\n    type: stale\n    olderThanDays: 0\n  - id: a\n    type: teleport\n`,
    );
    stack.org.resetStats();

    const result = await runCliProcess(
      ["run", "--config", bad],
      stackEnv(stack.org, stack.db, "unused-table"),
    );

    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.every((line) => line.startsWith(bad) || line.includes("bad.yaml"))).toBe(true);
    expect(result.stderr).toContain("rules[0].olderThanDays");
    expect(result.stderr).toContain("unknown rule type 'teleport'");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(anyCalls()).toBe(0);
  });

  test("bad arguments and a missing table name are all reported, exit 2", async () => {
    stack.org.resetStats();
    const env = { ...stackEnv(stack.org, stack.db, "x"), AUDIT_TABLE_NAME: "" };

    const result = await runCli(
      [
        "run",
        "--config",
        DEMO_CONFIG,
        "--handshake",
        "not-an-id",
        "--rule",
        "no-such-rule",
        "--time-budget",
        "0",
      ],
      env,
    );

    expect(result.code).toBe(2);
    for (const field of ["--handshake", "--rule", "--time-budget", "AUDIT_TABLE_NAME"]) {
      expect(result.stderr).toContain(field);
    }
    expect(anyCalls()).toBe(0);
  });

  test("a wrong region or endpoint is one line each naming the variable, exit 2, nothing called", async () => {
    stack.org.resetStats();
    const env = {
      ...stackEnv(stack.org, stack.db, "handshake-janitor-unused"),
      AWS_REGION: "US EAST",
      AWS_ENDPOINT_URL_ORGANIZATIONS: "127.0.0.1:1",
    };

    const result = await runCli(["run", "--config", DEMO_CONFIG], env);

    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      'AWS_REGION: "US EAST" is not an AWS region (like us-east-1)',
      'AWS_ENDPOINT_URL_ORGANIZATIONS: "127.0.0.1:1" is not an http or https URL',
    ]);
    expect(anyCalls()).toBe(0);
  });

  test("an empty --rule is rejected, not read as every rule, exit 2", async () => {
    stack.org.resetStats();

    const result = await runCli(
      ["run", "--config", DEMO_CONFIG, "--rule", ""],
      stackEnv(stack.org, stack.db, "unused-table"),
    );

    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe("--rule: must not be empty");
    expect(anyCalls()).toBe(0);
  });

  test("an unknown option names itself and the known ones", async () => {
    const result = await runCli(["run", "--confg", "x.yaml"], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--confg: unknown option for 'run'");
  });

  test("config check prints the effective rules of a valid config", async () => {
    // From the TypeScript source, as `npm run janitor` starts it; the other tests run the build.
    const result = await runCliFromSource(["config", "check", "--config", DEMO_CONFIG], {});
    expect(result.code, result.stderr).toBe(0);
    const config = await loadConfig(DEMO_CONFIG);
    for (const rule of config.rules) expect(result.stdout).toContain(rule.id);
  });
});

describe("help calls nothing", () => {
  test("every command answers --help with its usage, exit 0, without a table name and with no call", async () => {
    stack.org.resetStats();
    const env = { ...stackEnv(stack.org, stack.db, "x"), AUDIT_TABLE_NAME: "", JANITOR_CONFIG: "" };
    for (const command of [["run"], ["audit", "query"], ["audit", "verify"], ["demo"]]) {
      const result = await runCli([...command, "--help"], env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^usage: handshake-janitor ${command.join(" ")} `));
    }
    expect(anyCalls()).toBe(0);
  });

  test("a bare invocation is an argument error: overview on stderr, exit 2", async () => {
    const result = await runCliProcess([], {});
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("usage: handshake-janitor COMMAND");
  });
});

describe("a missing audit table", () => {
  const missingLine = (table: string) =>
    `audit table '${table}' does not exist (region us-east-1, endpoint ${stack.db.endpoint}): create it with 'audit init', or set AUDIT_TABLE_NAME to the deployed table (handshake-janitor-<stage>-audit)`;

  test.each([
    [["audit", "query"]],
    [["audit", "query", "--run", "r-1"]],
    [["audit", "runs"]],
    [["audit", "report", "--out", join(dir, "missing.html")]],
    [["audit", "verify"]],
    [["audit", "verify", "--run", "r-1"]],
    [["audit", "export", "--out", join(dir, "missing.jsonl")]],
  ])("%j: one line naming the table and what to do, exit 1", async (args) => {
    const table = "handshake-janitor-nosuchstage-audit";

    const result = await runCli(args, stackEnv(stack.org, stack.db, table));

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`${missingLine(table)}\n`);
  });

  test("run stops at its first write, before any call to Organizations, so nothing is canceled", async () => {
    await stack.reseed(sampleOrganization(new Date(), { seed: 11 }));
    expect((await expectedCancels(stack.org.handshakes())).length).toBeGreaterThan(0);
    const before = stack.org.handshakes();
    const table = "handshake-janitor-nosuchstage-audit";

    const result = await runCli(["run", "--config", DEMO_CONFIG], stackEnv(stack.org, stack.db, table));

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`${missingLine(table)}\n`);
    expect(anyCalls()).toBe(0);
    expect(stack.org.handshakes()).toEqual(before);
  });
});

describe("periods", () => {
  test("report, export and verify default to the last 30 days, like query and runs", async () => {
    await stack.reseed(sampleOrganization(new Date(), { seed: 12 }));
    const table = await stack.newTable();
    const env = stackEnv(stack.org, stack.db, table);
    const run = await runCli(["run", "--config", DEMO_CONFIG, "--dry-run", "--json", "--run-id", "p-1"], env);
    expect(run.code, run.stderr).toBe(0);
    const actions = JSON.parse(run.stdout).actions.length;
    const entries = JSON.parse(run.stdout).ledger.written;
    expect(actions).toBeGreaterThan(0);

    const report = await runCli(["audit", "report", "--out", join(dir, "default.html")], env);
    const exported = await runCli(["audit", "export", "--out", join(dir, "default.jsonl")], env);
    const verify = await runCli(["audit", "verify"], env);
    const runs = await runCli(["audit", "runs", "--format", "json"], env);

    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout.trim()).toBe(`wrote ${join(dir, "default.html")}: ${actions} actions, 1 runs`);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout.trim()).toBe(
      `wrote ${join(dir, "default.jsonl")}: 1 runs, ${actions} actions, ${entries} ledger entries`,
    );
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout.trim()).toBe(`intact: 1 runs, ${actions} action items`);
    expect(
      runs.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).runId),
    ).toEqual(["p-1"]);
  });

  test("verify of an empty period says there was nothing to verify", async () => {
    const table = await stack.newTable();

    const result = await runCli(
      ["audit", "verify", "--since", "2020-01-01", "--until", "2020-02-01"],
      stackEnv(stack.org, stack.db, table),
    );

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(
      "nothing to verify: no run started between 2020-01-01T00:00:00.000Z (included) and 2020-02-01T00:00:00.000Z (excluded)",
    );
  });

  test("a period includes --since and excludes --until, as the help says", async () => {
    await stack.reseed(sampleOrganization(new Date(), { seed: 13 }));
    const table = await stack.newTable();
    const env = stackEnv(stack.org, stack.db, table);
    const run = await runCli(["run", "--config", DEMO_CONFIG, "--dry-run", "--json"], env);
    expect(run.code, run.stderr).toBe(0);
    const all = await runCli(["audit", "query", "--format", "json"], env);
    const first = JSON.parse(all.stdout.trim().split("\n")[0] ?? "{}");
    const afterFirst = new Date(Date.parse(first.at) + 1).toISOString();
    const help = await runCli(["audit", "query", "--help"], {});
    const query = (since: string, until: string) =>
      runCli(["audit", "query", "--since", since, "--until", until, "--format", "json"], env);

    const starting = await query(first.at, afterFirst);
    const ending = await query(new Date(Date.parse(first.at) - 60_000).toISOString(), first.at);

    expect(help.stdout).toMatch(/--since D +start of the period, included/);
    expect(help.stdout).toMatch(/--until D +end of the period, excluded/);
    const ats = (out: string) =>
      out
        .trim()
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line).at);
    expect(ats(starting.stdout)).toContain(first.at);
    expect(ats(starting.stdout).every((at) => at === first.at)).toBe(true);
    expect(ats(ending.stdout)).not.toContain(first.at);
  });
});

describe("--wide", () => {
  test("run and audit query cut long reasons with … by default and print them whole with --wide", async () => {
    await stack.reseed(sampleOrganization(new Date(), { seed: 14 }));
    const capped = configFile(
      "capped-wide.yaml",
      `version: 1\ndryRun: false\nmaxCancellationsPerRun: 1\nrules:\n  - id: outside-email\n    type: email\n    allow: ["*@example.com"]\n`,
    );
    const env = stackEnv(stack.org, stack.db, await stack.newTable());
    const json = await runCli(["run", "--config", capped, "--json", "--run-id", "w-1"], env);
    const reasons: string[] = JSON.parse(json.stdout).actions.map((a: { reason: string }) => a.reason);
    const long = reasons.filter((reason) => reason.length > 60);
    expect(long.length).toBeGreaterThan(0);

    const cut = await runCli(["run", "--config", capped, "--run-id", "w-2"], env);
    const wide = await runCli(["run", "--config", capped, "--run-id", "w-3", "--wide"], env);
    const queryCut = await runCli(["audit", "query", "--run", "w-1"], env);
    const queryWide = await runCli(["audit", "query", "--run", "w-1", "--wide"], env);

    expect([cut.code, wide.code, queryCut.code, queryWide.code]).toEqual([4, 4, 0, 0]);
    for (const reason of long) {
      expect(cut.stdout).not.toContain(reason);
      expect(cut.stdout).toContain(`${reason.slice(0, 59)}…`);
      expect(wide.stdout).toContain(reason);
      expect(queryCut.stdout).toContain(`${reason.slice(0, 59)}…`);
      expect(queryWide.stdout).toContain(reason);
    }
  });
});
