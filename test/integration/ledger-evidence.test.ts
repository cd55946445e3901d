import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTableCommand,
  DescribeTableCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { DynamoDbLocal } from "../../devtools/dynamodb-local.js";
import { startFaultProxy } from "../../devtools/fault-proxy.js";
import {
  type EmulatorHandshake,
  type OrganizationsEmulator,
  startOrganizationsEmulator,
} from "../../devtools/org-emulator/index.js";
import { ensureLocalAuditTable } from "../../devtools/stack-env.js";
import { AUDIT_INDEXES, auditTableDefinition } from "../../src/aws/audit-table.js";
import { csvObjects } from "../support/csv.js";
import { emailInvite } from "../support/invites.js";
import { localDynamoDbClient, runCli, sharedDynamoDbLocal, stackEnv } from "../support/stack.js";

/**
 * The handshake ledger as evidence: an export carries the runs' ledger entries, verify of the
 * file checks them against the runs' seals and the table, and ledger items expire with the rest
 * of the audit when a retention is set.
 */

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), "janitor-ledger-evidence-"));
const config = join(dir, "janitor.yaml");
writeFileSync(
  config,
  [
    "version: 1",
    "rules:",
    "  - id: outside-email",
    "    type: email",
    '    allow: ["*@example.com"]',
    "",
  ].join("\n"),
);

function invite(n: number, email: string): EmulatorHandshake {
  const id = `h-evidence${String(n).padStart(6, "0")}`;
  return emailInvite({ id, email, requested: new Date(Date.now() - DAY), notes: "CHG-7" });
}

const alice = invite(1, "alice@example.com");
const mallory = invite(2, "mallory@gmail.com");
const bob = invite(3, "bob@example.com");

let org: OrganizationsEmulator;
let db: DynamoDbLocal;

beforeAll(async () => {
  [org, db] = await Promise.all([
    startOrganizationsEmulator({ handshakes: [alice, mallory, bob] }),
    sharedDynamoDbLocal(),
  ]);
});
afterAll(async () => {
  await Promise.all([org?.stop(), db?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The items under one partition key as stored (a Query on the key). */
async function partition(table: string, pk: string): Promise<Record<string, unknown>[]> {
  const client = localDynamoDbClient(db.endpoint);
  try {
    const answer = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: marshall({ ":pk": pk }),
      }),
    );
    return (answer.Items ?? []).map((item) => unmarshall(item));
  } finally {
    client.destroy();
  }
}

async function sweep(env: Record<string, string>): Promise<{ runId: string }> {
  const result = await runCli(["run", "--config", config, "--dry-run", "--json"], env);
  expect([0, 3], result.stderr).toContain(result.code);
  return JSON.parse(result.stdout) as { runId: string };
}

describe("the ledger as evidence", () => {
  test("expires ledger entries and records with the audit's retention", async () => {
    const table = `janitor-test-ledger-ttl-${Date.now().toString(36)}`;
    await ensureLocalAuditTable(db.endpoint, table);
    const env = { ...stackEnv(org, db, table), AUDIT_RETENTION_DAYS: "45" };

    const { runId } = await sweep(env);

    const items = await partition(table, `RUN#${runId}`);
    const entries = items.filter((item) => item.itemType === "ledger");
    const run = items.find((item) => item.itemType === "run");
    expect(entries).toHaveLength(3);
    for (const entry of entries) {
      expect(entry.expiresAt).toBe(Math.floor(Date.parse(String(entry.at)) / 1000) + 45 * 86_400);
    }
    // As long as the run that holds them, give or take the seconds the run took.
    expect(Math.abs(Number(entries[0]?.expiresAt) - Number(run?.expiresAt))).toBeLessThan(120);
    const [stored] = await partition(table, `LEDGER#${mallory.Id}`);
    expect(stored?.expiresAt).toBe(Math.floor(Date.parse(String(stored?.changedAt)) / 1000) + 45 * 86_400);

    // Without a retention, nothing of the ledger expires.
    const kept = `janitor-test-ledger-kept-${Date.now().toString(36)}`;
    await ensureLocalAuditTable(db.endpoint, kept);
    const keptRun = await sweep(stackEnv(org, db, kept));
    const keptItems = [
      ...(await partition(kept, `RUN#${keptRun.runId}`)),
      ...(await partition(kept, `LEDGER#${mallory.Id}`)),
    ].filter((item) => String(item.itemType).startsWith("ledger"));
    expect(keptItems).toHaveLength(4);
    expect(keptItems.filter((item) => item.expiresAt !== undefined)).toEqual([]);
  });

  test("exports the runs' ledger entries, and verify of the file names one removed or altered", async () => {
    const table = `janitor-test-ledger-export-${Date.now().toString(36)}`;
    await ensureLocalAuditTable(db.endpoint, table);
    const env = stackEnv(org, db, table);
    const first = await sweep(env);
    org.mutate(alice.Id, "ACCEPTED");
    const second = await sweep(env);

    const file = join(dir, "archive.jsonl");
    const exported = await runCli(["audit", "export", "--out", file], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain("4 ledger entries");
    const rows = jsonLines(readFileSync(file, "utf8"));
    const ledgerRows = rows.filter((row) => row.itemType === "ledger");
    expect(ledgerRows.map((row) => [row.runId, row.kind, row.handshakeId, row.ledgerSeq]).sort()).toEqual(
      [
        [first.runId, "SEEN", alice.Id, 1],
        [first.runId, "SEEN", mallory.Id, 2],
        [first.runId, "SEEN", bob.Id, 3],
        [second.runId, "STATE", alice.Id, 1],
      ].sort(),
    );
    expect(ledgerRows.find((row) => row.handshakeId === mallory.Id)).toMatchObject({
      verdict: "selected",
      ruleId: "outside-email",
      target: mallory.Parties[1]?.Id,
    });
    const runRows = rows.filter((row) => row.itemType === "run");
    expect(runRows.find((row) => row.runId === first.runId)).toMatchObject({ ledgerLength: 3 });

    const intact = await runCli(["audit", "verify", "--file", file], env);
    expect(intact.code, intact.stdout + intact.stderr).toBe(0);
    expect(intact.stdout).toContain("4 ledger entries");

    // One entry removed from the file: its run's ledger chain has a hole.
    const removed = join(dir, "removed.jsonl");
    const lines = readFileSync(file, "utf8").split("\n");
    const bobLine = lines.findIndex((line) => line.includes('"itemType":"ledger"') && line.includes(bob.Id));
    writeFileSync(removed, lines.filter((_, index) => index !== bobLine).join("\n"));
    const holed = await runCli(["audit", "verify", "--file", removed], env);
    expect(holed.code).toBe(5);
    expect(holed.stdout).toContain(`archive: run ${first.runId}: ledger entry #3 of 3 missing`);
    expect(holed.stdout).toContain(
      `run ${first.runId}: ledger entry ${bob.Id} (#3): in the table, missing from the archive`,
    );

    // One entry altered in the file: its hash no longer matches, and it differs from the table.
    const altered = join(dir, "altered.jsonl");
    writeFileSync(
      altered,
      lines
        .map((line) =>
          line.includes('"itemType":"ledger"') && line.includes(mallory.Id)
            ? line.replace('"verdict":"selected"', '"verdict":"compliant"')
            : line,
        )
        .join("\n"),
    );
    const changed = await runCli(["audit", "verify", "--file", altered], env);
    expect(changed.code).toBe(5);
    expect(changed.stdout).toContain(
      `archive: run ${first.runId}: ledger entry ${mallory.Id} (#2): content altered (hash mismatch)`,
    );
    expect(changed.stdout).toContain(
      `run ${first.runId}: ledger entry ${mallory.Id} (#2): differs from the archive`,
    );

    // The table's entry rewritten after the export, its hash recomputed or not: the archive shows it.
    const entry = (await partition(table, `RUN#${second.runId}`)).find((item) => item.itemType === "ledger");
    const client = localDynamoDbClient(db.endpoint);
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: marshall({ pk: entry?.pk, sk: entry?.sk }),
        UpdateExpression: "SET #s = :s",
        ExpressionAttributeNames: { "#s": "state" },
        ExpressionAttributeValues: marshall({ ":s": "DECLINED" }),
      }),
    );
    client.destroy();
    const rewritten = await runCli(["audit", "verify", "--file", file], env);
    expect(rewritten.code).toBe(5);
    expect(rewritten.stdout).toContain(
      `run ${second.runId}: ledger entry ${alice.Id} (#1): differs from the archive`,
    );
    expect(rewritten.stdout).toContain(`run ${second.runId}: ledger entry ${alice.Id} (#1): content altered`);

    // The CSV export carries the same entries, one row each.
    const csv = join(dir, "archive.csv");
    const csvExport = await runCli(["audit", "export", "--format", "csv", "--out", csv], env);
    expect(csvExport.code, csvExport.stderr).toBe(0);
    const csvLedger = csvObjects(readFileSync(csv, "utf8")).filter((row) => row.itemType === "ledger");
    expect(csvLedger.map((row) => [row.runId, row.kind, row.handshakeId, row.ledgerSeq]).sort()).toEqual(
      ledgerRows.map((row) => [row.runId, row.kind, row.handshakeId, String(row.ledgerSeq)]).sort(),
    );
    expect(csvLedger.every((row) => String(row.ledgerHash).length === 64)).toBe(true);
  });

  test("the report says from when the ledger covers the organization, and counts the last full listing before the period", async () => {
    const table = `janitor-test-ledger-cover-${Date.now().toString(36)}`;
    await ensureLocalAuditTable(db.endpoint, table);
    const env = stackEnv(org, db, table);
    const first = await sweep(env);
    const second = await sweep(env);
    const listed = await runCli(["audit", "runs", "--format", "json"], env);
    const started = new Map(jsonLines(listed.stdout).map((run) => [run.runId, String(run.startedAt)]));
    const secondAt = started.get(second.runId);
    const [coverage] = await partition(table, "LEDGER");
    expect(coverage).toMatchObject({ runId: first.runId });

    // A period after both sweeps: none in it, the second one just before it.
    const since = new Date(Date.now() + 1000);
    const statement = async (days: number) => {
      const out = join(dir, `cover-${days}.html`);
      const until = new Date(since.getTime() + days * DAY);
      const report = await runCli(
        ["audit", "report", "--since", since.toISOString(), "--until", until.toISOString(), "--out", out],
        env,
      );
      expect(report.code, report.stderr).toBe(0);
      const html = readFileSync(out, "utf8");
      return {
        until,
        lines: [...html.matchAll(/<p class="meta" data-completeness>([^<]*)<\/p>/g)].map((m) => m[1]),
      };
    };

    const short = await statement(20);
    expect(short.lines).toEqual([
      `The ledger covers the organization from ${coverage?.at}, its first full listing (run ${first.runId}).`,
      `The last full listing before the period: ${secondAt} (run ${second.runId}).`,
      "No interval of the period went more than 30 days without a full listing: every handshake AWS listed in it was seen.",
    ]);
    const long = await statement(40);
    expect(long.lines.at(-1)).toBe(
      `Intervals longer than 30 days without a full listing, in which handshakes opened and closed may be missing: ${secondAt} to ${long.until.toISOString()}.`,
    );
  });
});

describe("verify of a period", () => {
  test("reads each item of a run with ledger entries once: its run item and actions by time, its entries from its partition", async () => {
    const table = `janitor-test-ledger-reads-${Date.now().toString(36)}`;
    await ensureLocalAuditTable(db.endpoint, table);
    const since = new Date(Date.now() - 1000).toISOString();
    const { runId } = await sweep(stackEnv(org, db, table));
    const requests: { target: string; body: string }[] = [];
    const proxy = await startFaultProxy({
      target: db.endpoint,
      observe: (event) => {
        if (event.phase === "request")
          requests.push({ target: event.target.replace(/^.*\./, ""), body: event.body });
      },
    });
    try {
      const verify = await runCli(
        ["audit", "verify", "--since", since],
        stackEnv(org, { ...db, endpoint: proxy.endpoint }, table),
      );

      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(verify.stdout).toBe("intact: 1 runs, 1 action items\n");
      const ofRun = requests.filter((r) => r.body.includes(`RUN#${runId}`));
      expect(ofRun.map((r) => r.target)).toEqual(["Query"]);
      expect(ofRun[0]?.body).toContain('"LEDGER#"');
      expect(requests.filter((r) => r.body.includes('"byTime"')).length).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.stop();
    }
  });
});

describe("audit init on a table made before the ledger", () => {
  test("adds the ledger's indexes one at a time, and the ledger then works", async () => {
    const table = `janitor-test-ledger-upgrade-${Date.now().toString(36)}`;
    const ledgerIndexes: string[] = [AUDIT_INDEXES.population, AUDIT_INDEXES.listed, AUDIT_INDEXES.lifecycle];
    const current = auditTableDefinition(table);
    const keys = new Set(
      (current.GlobalSecondaryIndexes ?? [])
        .filter((index) => !ledgerIndexes.includes(String(index.IndexName)))
        .flatMap((index) => (index.KeySchema ?? []).map((key) => key.AttributeName)),
    );
    const client = localDynamoDbClient(db.endpoint);
    await client.send(
      new CreateTableCommand({
        ...current,
        AttributeDefinitions: current.AttributeDefinitions?.filter(
          (attribute) =>
            ["pk", "sk"].includes(String(attribute.AttributeName)) || keys.has(attribute.AttributeName),
        ),
        GlobalSecondaryIndexes: current.GlobalSecondaryIndexes?.filter(
          (index) => !ledgerIndexes.includes(String(index.IndexName)),
        ),
      }),
    );
    const env = stackEnv(org, db, table);

    const init = await runCli(["audit", "init"], env);

    expect(init.code, init.stderr).toBe(0);
    const lines = init.stdout.trim().split("\n");
    expect(
      lines.filter((line) => line.includes(": adding index")).map((line) => line.split("adding index ")[1]),
    ).toEqual(["population (popKey, popAt)", "listed (listedKey, ledgerId)", "lifecycle (ledgerKey, at)"]);
    expect(lines.filter((line) => / is ACTIVE \(/.test(line))).toHaveLength(3);
    expect(lines.at(-1)).toBe(`audit table ${table} already existed; its missing indexes were added`);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    client.destroy();
    expect(
      (Table?.GlobalSecondaryIndexes ?? [])
        .filter((index) => ledgerIndexes.includes(String(index.IndexName)))
        .map((index) => [index.IndexName, index.IndexStatus, index.Projection?.ProjectionType])
        .sort(),
    ).toEqual([
      ["lifecycle", "ACTIVE", "ALL"],
      ["listed", "ACTIVE", "INCLUDE"],
      ["population", "ACTIVE", "ALL"],
    ]);
    const again = await runCli(["audit", "init"], env);
    expect(again.stdout.trim()).toBe(`audit table ${table} already exists`);

    // The upgraded table serves the ledger: a sweep enters the organization, the population reads.
    await sweep(env);
    const population = await runCli(["audit", "handshakes", "--format", "json"], env);
    expect(population.code, population.stderr).toBe(0);
    expect(
      jsonLines(population.stdout)
        .map((row) => row.handshakeId)
        .sort(),
    ).toEqual([alice.Id, mallory.Id, bob.Id].sort());
  });
});
