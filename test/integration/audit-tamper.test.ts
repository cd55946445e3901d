import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AttributeValue,
  BatchWriteItemCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DynamoDbLocal } from "../../devtools/dynamodb-local.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { ensureAuditTable } from "../../src/aws/audit-table-init.js";
import { parseConfig } from "../../src/config/config.js";
import { chainHash, runSeal } from "../../src/evidence/integrity.js";
import type { AuditAction, RunRecord } from "../../src/ports/records.js";
import { sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { type SeededTrail, seedTrail } from "../support/audit-trail.js";
import { auditAction, FakeOrganizations, handshake } from "../support/fakes.js";
import {
  chainFailingClient,
  localDynamoDbClient,
  runCli,
  scanTable,
  sharedDynamoDbLocal,
} from "../support/stack.js";

/**
 * Tampering as someone holding the janitor's own role would: PutItem and UpdateItem on the table
 * with the raw client, no DeleteItem (except where a missing item is simulated). Each test gets a
 * fresh table with the same seeded trail: 3 runs of June 2026, 4 actions each, written once by the
 * audit store and copied item for item into each test's table.
 */
let db: DynamoDbLocal;
let client: DynamoDBClient;
let dir: string;
let tableName: string;
let env: Record<string, string>;
let trail: SeededTrail;

const START = new Date("2026-06-02T06:00:00.000Z");
const PERIOD = ["--since", "2026-06-01", "--until", "2026-07-01"];
type Item = Record<string, AttributeValue>;

/** The seeded trail's items, written once by the store; each test's table starts as a copy. */
let seeded: Item[];

beforeAll(async () => {
  db = await sharedDynamoDbLocal();
  client = localDynamoDbClient(db.endpoint);
  dir = mkdtempSync(join(tmpdir(), "audit-tamper-"));
  tableName = `tamper-${randomUUID().slice(0, 8)}`;
  await ensureAuditTable(client, tableName);
  trail = await seedTrail(store(), { prefix: "t", runs: 3, start: START, actionsPerRun: 4 });
  seeded = await scanTable(client, tableName);
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await db?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  tableName = `tamper-${randomUUID().slice(0, 8)}`;
  await ensureAuditTable(client, tableName);
  await copyItems(seeded, tableName);
  env = {
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_REGION: "us-east-1",
    AUDIT_TABLE_NAME: tableName,
  };
});

const store = () => createAuditStore({ client, tableName });

/** Writes `items` as they are, 25 to a request, with whatever a request left unprocessed sent again. */
async function copyItems(items: readonly Item[], table: string): Promise<void> {
  for (let at = 0; at < items.length; at += 25) {
    let requests = items.slice(at, at + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt += 1) {
      if (attempt === 10) throw new Error(`could not copy the seeded trail into ${table}`);
      const answer = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
      requests = (answer.UnprocessedItems?.[table] ?? []).flatMap((request) =>
        request.PutRequest?.Item ? [{ PutRequest: { Item: request.PutRequest.Item } }] : [],
      );
    }
  }
}
const runKey = (runId: string): Item => ({ pk: { S: `RUN#${runId}` }, sk: { S: "RUN" } });
const actionKey = (a: { runId: string; handshakeId: string }): Item => ({
  pk: { S: `RUN#${a.runId}` },
  sk: { S: `ACTION#${a.handshakeId}` },
});
const raw = async (key: Item) =>
  (await client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item;
const update = (key: Item, expression: string, values?: Item, names?: Record<string, string>) =>
  client.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: expression,
      ...(values ? { ExpressionAttributeValues: values } : {}),
      ...(names ? { ExpressionAttributeNames: names } : {}),
    }),
  );
/** The organization's chain head item (src/aws/audit/items.ts). */
const ORG_HEAD: Item = { pk: { S: "CHAIN#organization" }, sk: { S: "HEAD" } };
const runOf = (index: number) => trail.runs[index] as RunRecord;
const actionsOf = (run: RunRecord) => trail.actions.filter((a) => a.runId === run.runId);

/** verify's problem lines, without its closing summary. */
/** A CANCELED action item put into `run` by someone with PutItem and no hashing: never chained. */
function forgedCancel(run: RunRecord, handshakeId: string, extra: Item = {}): Item {
  return {
    ...actionKey({ runId: run.runId, handshakeId }),
    itemType: { S: "action" },
    timeKey: { S: "ACTION#2026-06" },
    runId: { S: run.runId },
    handshakeId: { S: handshakeId },
    ruleId: { S: "stale-invitations" },
    matchedRules: { L: [{ S: "stale-invitations" }] },
    dryRun: { BOOL: false },
    at: { S: "2026-06-03T19:00:09.000Z" },
    trigger: { S: run.trigger },
    actor: { S: run.actor },
    action: { S: "INVITE" },
    target: { S: "someone@example.com" },
    targetType: { S: "EMAIL" },
    reason: { S: "open for 9 days, more than 7" },
    attempts: { N: "1" },
    outcome: { S: "CANCELED" },
    ...extra,
  };
}

async function verify(args: string[] = PERIOD) {
  const result = await runCli(["audit", "verify", ...args], env);
  const lines = result.stdout.trim().split("\n");
  return { ...result, problems: lines.slice(0, -1), summary: lines.at(-1) ?? "" };
}

describe("audit verify against someone with the janitor's write access", () => {
  it("finds an untouched table intact", async () => {
    const result = await verify();
    expect(result.stdout.trim()).toBe(`intact: 3 runs, ${trail.actions.length} action items`);
    expect(result.code, result.stderr).toBe(0);
  });

  it("reports an edited reason and a deleted item in the middle of a chain", async () => {
    const run = runOf(0);
    const [first, second] = actionsOf(run) as [AuditAction, AuditAction];
    await update(actionKey(first), "SET reason = :r", { ":r": { S: "nothing to see" } });
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: actionKey(second) }));
    const result = await verify();
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      expect.stringMatching(
        new RegExp(`^run ${run.runId}: item ${first.handshakeId} \\(#1\\): content altered`),
      ),
      `run ${run.runId}: item #2 of 4 missing`,
      // The run's counts still count the deleted item.
      `run ${run.runId}: counts say CANCELED 3, its items hold 2`,
    ]);
  });

  it("does not link a forged UNLINKED item its run never noted, and names it possibly forged", async () => {
    const run = runOf(1);
    const forged = forgedCancel(run, "h-forged", { pendingKey: { S: "UNLINKED" } });
    await client.send(new PutItemCommand({ TableName: tableName, Item: forged }));
    // What the next run does first.
    expect(await store().linkUnchained()).toBe(0);
    expect((await raw(actionKey({ runId: run.runId, handshakeId: "h-forged" })))?.chainHash).toBeUndefined();

    const result = await verify();
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      `run ${run.runId}: item h-forged: final, not in the chain, and not recorded by its run as waiting: possibly forged`,
      expect.stringMatching(new RegExp(`^run ${run.runId}: counts say CANCELED \\d+, its items hold \\d+$`)),
    ]);
  });

  it("still checks a run whose run item is gone, through its actions, and says the run item is missing", async () => {
    const run = runOf(2);
    const [altered] = actionsOf(run) as [AuditAction];
    await update(actionKey(altered), "SET reason = :r", { ":r": { S: "edited" } });
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: runKey(run.runId) }));
    const result = await verify();
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      `run ${run.runId}: run item missing`,
      expect.stringMatching(
        new RegExp(`^run ${run.runId}: item ${altered.handshakeId} \\(#1\\): content altered`),
      ),
      // It was sealed last: the organization's chain head names it.
      `the organization's chain head names run ${run.runId} (#3), which is missing`,
    ]);
    expect(result.summary).toBe(`3 problems in 3 runs, ${trail.actions.length} action items`);
  });

  it("still checks a run whose run item was re-dated to another month, and names the re-dating", async () => {
    const run = runOf(0);
    const [altered] = actionsOf(run) as [AuditAction];
    await update(actionKey(altered), "SET reason = :r", { ":r": { S: "edited" } });
    await update(runKey(run.runId), "SET timeKey = :t", { ":t": { S: "RUN#2025-01" } });
    const result = await verify();
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      expect.stringMatching(
        new RegExp(`^run ${run.runId}: item ${altered.handshakeId} \\(#1\\): content altered`),
      ),
      `run ${run.runId}: timeKey RUN#2025-01 is not RUN#2026-06 (its startedAt ${run.startedAt})`,
    ]);
  });

  it("names an action moved out of the period by its timeKey", async () => {
    const run = runOf(1);
    const moved = actionsOf(run)[2] as AuditAction;
    await update(actionKey(moved), "SET timeKey = :t", { ":t": { S: "ACTION#2024-12" } });
    const query = await runCli(["audit", "query", ...PERIOD, "--format", "json"], env);
    expect(query.stdout).not.toContain(moved.handshakeId);
    const result = await verify();
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      `run ${run.runId}: item ${moved.handshakeId}: timeKey ACTION#2024-12 is not ACTION#2026-06 (its at ${moved.at})`,
    ]);
  });

  it.each([
    ["actor", "SET actor = :v", { ":v": { S: "arn:aws:iam::111122223333:user/mallory" } }],
    ["trigger", "SET #trigger = :v", { ":v": { S: "scheduled" } }, { "#trigger": "trigger" }],
    ["dryRun", "SET dryRun = :v", { ":v": { BOOL: true } }],
    ["configHash", "SET configHash = :v", { ":v": { S: "sha256:00000000" } }],
    ["configVersion", "SET configVersion = :v", { ":v": { N: "7" } }],
    ["note", "SET note = :v", { ":v": { S: "approved" } }],
    ["status", "SET #status = :v", { ":v": { S: "COMPLETED" } }, { "#status": "status" }],
    ["startedAt", "SET startedAt = :v", { ":v": { S: "2026-06-03T19:00:00.001Z" } }],
  ] as const)("names a run item whose %s was changed", async (_name, expression, values, names?) => {
    // Run 2 is the manual run (it has a note) and ends PARTIAL (a FAILED action): every change above is a change.
    const run = runOf(2);
    await update(runKey(run.runId), expression, values as Item, names);
    const result = await verify();
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      `run ${run.runId}: run item altered: seal mismatch (attributes, chain head or length changed)`,
    ]);
  });

  it("names a run item whose counts were changed, by its seal and against its items", async () => {
    const run = runOf(0);
    await update(
      runKey(run.runId),
      "SET #counts = :c",
      { ":c": { M: { CANCELED: { N: "0" } } } },
      {
        "#counts": "counts",
      },
    );
    const result = await verify();
    expect(result.code).toBe(5);
    expect(result.problems[0]).toBe(
      `run ${run.runId}: run item altered: seal mismatch (attributes, chain head or length changed)`,
    );
    expect(result.problems.slice(1).every((line) => line.startsWith(`run ${run.runId}: counts say `))).toBe(
      true,
    );
    expect(result.problems.length).toBeGreaterThan(1);
  });

  it("names a run whose seal was removed", async () => {
    const run = runOf(1);
    await update(runKey(run.runId), "REMOVE seal");
    const result = await verify();
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      `run ${run.runId}: finished (${run.status}) but not sealed`,
      // The run sealed after it committed to the seal it had.
      expect.stringMatching(
        new RegExp(
          `^run ${runOf(2).runId}: follows run ${run.runId} sealed \\w+, but run ${run.runId}'s seal is none`,
        ),
      ),
    ]);
  });

  it("names a chain whose tail was cut (the last outcome and link stripped, the head rewound)", async () => {
    const run = runOf(0);
    const last = actionsOf(run).at(-1) as AuditAction;
    const lastItem = await raw(actionKey(last));
    await update(actionKey(last), "REMOVE outcome, chainSeq, chainHash, chainPrev");
    await update(runKey(run.runId), "SET chainHead = :h, chainLength = :n", {
      ":h": lastItem?.chainPrev as AttributeValue,
      ":n": { N: "3" },
    });
    const result = await verify();
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      `run ${run.runId}: run item altered: seal mismatch (attributes, chain head or length changed)`,
    ]);
  });
});

describe("audit export and verify --file", () => {
  async function exported() {
    const file = join(dir, `${tableName}.jsonl`);
    const result = await runCli(["audit", "export", ...PERIOD, "--out", file], env);
    expect(result.code, result.stderr).toBe(0);
    return file;
  }

  it("writes each run's seal and chain end, and verifies the archive offline and against the table", async () => {
    const file = await exported();
    const runs = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((row) => row.itemType === "run");
    for (const run of runs) {
      const stored = await raw(runKey(String(run.runId)));
      expect(run.seal).toBe(stored?.seal?.S);
      expect(run.chainHead).toBe(stored?.chainHead?.S);
      expect(run.chainLength).toBe(Number(stored?.chainLength?.N));
    }
    const result = await verify(["--file", file]);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout.trim()).toBe(
      `intact: 3 runs, ${trail.actions.length} action items (archive ${file}, compared with the table)`,
    );
  });

  it("refuses a CSV export with one line saying which export it reads", async () => {
    const file = join(dir, `${tableName}.csv`);
    const written = await runCli(["audit", "export", ...PERIOD, "--format", "csv", "--out", file], env);
    expect(written.code, written.stderr).toBe(0);
    const result = await verify(["--file", file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toContain(
      `--file: ${file} is a CSV export; verify reads the JSON lines one (audit export --format jsonl)`,
    );
  });

  it("catches an edited archive from the file alone", async () => {
    const file = await exported();
    const target = actionsOf(runOf(1))[0] as AuditAction;
    const rows = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const row = rows.find((r) => r.handshakeId === target.handshakeId);
    if (row === undefined) throw new Error("the archive lacks the target");
    row.reason = "rewritten";
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    const result = await verify(["--file", file]);
    expect(result.code).toBe(5);
    expect(result.problems).toContain(
      `archive: run ${target.runId}: item ${target.handshakeId} (#1): content altered (hash mismatch)`,
    );
  });

  it("catches a run rewritten in the table with every hash recomputed, which the table alone cannot", async () => {
    const file = await exported();
    const run = runOf(2);
    const last = actionsOf(run).at(-1) as AuditAction;
    const lastItem = await raw(actionKey(last));
    // The attacker recomputes the item's hash, the head and the run's seal: the table is consistent.
    const forged = { ...last, reason: "rewritten" };
    const seq = Number(lastItem?.chainSeq?.N);
    const hash = chainHash(lastItem?.chainPrev?.S ?? "", forged, seq);
    await update(actionKey(last), "SET reason = :r, chainHash = :h", {
      ":r": { S: forged.reason },
      ":h": { S: hash },
    });
    const runItem = await raw(runKey(run.runId));
    const record = await store().getRun(run.runId);
    const seal = runSeal({ ...record }, { hash, length: seq }, runItem?.awaitingLink?.SS ?? []);
    await update(runKey(run.runId), "SET chainHead = :h, seal = :s", {
      ":h": { S: hash },
      ":s": { S: seal },
    });
    // The run is the latest: the organization's chain head names its seal, and is rewritten too.
    await update(ORG_HEAD, "SET seal = :s", { ":s": { S: seal } });

    const table = await verify();
    expect(table.code, table.stdout).toBe(0);
    const result = await verify(["--file", file]);
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      `run ${run.runId}: seal differs from the archive's: run rewritten since`,
      `run ${run.runId}: item ${last.handshakeId}: differs from the archive`,
    ]);
  });

  it("is never weaker than verifying the table: an item forged after the export is named by both", async () => {
    const file = await exported();
    const run = runOf(1);
    const forged = forgedCancel(run, "h-forgedlater");
    await client.send(new PutItemCommand({ TableName: tableName, Item: forged }));

    const table = await verify();
    const archive = await verify(["--file", file]);

    expect(table.code).toBe(5);
    expect(archive.code).toBe(5);
    expect(table.problems.length).toBeGreaterThan(0);
    for (const line of table.problems) expect(archive.problems).toContain(line);
  });

  it("catches a whole run and all its actions deleted from the period, in the table by the run sealed after it", async () => {
    const file = await exported();
    const run = runOf(1);
    for (const action of actionsOf(run)) {
      await client.send(new DeleteItemCommand({ TableName: tableName, Key: actionKey(action) }));
    }
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: runKey(run.runId) }));
    const broken = `run ${runOf(2).runId}: follows run ${run.runId} in the organization's chain, and run ${run.runId} is missing`;
    const table = await verify();
    expect(table.code).toBe(5);
    expect(table.problems).toEqual([broken]);
    const result = await verify(["--file", file]);
    expect(result.code).toBe(5);
    expect(result.problems).toEqual([
      // The table check of the archived run, then the comparison with the archive.
      `run ${run.runId}: run item missing`,
      `run ${run.runId}: in the archive, run item missing from the table`,
      ...actionsOf(run).map(
        (a) => `run ${run.runId}: item ${a.handshakeId}: in the archive, missing from the table`,
      ),
      broken,
    ]);
  });
});

describe("audit report", () => {
  it("shows the verdict at the top: intact, or the findings escaped", async () => {
    const clean = join(dir, `${tableName}-clean.html`);
    const intact = await runCli(["audit", "report", ...PERIOD, "--out", clean], env);
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.stderr).toBe("");
    const cleanHtml = readFileSync(clean, "utf8");
    expect(cleanHtml).toContain('data-verdict="intact"');
    expect(cleanHtml.indexOf('id="verdict"')).toBeLessThan(cleanHtml.indexOf('id="totals"'));

    const run = runOf(0);
    await update(runKey(run.runId), "SET actor = :v", { ":v": { S: "<b>mallory</b>" } });
    const moved = actionsOf(runOf(1))[0] as AuditAction;
    await update(actionKey(moved), "SET timeKey = :t", { ":t": { S: "ACTION#<i>x</i>" } });
    const tampered = join(dir, `${tableName}-tampered.html`);
    const result = await runCli(["audit", "report", ...PERIOD, "--out", tampered], env);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("warning: the period does not verify: 2 problems");
    const html = readFileSync(tampered, "utf8");
    expect(html).toContain('data-verdict="problems"');
    expect(html).not.toContain('data-verdict="intact"');
    expect(html).toContain(`run ${run.runId}: run item altered: seal mismatch`);
    expect(html).toContain("timeKey ACTION#&#60;i&#62;x&#60;/i&#62; is not ACTION#2026-06");
    expect(html).not.toContain("<i>x</i>");
  });
});

describe("seals as the janitor writes them", () => {
  it("logs each finished run's seal as one line, the seal the run item holds", async () => {
    const lines: { message: string; extra?: Record<string, unknown> }[] = [];
    const log = (message: string, extra?: Record<string, unknown>) =>
      lines.push({ message, ...(extra ? { extra } : {}) });
    const summary = await sweep(
      {
        config: parseConfig(
          'version: 1\ndryRun: false\nrules:\n  - id: outside-email\n    type: email\n    allow: ["*@example.com"]\n',
          "t.yaml",
        ),
        runId: "sealed-sweep",
        trigger: "cli",
        actor: "tester",
      },
      {
        organizations: new FakeOrganizations(
          [1, 2, 3].map((i) =>
            handshake({
              id: `h-seal${String(i).padStart(9, "0")}`,
              target: { type: "EMAIL", value: `p${i}@gmail.com` },
            }),
          ),
          [],
        ),
        ...sweepPorts(store()),
        now: () => new Date("2026-06-20T10:00:00Z"),
        logger: { debug: log, info: log, warn: log, error: log },
      },
    );
    expect(summary.counts).toEqual({ CANCELED: 3 });
    const stored = await raw(runKey("sealed-sweep"));
    expect(lines.filter((l) => l.message === "run sealed")).toEqual([
      {
        message: "run sealed",
        extra: {
          runId: "sealed-sweep",
          seal: stored?.seal?.S,
          chainHead: stored?.chainHead?.S,
          chainLength: 3,
        },
      },
    ]);
    expect(stored?.seal?.S).toMatch(/^[0-9a-f]{64}$/);
    const result = await verify(["--run", "sealed-sweep"]);
    expect(result.stdout.trim()).toBe("intact: 1 runs, 3 action items");
  });

  it("links the run's own waiting item before its seal, and nothing into a sealed run after", async () => {
    // Chain transactions fail while `failing` is on: the item is stored, noted by its run, unlinked.
    const { client: flaky, failing } = chainFailingClient(db.endpoint);
    try {
      const audit = createAuditStore({
        client: flaky,
        tableName,
        retry: { policy: { baseMs: 1, capMs: 2, maxAttempts: 2 } },
      });
      const run: RunRecord = { ...runOf(0), runId: "waiting-run", status: "RUNNING", counts: {} };
      await audit.startRun(run);
      const item = auditAction({
        runId: run.runId,
        handshakeId: "h-waiting",
        outcome: "EXEMPTED",
        at: "2026-06-02T06:00:01.000Z",
      });
      failing(true);
      expect(await audit.recordAction(item)).toEqual({ created: true, unlinked: expect.any(String) });
      failing(false);
      expect((await raw(runKey(run.runId)))?.awaitingLink?.SS).toEqual(["h-waiting"]);
      await audit.finishRun({
        ...run,
        status: "COMPLETED",
        counts: { EXEMPTED: 1 },
        endedAt: "2026-06-02T06:00:05.000Z",
      });
      const sealed = await raw(runKey(run.runId));
      expect(sealed?.awaitingLink).toBeUndefined();
      expect(sealed?.chainLength?.N).toBe("1");
      const result = await verify(["--run", run.runId]);
      expect(result.stdout.trim()).toBe("intact: 1 runs, 1 action items");
      expect(result.code).toBe(0);

      // An item put into the sealed run and noted there as waiting is never linked: the seal
      // stays as it was written, and verify names both.
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: forgedCancel({ ...run, runId: run.runId }, "h-late", { pendingKey: { S: "UNLINKED" } }),
        }),
      );
      await update(runKey(run.runId), "ADD awaitingLink :h", { ":h": { SS: ["h-late"] } });
      expect(await audit.linkUnchained()).toBe(0);
      expect((await raw(runKey(run.runId)))?.seal).toEqual(sealed?.seal);
      const after = await verify(["--run", run.runId]);
      expect(after.code).toBe(5);
      expect(after.problems).toEqual([
        `run ${run.runId}: item h-late: final but not in the chain`,
        `run ${run.runId}: run item altered: seal mismatch (attributes, chain head or length changed)`,
        `run ${run.runId}: counts say CANCELED 0, its items hold 1`,
      ]);
    } finally {
      flaky.destroy();
    }
  });

  it("completes a finished run's interrupted intent with a record of the later run, leaving the first as sealed", async () => {
    const run: RunRecord = { ...runOf(0), runId: "interrupted-run", status: "RUNNING", counts: {} };
    const first = store();
    await first.startRun(run);
    const { outcome: _none, ...intent } = auditAction({
      runId: run.runId,
      handshakeId: "h-interrupted",
      at: "2026-06-02T06:00:01.000Z",
    });
    await first.recordAction(intent);
    // The run ended without the outcome (its write failed), counting what it saw.
    await first.finishRun({
      ...run,
      status: "PARTIAL",
      counts: { DEFERRED: 1 },
      endedAt: "2026-06-02T06:00:05.000Z",
    });
    const sealed = await raw(runKey(run.runId));

    // The next run, another process, reconciles it in its own chain.
    const next: RunRecord = { ...runOf(1), runId: "reconciling-run", status: "RUNNING", counts: {} };
    const later = store();
    await later.startRun(next);
    const recorded = await later.recordReconciled({
      ...intent,
      runId: next.runId,
      outcome: "CANCELED",
      attempts: 1,
      at: "2026-06-02T06:10:00.000Z",
      reason: `${intent.reason}; reconciled by run ${next.runId}: found CANCELED`,
      reconciles: `${run.runId}/h-interrupted`,
    });
    expect(recorded).toBe(true);
    await later.finishRun({
      ...next,
      status: "COMPLETED",
      counts: { CANCELED: 1 },
      endedAt: "2026-06-02T06:10:05.000Z",
    });

    expect(await raw(runKey(run.runId))).toEqual(sealed);
    expect(await later.listPendingIntents()).toEqual([]);
    const result = await verify(["--run", run.runId, "--run", next.runId]);
    expect(result.stdout.trim()).toBe("intact: 2 runs, 2 action items");
    expect(result.code).toBe(0);
  });
});
