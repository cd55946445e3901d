import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import {
  DEFAULT_ORGANIZATION,
  type EmulatorHandshake,
  handshakeArn,
  inviteResources,
} from "../../devtools/org-emulator/index.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import type { RunSummary } from "../../src/sweep/sweep.js";
import { localDynamoDbClient, runCli, type Stack, stackEnv, startStack } from "../support/stack.js";

/**
 * The attacks on the audit trail's evidence, each through the CLI against the local Organizations
 * emulator and DynamoDB Local, by someone holding the janitor's own role: PutItem and UpdateItem
 * on the table, no hashing unless said. Each leaves `audit verify` exiting 5, with or without a
 * later janitor run in between, and nothing the rules did not select is canceled.
 */
type Item = Record<string, AttributeValue>;
let stack: Stack;
let client: DynamoDBClient;
let dir: string;
const HOUR = 3_600_000;
const since = () => new Date(Date.now() - 6 * HOUR).toISOString();
const ORG_HEAD: Item = { pk: { S: "CHAIN#organization" }, sk: { S: "HEAD" } };
const runKey = (runId: string): Item => ({ pk: { S: `RUN#${runId}` }, sk: { S: "RUN" } });
const actionKey = (runId: string, handshakeId: string): Item => ({
  pk: { S: `RUN#${runId}` },
  sk: { S: `ACTION#${handshakeId}` },
});

beforeAll(async () => {
  stack = await startStack(sampleOrganization(new Date()));
  client = localDynamoDbClient(stack.db.endpoint);
  dir = mkdtempSync(join(tmpdir(), "audit-attacks-"));
}, 120_000);
afterAll(async () => {
  client?.destroy();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fresh organization and table, and the environment the CLI reads for them. */
async function scene(handshakes: readonly EmulatorHandshake[] = sampleOrganization(new Date())) {
  const org = await stack.reseed(handshakes);
  const table = await stack.newTable();
  return { table, env: stackEnv(org, stack.db, table) };
}

async function run(env: Record<string, string>, runId: string, extra: string[] = [], config = DEMO_CONFIG) {
  const result = await runCli(["run", "--config", config, "--json", "--run-id", runId, ...extra], env);
  expect([0, 3], result.stderr).toContain(result.code);
  return JSON.parse(result.stdout) as RunSummary;
}

async function verify(env: Record<string, string>) {
  const result = await runCli(["audit", "verify", "--since", since()], env);
  const lines = result.stdout.trim().split("\n");
  return { ...result, problems: lines.slice(0, -1) };
}

async function raw(table: string, key: Item) {
  return (await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
}

async function update(
  table: string,
  key: Item,
  expression: string,
  values?: Item,
  names?: Record<string, string>,
) {
  await client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: key,
      UpdateExpression: expression,
      ...(values ? { ExpressionAttributeValues: values } : {}),
      ...(names ? { ExpressionAttributeNames: names } : {}),
    }),
  );
}

/** Every item of a run's partition: its run item and its action items. */
async function runItems(table: string, runId: string): Promise<Item[]> {
  const answer = await client.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": { S: `RUN#${runId}` } },
      ConsistentRead: true,
    }),
  );
  return answer.Items ?? [];
}

/** A final action item put by someone with PutItem and no hashing: never chained. */
function forged(runId: string, handshakeId: string, outcome: string, extra: Item = {}): Item {
  const at = new Date().toISOString();
  return {
    ...actionKey(runId, handshakeId),
    itemType: { S: "action" },
    timeKey: { S: `ACTION#${at.slice(0, 7)}` },
    runId: { S: runId },
    handshakeId: { S: handshakeId },
    ruleId: { S: "outside-email" },
    matchedRules: { L: [{ S: "outside-email" }] },
    dryRun: { BOOL: false },
    at: { S: at },
    trigger: { S: "cli" },
    actor: { S: "mallory@cli" },
    action: { S: "INVITE" },
    target: { S: "someone@example.com" },
    targetType: { S: "EMAIL" },
    reason: { S: "looked stale" },
    attempts: { N: "1" },
    outcome: { S: outcome },
    ...extra,
  };
}

describe("laundering a forged record", () => {
  it("a forged CANCELED item in a sealed run, noted as waiting, with counts and actor changed: still named after the next janitor run", async () => {
    const { table, env } = await scene();
    await run(env, "launder-1");
    // The forgery: an item, its id in the run's waiting set, the counts and actor to match.
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: forged("launder-1", "h-forged", "CANCELED", { pendingKey: { S: "UNLINKED" } }),
      }),
    );
    const before = await raw(table, runKey("launder-1"));
    await update(
      table,
      runKey("launder-1"),
      "ADD awaitingLink :h SET actor = :a, #counts.CANCELED = :n",
      {
        ":h": { SS: ["h-forged"] },
        ":a": { S: "mallory@cli" },
        ":n": { N: String(Number(before?.counts?.M?.CANCELED?.N ?? "0") + 1) },
      },
      { "#counts": "counts" },
    );
    const forgedSeen = await verify(env);

    // The next janitor run, a dry run: it links nothing into the sealed run and seals nothing again.
    await run(env, "launder-2", ["--dry-run"]);
    const after = await verify(env);

    expect(forgedSeen.code).toBe(5);
    expect(after.code).toBe(5);
    // Everything named before is named still, and the next run recorded what it found as findings.
    expect(after.problems).toEqual(expect.arrayContaining(forgedSeen.problems));
    expect(after.problems.filter((line) => !forgedSeen.problems.includes(line))).toEqual(
      forgedSeen.problems.map((problem) =>
        expect.stringMatching(
          new RegExp(
            `^run launder-2: integrity finding F-[0-9a-f]{12}: ${literally(problem)} \\(not acknowledged`,
          ),
        ),
      ),
    );
    expect(after.problems).toEqual(
      expect.arrayContaining([
        "run launder-1: item h-forged: final but not in the chain",
        "run launder-1: run item altered: seal mismatch (attributes, chain head or length changed)",
      ]),
    );
    const sealed = await raw(table, runKey("launder-1"));
    expect(sealed?.seal).toEqual(before?.seal);
    expect((await raw(table, actionKey("launder-1", "h-forged")))?.chainHash).toBeUndefined();
  });
});

describe("a finished run reopened", () => {
  /** Status RUNNING, seal and end removed, the last item's outcome and link stripped, the head rewound. */
  async function reopen(table: string, runId: string): Promise<string> {
    const items = (await runItems(table, runId)).filter((i) => i.chainSeq !== undefined);
    const last = items.sort((a, b) => Number(a.chainSeq?.N) - Number(b.chainSeq?.N)).at(-1);
    if (last === undefined) throw new Error(`run ${runId} has no chained item to strip`);
    await update(
      table,
      { pk: last.pk as AttributeValue, sk: last.sk as AttributeValue },
      "REMOVE outcome, chainSeq, chainHash, chainPrev",
    );
    await update(
      table,
      runKey(runId),
      "SET #status = :running, chainHead = :prev, chainLength = :n REMOVE seal, endedAt",
      {
        ":running": { S: "RUNNING" },
        ":prev": last.chainPrev as AttributeValue,
        ":n": { N: String(Number(last.chainSeq?.N) - 1) },
      },
      { "#status": "status" },
    );
    return last.handshakeId?.S ?? "";
  }

  it("is named whether it was sealed last or before another run", async () => {
    const { table, env } = await scene();
    const first = await run(env, "reopen-1");
    await run(env, "reopen-2", ["--dry-run"]);
    const latest = await run(env, "reopen-3");
    expect(first.counts.CANCELED ?? 0).toBeGreaterThan(0);
    expect(latest.runId).toBe("reopen-3");
    expect((await verify(env)).code).toBe(0);

    await reopen(table, "reopen-1");
    const middle = await verify(env);
    expect(middle.code).toBe(5);
    expect(middle.problems).toEqual([
      expect.stringMatching(
        /^run reopen-2: follows run reopen-1 sealed \w+, but run reopen-1's seal is none/,
      ),
    ]);

    const { table: table2, env: env2 } = await scene();
    await run(env2, "reopen-last-1");
    await run(env2, "reopen-last-2");
    await reopen(table2, "reopen-last-1");
    await reopen(table2, "reopen-last-2").catch(() => "");
    const last = await verify(env2);
    expect(last.code).toBe(5);
    expect(last.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^the organization's chain head names run reopen-last-2 sealed \w+, but its seal is none/,
        ),
      ]),
    );
  });
});

describe("the latest run erased", () => {
  it("every item of it emptied with UpdateItem: the organization's chain head still names it", async () => {
    const { table, env } = await scene();
    await run(env, "erase-1");
    const latest = await run(env, "erase-2");
    expect(latest.counts).not.toEqual({});
    for (const item of await runItems(table, "erase-2")) {
      const names = Object.keys(item).filter((name) => name !== "pk" && name !== "sk");
      await update(
        table,
        { pk: item.pk as AttributeValue, sk: item.sk as AttributeValue },
        `REMOVE ${names.map((_, i) => `#a${i}`).join(", ")}`,
        undefined,
        Object.fromEntries(names.map((name, i) => [`#a${i}`, name])),
      );
    }

    const result = await verify(env);

    expect(result.code).toBe(5);
    expect(result.problems).toContainEqual(
      expect.stringMatching(
        /^the organization's chain head names run erase-2 sealed \w+, but its seal is none/,
      ),
    );
    expect((await raw(table, ORG_HEAD))?.runId?.S).toBe("erase-2");
  });
});

describe("a MARKED item put outside the chain", () => {
  it("is never acted on: the next run keeps the grace period and verify names the item", async () => {
    const requested = new Date(Date.now() - HOUR);
    const target = { Id: "someone.personal@gmail.com", Type: "EMAIL" as const };
    const handshake: EmulatorHandshake = {
      Id: "h-000000000077",
      Arn: handshakeArn(DEFAULT_ORGANIZATION, "INVITE", "h-000000000077"),
      Parties: [{ Id: DEFAULT_ORGANIZATION.Id, Type: "ORGANIZATION" }, target],
      State: "OPEN",
      RequestedTimestamp: requested,
      ExpirationTimestamp: new Date(requested.getTime() + 15 * 24 * HOUR),
      Action: "INVITE",
      Resources: inviteResources(DEFAULT_ORGANIZATION, target),
    };
    const { table, env } = await scene([handshake]);
    const config = join(dir, `grace-${table}.yaml`);
    writeFileSync(
      config,
      'version: 1\ndryRun: false\nrules:\n  - id: outside-email\n    type: email\n    deny: ["*@gmail.com"]\n    graceHours: 24\n',
    );
    // A run of the janitor's own that started the table's chain; then the forged mark, due an hour ago.
    await run(env, "mark-0", ["--dry-run"], config);
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: forged("mark-0", handshake.Id, "MARKED", {
          pendingKey: { S: "MARKED" },
          cancelAfter: { S: new Date(Date.now() - HOUR).toISOString() },
          target: { S: target.Id },
        }),
      }),
    );

    const next = await run(env, "mark-1", [], config);

    expect(next.actions.map((a) => [a.handshakeId, a.outcome])).toEqual([[handshake.Id, "MARKED"]]);
    expect(stack.org.handshakes().find((h) => h.Id === handshake.Id)?.State).toBe("OPEN");
    const result = await verify(env);
    expect(result.code).toBe(5);
    expect(result.problems).toContain(
      `run mark-0: item ${handshake.Id}: final, not in the chain, and not recorded by its run as waiting: possibly forged`,
    );
  });
});

describe("integrity findings", () => {
  it("a run that finds the trail not as sealed records a finding, verify names it until someone acknowledges it", async () => {
    const { table, env } = await scene();
    await run(env, "found-1");
    await update(table, runKey("found-1"), "SET actor = :a", { ":a": { S: "mallory@cli" } });

    const finder = await run(env, "found-2", ["--dry-run"]);
    const after = await run(env, "found-3", ["--dry-run"]);
    const before = await verify(env);

    const damage = "run found-1: run item altered: seal mismatch (attributes, chain head or length changed)";
    expect(finder.findings).toEqual([
      expect.stringMatching(new RegExp(`^F-[0-9a-f]{12}: ${literally(damage)}$`)),
    ]);
    // The finder is the chain head now, intact: the next run finds nothing.
    expect(after.findings).toBeUndefined();
    const id = (finder.findings?.[0] ?? "").slice(0, 14);
    expect(before.code).toBe(5);
    expect(before.problems).toEqual([
      damage,
      `run found-2: integrity finding ${finder.findings?.[0]} (not acknowledged: audit acknowledge ${id} --note ...)`,
    ]);

    const unknown = await runCli(["audit", "acknowledge", "F-000000000000", "--note", "x"], env);
    const noNote = await runCli(["audit", "acknowledge", id], env);
    const ack = await runCli(
      ["audit", "acknowledge", id, "--note", "actor edited by hand; traced to SEC-9", "--actor", "alice"],
      env,
    );
    const again = await runCli(["audit", "acknowledge", id, "--note", "again", "--actor", "bob"], env);
    const acknowledged = await verify(env);

    expect([unknown.code, unknown.stderr]).toEqual([2, "FINDING: no run recorded finding F-000000000000\n"]);
    expect(noNote.code).toBe(2);
    expect(noNote.stderr).toContain("--note: say what was found and done; it is required");
    expect(ack.code, ack.stderr).toBe(0);
    expect(ack.stdout).toMatch(new RegExp(`^acknowledged ${id} by alice at `));
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`${id} was acknowledged already by alice at `);
    // Acknowledged, not intact: the damage is still named, the finding is said on stderr.
    expect(acknowledged.code).toBe(5);
    expect(acknowledged.problems).toEqual([damage]);
    expect(acknowledged.stderr).toContain(
      `note: run found-2: integrity finding ${id} acknowledged by alice at `,
    );
    expect(acknowledged.stderr).toContain(": actor edited by hand; traced to SEC-9\n");
  });
});

function literally(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
