import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { DynamoDbLocal } from "../../devtools/dynamodb-local.js";
import {
  type EmulatorHandshake,
  type HandshakeState,
  type OrganizationsEmulator,
  startOrganizationsEmulator,
} from "../../devtools/org-emulator/index.js";
import { ensureLocalAuditTable } from "../../devtools/stack-env.js";
import { emailInvite } from "../support/invites.js";
import {
  localDynamoDbClient,
  runCli,
  scanTable,
  sharedDynamoDbLocal,
  stackEnv,
  withDynamoDb,
} from "../support/stack.js";

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), "janitor-ledger-"));
const config = join(dir, "janitor.yaml");
writeFileSync(
  config,
  [
    "version: 1",
    "dryRun: false",
    "rules:",
    "  - id: outside-email",
    "    type: email",
    '    allow: ["*@example.com"]',
    "    graceHours: 48",
    "",
  ].join("\n"),
);

/** The emulator's own clock: moved forward to drive its forgetting of closed handshakes. */
let clock = Date.now();
let org: OrganizationsEmulator;
let db: DynamoDbLocal;

function invite(n: number, email: string, state: HandshakeState): EmulatorHandshake {
  const id = `h-ledger${String(n).padStart(8, "0")}`;
  return emailInvite({
    id,
    email,
    state,
    requested: new Date(Date.now() - 2 * DAY),
    notes: "CHG-1 onboarding",
  });
}

const compliant = invite(1, "alice@example.com", "OPEN");
const outsider = invite(2, "mallory@gmail.com", "OPEN");
const accepted = invite(3, "bob@example.com", "ACCEPTED");
const declined = invite(4, "carol@example.com", "DECLINED");
/** A listing entry without parties or resources: entered with what it has, and flagged. */
const bare: EmulatorHandshake = { ...invite(5, "nobody@example.com", "OPEN"), Parties: [], Resources: [] };

beforeAll(async () => {
  [org, db] = await Promise.all([
    startOrganizationsEmulator({
      handshakes: [compliant, outsider, accepted, declined, bare],
      now: () => new Date(clock),
    }),
    sharedDynamoDbLocal(),
  ]);
});
afterAll(async () => {
  await Promise.all([org?.stop(), db?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function ledgerItems(table: string): Promise<Record<string, unknown>[]> {
  const items = await withDynamoDb(db.endpoint, (client) => scanTable(client, table));
  return items.map((item) => unmarshall(item)).filter((item) => String(item.itemType).startsWith("ledger"));
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

async function run(table: string, ...args: string[]) {
  const result = await runCli(["run", "--config", config, "--json", ...args], stackEnv(org, db, table));
  expect([0, 3], result.stderr).toContain(result.code);
  return JSON.parse(result.stdout);
}

describe("the handshake ledger", () => {
  test("enters each handshake once, then only its changes, and keeps it after the service forgets it", async () => {
    const table = `janitor-test-ledger-${Date.now().toString(36)}`;
    await ensureLocalAuditTable(db.endpoint, table);
    const env = stackEnv(org, db, table);

    const first = await run(table, "--dry-run");
    expect(first.ledger).toMatchObject({ written: 5, seen: 5, changed: 0, gone: 0 });
    // A second sweep over an unchanged organization writes nothing to the ledger.
    const before = await ledgerItems(table);
    const second = await run(table, "--dry-run");
    expect(second.ledger).toMatchObject({ written: 0, seen: 0, changed: 0, gone: 0 });
    expect(await ledgerItems(table)).toEqual(before);

    // A stricter config, tried over the ledger: it names exactly what would have differed,
    // and calls nothing and writes nothing.
    const stricter = join(dir, "stricter.yaml");
    writeFileSync(
      stricter,
      [
        "version: 1",
        "rules:",
        "  - id: outside-email",
        "    type: email",
        '    allow: ["*@example.com"]',
        '    deny: ["bob@example.com"]',
        "    graceHours: 48",
        "exemptions:",
        '  - email: "mallory@gmail.com"',
        "    reason: approved by the security team",
        "",
      ].join("\n"),
    );
    const calls = () => Object.values(org.stats()).reduce((sum, s) => sum + s.requests, 0);
    const callsBefore = calls();
    const itemsBefore = await ledgerItems(table);
    const simulated = await runCli(["simulate", "--config", stricter, "--format", "json"], env);
    expect(simulated.code, simulated.stderr).toBe(0);
    expect(
      jsonLines(simulated.stdout)
        .map((d) => [d.handshakeId, d.change])
        .sort(),
    ).toEqual(
      [
        [accepted.Id, "newly selected"],
        [outsider.Id, "exemption would apply"],
      ].sort(),
    );
    const simulatedTable = await runCli(["simulate", "--config", stricter], env);
    expect(simulatedTable.stdout).toContain("5 handshakes requested in the period judged under");
    expect(simulatedTable.stdout).toContain("newly selected 1, exemption would apply 1");
    expect(calls()).toBe(callsBefore);
    expect(await ledgerItems(table)).toEqual(itemsBefore);

    // Both invitations are accepted before the janitor acts: the outsider's escaped.
    org.mutate(compliant.Id, "ACCEPTED");
    org.mutate(outsider.Id, "ACCEPTED");
    const third = await run(table);
    expect(third.ledger).toMatchObject({ written: 2, changed: 2 });
    expect(third.ledger.escaped).toEqual([
      expect.objectContaining({ handshakeId: outsider.Id, state: "ACCEPTED", ruleId: "outside-email" }),
    ]);

    // 31 days on the emulator's clock: it no longer lists the four closed ones; the ledger keeps them.
    clock += 31 * DAY;
    expect(org.handshakes().map((h) => h.Id)).toEqual([bare.Id]);
    const fourth = await run(table);
    expect(fourth.ledger).toMatchObject({ written: 4, gone: 4 });
    const records = (await ledgerItems(table)).filter((item) => item.itemType === "ledger-record");
    expect(records.map((r) => [r.ledgerId, r.state, r.verdict, r.goneAt !== undefined]).sort()).toEqual(
      [
        [compliant.Id, "ACCEPTED", "compliant", true],
        [outsider.Id, "ACCEPTED", "selected", true],
        [accepted.Id, "ACCEPTED", "compliant", true],
        [declined.Id, "DECLINED", "compliant", true],
        [bare.Id, "OPEN", "compliant", false],
      ].sort(),
    );
    expect(records.find((r) => r.ledgerId === bare.Id)?.flags).toEqual(["parties missing"]);
    expect(records.find((r) => r.ledgerId === outsider.Id)?.escaped).toBe(true);
    const fifth = await run(table);
    expect(fifth.ledger).toMatchObject({ written: 0 });

    const verify = await runCli(["audit", "verify"], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    // The population, by CLI: every handshake with its last known state and verdict.
    const population = await runCli(["audit", "handshakes", "--format", "json"], env);
    expect(population.code, population.stderr).toBe(0);
    const listed = jsonLines(population.stdout);
    expect(listed.map((h) => h.handshakeId).sort()).toEqual(
      [compliant.Id, outsider.Id, accepted.Id, declined.Id, bare.Id].sort(),
    );
    const escaped = await runCli(["audit", "handshakes", "--verdict", "escaped", "--format", "json"], env);
    expect(jsonLines(escaped.stdout).map((h) => h.handshakeId)).toEqual([outsider.Id]);
    const byTarget = await runCli(["audit", "handshakes", "--target", "*@GMAIL.com"], env);
    expect(byTarget.stdout).toContain(outsider.Id);
    expect(byTarget.stdout).not.toContain(compliant.Id);
    const accepted2 = await runCli(
      ["audit", "handshakes", "--state", "accepted", "--verdict", "compliant", "--format", "csv"],
      env,
    );
    expect(accepted2.stdout.trim().split("\r\n")).toHaveLength(3);

    // One handshake's lifecycle: first seen, accepted, gone, and the janitor's actions among them.
    const lifecycle = await runCli(["audit", "handshake", outsider.Id, "--format", "json"], env);
    expect(lifecycle.code, lifecycle.stderr).toBe(0);
    const steps = jsonLines(lifecycle.stdout);
    expect(steps.filter((s) => s.entry !== "action").map((s) => [s.entry, s.state])).toEqual([
      ["SEEN", "OPEN"],
      ["STATE", "OPEN -> ACCEPTED"],
      ["GONE", "ACCEPTED"],
    ]);
    expect(steps.some((s) => s.entry === "action")).toBe(true);
    const times = steps.map((s) => s.at);
    expect([...times].sort()).toEqual(times);

    // The report opens with the population, the escaped one named.
    const out = join(dir, "report.html");
    const report = await runCli(["audit", "report", "--out", out], env);
    expect(report.code, report.stderr).toBe(0);
    const html = readFileSync(out, "utf8");
    expect(html.indexOf('id="population"')).toBeLessThan(html.indexOf('id="totals"'));
    expect(html).toContain("5 handshakes requested in the period");
    expect(html).toMatch(new RegExp(`id="population-escaped"[^]*${outsider.Id}`));
    expect(html).toContain("No interval of the period went more than 30 days without a full listing");

    // An entry's verdict rewritten without its hash: verify names it.
    const seen = (await ledgerItems(table)).find(
      (item) => item.itemType === "ledger" && item.ledgerId === outsider.Id && item.kind === "SEEN",
    );
    const client = localDynamoDbClient(db.endpoint);
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: marshall({ pk: seen?.pk, sk: seen?.sk }),
        UpdateExpression: "SET verdict = :v",
        ExpressionAttributeValues: marshall({ ":v": "compliant" }),
      }),
    );
    client.destroy();
    const tampered = await runCli(["audit", "verify"], env);
    expect(tampered.code).toBe(5);
    expect(tampered.stdout).toContain(`ledger entry ${outsider.Id} (#2): content altered`);

    // A record whose state is not a string: shown flagged, the query does not fail.
    const corrupt = localDynamoDbClient(db.endpoint);
    await corrupt.send(
      new UpdateItemCommand({
        TableName: table,
        Key: marshall({ pk: `LEDGER#${declined.Id}`, sk: "STATE" }),
        UpdateExpression: "SET #s = :n",
        ExpressionAttributeNames: { "#s": "state" },
        ExpressionAttributeValues: marshall({ ":n": 7 }),
      }),
    );
    corrupt.destroy();
    const flagged = await runCli(["audit", "handshakes", "--format", "json"], env);
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(jsonLines(flagged.stdout).find((h) => h.handshakeId === declined.Id)).toMatchObject({
      unreadable: "state is not a string",
    });
    expect(flagged.stderr).toContain("could not be read in full");
    const table2 = await runCli(["audit", "handshake", declined.Id], env);
    expect(table2.code, table2.stderr).toBe(0);
    // A later sweep is not stopped by it either.
    expect((await run(table)).status).not.toBe("FAILED");
  });
});
