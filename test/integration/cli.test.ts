import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Handshake as SdkHandshake } from "@aws-sdk/client-organizations";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { toHandshake } from "../../src/aws/organizations.js";
import { DEMO_CONFIG } from "../../src/cli/demo.js";
import { loadConfig } from "../../src/core/config.js";
import { plan } from "../../src/core/plan.js";
import type { EmulatorHandshake } from "../../src/local/org-emulator.js";
import { sampleOrganization } from "../../src/local/sample-org.js";
import { runCli, runCliFromSource, type Stack, stackEnv, startStack } from "../support/stack.js";

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

  test("a live run cancels exactly what the rules select and audits each one", async () => {
    await stack.reseed(sampleOrganization(new Date(), { seed: 7 }));
    const table = await stack.newTable();
    const before = stack.org.handshakes();
    const expected = await expectedCancels(before);
    const env = stackEnv(stack.org, stack.db, table);

    const result = await runCli(["run", "--config", DEMO_CONFIG, "--json", "--run-id", "live-1"], env);

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
        ListHandshakesForOrganization: { ratePerSecond: 5, burst: 1 },
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
    const errors = stack.org.stats().CancelHandshake?.errors ?? {};
    expect(Object.values(errors).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
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

    const result = await runCli(["run", "--config", bad], stackEnv(stack.org, stack.db, "unused-table"));

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
