import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import { startFaultProxy } from "../../devtools/fault-proxy.js";
import { type S3Emulator, startS3Emulator } from "../../devtools/s3-emulator.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { chainedActions, createAuditStore } from "../../src/aws/audit/index.js";
import { actionKey, runKey } from "../../src/aws/audit/items.js";
import { chainHash, runSeal } from "../../src/evidence/integrity.js";
import type { RunSummary } from "../../src/sweep/sweep.js";
import { localDynamoDbClient, runCli, type Stack, stackEnv, startStack } from "../support/stack.js";

/**
 * Checkpoints through the CLI, against DynamoDB Local and the local S3 endpoint with Object Lock:
 * each live run leaves one, locked, and `audit verify` compares the table with them. What the
 * table alone cannot show, they do: the latest run erased, a run rewritten with every hash
 * recomputed.
 */
let stack: Stack;
let s3: S3Emulator;
let client: DynamoDBClient;
const since = () => new Date(Date.now() - 3_600_000).toISOString();

beforeAll(async () => {
  [stack, s3] = await Promise.all([
    startStack(sampleOrganization(new Date())),
    startS3Emulator({ defaultRetention: { mode: "COMPLIANCE", days: 1 } }),
  ]);
  client = localDynamoDbClient(stack.db.endpoint);
}, 120_000);
afterAll(async () => {
  client?.destroy();
  await Promise.all([stack?.stop(), s3?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});
const dir = mkdtempSync(join(tmpdir(), "janitor-checkpoints-"));

/** A fresh table and organization; the environment with checkpoints and the same one without. */
async function scene() {
  const org = await stack.reseed(sampleOrganization(new Date()));
  const table = await stack.newTable();
  const plain = stackEnv(org, stack.db, table);
  const kept = { ...plain, AUDIT_CHECKPOINT_BUCKET: s3.bucket, AWS_ENDPOINT_URL_S3: s3.endpoint };
  return { table, plain, kept };
}

async function liveRun(
  env: Record<string, string>,
  runId: string,
  extra: string[] = [],
): Promise<RunSummary> {
  const result = await runCli(["run", "--config", DEMO_CONFIG, "--json", "--run-id", runId, ...extra], env);
  expect([0, 3], result.stderr).toContain(result.code);
  return JSON.parse(result.stdout) as RunSummary;
}

async function verify(env: Record<string, string>) {
  const result = await runCli(["audit", "verify", "--since", since()], env);
  const lines = result.stdout.trim().split("\n");
  return { ...result, lines };
}

async function item(table: string, key: ReturnType<typeof runKey>) {
  return (await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
}

/** The organization's chain head item (src/aws/audit/items.ts). */
const ORG_HEAD = { pk: { S: "CHAIN#organization" }, sk: { S: "HEAD" } };

/**
 * What a role-holder who hashes does to the latest run: the last item's reason rewritten and its
 * hash, the run's head and seal, and the organization's chain head recomputed to agree.
 */
async function rewriteRecomputed(table: string, runId: string): Promise<void> {
  const store = createAuditStore({ client, tableName: table });
  const { items } = chainedActions((await store.readChain(runId)).actions);
  const last = items
    .filter((i) => i.chain !== undefined)
    .sort((a, b) => (a.chain?.seq ?? 0) - (b.chain?.seq ?? 0))
    .at(-1);
  if (last?.chain === undefined) throw new Error("the run recorded no chained action to rewrite");
  const key = actionKey(runId, last.action.handshakeId);
  // The attacker rewrites the last item's reason and recomputes its hash, the head and the seal.
  const forged = { ...last.action, reason: "rewritten" };
  const seq = last.chain.seq;
  const hash = chainHash(last.chain.prevHash, forged, seq);
  await client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: key,
      UpdateExpression: "SET reason = :r, chainHash = :h",
      ExpressionAttributeValues: { ":r": { S: forged.reason }, ":h": { S: hash } },
    }),
  );
  const runItem = await item(table, runKey(runId));
  const record = await store.getRun(runId);
  const seal = runSeal({ ...record }, { hash, length: seq }, runItem?.awaitingLink?.SS ?? []);
  await client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: runKey(runId),
      UpdateExpression: "SET chainHead = :h, seal = :s",
      ExpressionAttributeValues: { ":h": { S: hash }, ":s": { S: seal } },
    }),
  );
  // And the organization's chain head, which names the run's seal.
  await client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: ORG_HEAD,
      UpdateExpression: "SET seal = :s",
      ExpressionAttributeValues: { ":s": { S: seal } },
    }),
  );
}

describe("a live run's checkpoint", () => {
  it("is written once the run is sealed, locked in compliance mode, and says what the table holds", async () => {
    const { table, kept } = await scene();

    const summary = await liveRun(kept, "cp-live");
    const dry = await liveRun(kept, "cp-dry", ["--dry-run"]);
    const versions = s3.versions(summary.checkpoint ?? "");
    const runItem = await item(table, runKey("cp-live"));
    const result = await verify(kept);

    expect(summary.checkpointError).toBeUndefined();
    expect(summary.checkpoint).toMatch(new RegExp(`^checkpoints/${table}/\\d{4}-\\d{2}/.*_cp-live\\.json$`));
    expect(dry.checkpoint).toBeUndefined();
    expect(versions).toHaveLength(1);
    expect(versions[0]?.lockMode).toBe("COMPLIANCE");
    expect(versions[0]?.retainUntil?.getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    const saved = JSON.parse(versions[0]?.body.toString("utf8") ?? "{}");
    expect(saved).toMatchObject({
      table,
      runId: "cp-live",
      seal: runItem?.seal?.S,
      chainHead: runItem?.chainHead?.S,
      chainLength: Number(runItem?.chainLength?.N),
      counts: summary.counts,
    });
    expect(result.code, result.stdout).toBe(0);
    expect(result.stderr).toBe(`note: compared with 1 checkpoints in s3://${s3.bucket}\n`);
  });
});

describe("a live run's checkpoint against a stalled S3", () => {
  it("ends as a timeout named in the summary, the run's own exit code kept, never as a hang", async () => {
    const { kept } = await scene();
    // Every S3 request held far longer than the run's request timeout.
    const stalled = await startFaultProxy({
      target: s3.endpoint,
      rules: [{ fault: { kind: "delay", ms: 60_000 } }],
    });
    try {
      const result = await runCli(["run", "--config", DEMO_CONFIG, "--json", "--run-id", "cp-stalled"], {
        ...kept,
        AWS_ENDPOINT_URL_S3: stalled.endpoint,
        JANITOR_REQUEST_TIMEOUT_MS: "500",
      });

      expect(result.code, result.stderr).toBe(0);
      const summary = JSON.parse(result.stdout) as RunSummary;
      expect(summary.status).toBe("COMPLETED");
      expect(summary.checkpoint).toBeUndefined();
      expect(summary.checkpointError).toMatch(/timeout|timed out/i);
      expect(stalled.stats().faults).not.toEqual({});
    } finally {
      await stalled.stop();
    }
  }, 30_000);
});

describe("audit verify with checkpoints", () => {
  it("catches the latest run erased from the table, which the table alone cannot", async () => {
    const { table, plain, kept } = await scene();
    await liveRun(kept, "cp-first");
    const latest = await liveRun(kept, "cp-latest", ["--rule", "stale-invitations"]);

    // A table administrator removes every item of the latest run.
    const erased = latest.runId;
    for (const action of latest.actions) {
      await client.send(
        new DeleteItemCommand({ TableName: table, Key: actionKey(erased, action.handshakeId) }),
      );
    }
    await client.send(new DeleteItemCommand({ TableName: table, Key: runKey(erased) }));
    // The organization's chain head still names it: the table alone catches that much.
    const named = await verify(plain);
    expect(named.code).toBe(5);
    expect(named.lines).toContain(`the organization's chain head names run ${erased} (#2), which is missing`);
    // So the administrator also moves the head back to the run before it, as it was then.
    const first = await item(table, runKey("cp-first"));
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: ORG_HEAD,
        UpdateExpression: "SET runId = :r, seal = :s, #length = :n",
        ExpressionAttributeNames: { "#length": "length" },
        ExpressionAttributeValues: {
          ":r": { S: "cp-first" },
          ":s": first?.seal as AttributeValue,
          ":n": { N: "1" },
        },
      }),
    );

    const alone = await verify(plain);
    const compared = await verify(kept);

    expect(alone.code, alone.stdout).toBe(0);
    expect(alone.stderr).toBe(
      "note: no checkpoints (AUDIT_CHECKPOINT_BUCKET unset): this verdict covers only what the table says of itself\n",
    );
    expect(compared.code).toBe(5);
    expect(compared.lines.filter((line) => line.startsWith(`run ${erased}:`))).toEqual([
      `run ${erased}: run item missing`,
      expect.stringMatching(
        new RegExp(
          `^run ${erased}: its checkpoint \\(.*\\) says it ended COMPLETED at .* but the table has no run item for it: erased$`,
        ),
      ),
    ]);
  });

  it("catches a run rewritten with every hash recomputed, which the table alone cannot", async () => {
    const { table, plain, kept } = await scene();
    const summary = await liveRun(kept, "cp-rewritten");
    await rewriteRecomputed(table, "cp-rewritten");

    const alone = await verify(plain);
    const compared = await verify(kept);

    expect(alone.code, alone.stdout).toBe(0);
    expect(compared.code).toBe(5);
    const where = `checkpoint ${summary.checkpoint}`;
    expect(compared.lines.filter((line) => line.startsWith("run cp-rewritten:"))).toEqual([
      expect.stringContaining(`run cp-rewritten: seal differs from its checkpoint (${summary.checkpoint})`),
      expect.stringContaining(
        `run cp-rewritten: chain head differs from its checkpoint (${summary.checkpoint})`,
      ),
    ]);
    expect(where).toContain("_cp-rewritten.json");
  });
});

describe("an export", () => {
  it("carries the period's checkpoints, and verify --file compares the archive and the table with them", async () => {
    const { table, plain, kept } = await scene();
    const summary = await liveRun(kept, "cp-export");
    const file = join(dir, `${table}.jsonl`);
    const exported = await runCli(["audit", "export", "--since", since(), "--out", file], kept);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/, 1 checkpoints$/m);
    const rows = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows.filter((row) => row.itemType === "checkpoint")).toEqual([
      expect.objectContaining({ key: summary.checkpoint, runId: "cp-export", versions: 1 }),
    ]);
    const intact = await runCli(["audit", "verify", "--file", file], plain);
    expect(intact.code, intact.stdout).toBe(0);

    // Rewritten after the export, every hash recomputed: the archive's own checkpoint names it,
    // with no bucket configured for this verify.
    await rewriteRecomputed(table, "cp-export");
    const result = await runCli(["audit", "verify", "--file", file], plain);

    expect(result.code).toBe(5);
    expect(result.stdout).toContain(
      `run cp-export: seal differs from its checkpoint (${summary.checkpoint})`,
    );
  });
});
