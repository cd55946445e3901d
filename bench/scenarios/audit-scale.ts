import { randomUUID } from "node:crypto";
import {
  type AttributeValue,
  BatchWriteItemCommand,
  DynamoDBClient,
  QueryCommand,
  type QueryCommandOutput,
} from "@aws-sdk/client-dynamodb";
import { startDynamoDbLocal } from "../../devtools/dynamodb-local.js";
import { startS3Emulator } from "../../devtools/s3-emulator.js";
import { LOCAL_CREDENTIALS } from "../../devtools/stack-env.js";
import { actionItem, chainedActions, createAuditStore, runItem } from "../../src/aws/audit/index.js";
import { ensureAuditTable } from "../../src/aws/audit-table-init.js";
import { createCheckpointStore } from "../../src/aws/checkpoints.js";
import { verifyRuns } from "../../src/cli/audit-verify.js";
import type { Outcome, OutcomeCounts } from "../../src/domain/outcomes.js";
import { CHAIN_GENESIS, chainHash, runSeal, verifyChain } from "../../src/evidence/integrity.js";
import type { ActionFilter } from "../../src/evidence/reader.js";
import type { AuditAction, RunRecord } from "../../src/ports/records.js";
import type { BenchRow, Scenario } from "../lib.js";

/**
 * A large audit trail: 1,000 runs of 100 actions each (100,000 action items and 1,000 run items)
 * over the twelve months of 2025, in DynamoDB Local. Then the compliance questions, timed and
 * counted: how many Query pages each took, how many items DynamoDB read (ScannedCount) against
 * the table's size, and the read capacity it reports.
 *
 * The bound a one-month question must stay within: DynamoDB ends a Query page after 1 MB of items
 * read, and the byTime index keeps each month in its own partition, so a question about one month
 * takes at most ceil(bytes of that month's matching items / 1 MB) + 1 pages per month bucket it
 * touches (the +1: a page that ends exactly at the limit is followed by an empty one), whatever the
 * size of the rest of the table. A Scan, for comparison, reads every item of the table.
 *
 * Run 0 is written through the audit store itself (the intent, outcome and chain writes the sweep
 * makes); the other 999 are bulk-loaded with BatchWriteItem in the same item format, and the bench
 * stops if that format has drifted from what the store writes.
 */
const RUNS = 1_000;
const ACTIONS_PER_RUN = 100;
const YEAR_START = Date.parse("2025-01-01T00:00:00.000Z");
/** 8 h 45 min apart: 1,000 runs fill 364.6 days. */
const RUN_EVERY_MS = 8.75 * 3_600_000;
const LOAD_CONCURRENCY = 16;
const BATCH = 25;
const PAGE_BYTES = 1024 * 1024;
const MONTH = { since: new Date("2025-06-01T00:00:00.000Z"), until: new Date("2025-06-30T23:59:59.999Z") };

const RULES = ["stale-invitations", "outside-email", "unknown-account", "ticket-required"] as const;
const OUTCOME_CYCLE: Outcome[] = [
  "CANCELED",
  "CANCELED",
  "DRY_RUN",
  "CANCELED",
  "EXEMPTED",
  "ALREADY_CLOSED",
  "CANCELED",
  "STATE_CHANGED",
  "FAILED",
  "DEFERRED",
];

type Item = Record<string, AttributeValue>;

function runRecord(r: number): RunRecord {
  const started = new Date(YEAR_START + r * RUN_EVERY_MS);
  const scheduled = r % 4 !== 3;
  return {
    runId: `bench-run-${String(r).padStart(4, "0")}`,
    trigger: scheduled ? "scheduled" : "manual",
    actor: scheduled ? "events.amazonaws.com" : "arn:aws:sts::111122223333:assumed-role/ops/alice",
    status: "RUNNING",
    dryRun: false,
    startedAt: started.toISOString(),
    counts: {},
    listed: 400,
    candidates: 150,
    matched: ACTIONS_PER_RUN,
    configVersion: 1,
    configHash: "5f1e0c9a7b21",
    ...(scheduled ? {} : { note: "CHG-1234, requested by security" }),
  };
}

function actionOf(run: RunRecord, r: number, a: number): AuditAction {
  const n = r * ACTIONS_PER_RUN + a;
  const outcome = OUTCOME_CYCLE[n % OUTCOME_CYCLE.length] ?? "CANCELED";
  const rule = RULES[n % RULES.length] ?? "stale-invitations";
  return {
    runId: run.runId,
    // A handshake is decided again by a later run now and then, as open invitations are.
    handshakeId: `h-bench${String(n % 60_000).padStart(8, "0")}`,
    ruleId: rule,
    matchedRules: n % 5 === 0 ? [rule, "outside-email"] : [rule],
    outcome,
    dryRun: outcome === "DRY_RUN",
    at: new Date(Date.parse(run.startedAt) + (a + 1) * 2_000).toISOString(),
    trigger: run.trigger,
    actor: run.actor,
    action: "INVITE",
    target: `user${n}@gmail.com`,
    targetType: "EMAIL",
    requestedAt: new Date(Date.parse(run.startedAt) - 9 * 86_400_000).toISOString(),
    reason: "open for 9 days, more than 7; target matches deny *@gmail.com",
    attempts: outcome === "CANCELED" || outcome === "FAILED" ? 1 : 0,
    ...(outcome === "FAILED" ? { error: "AccessDeniedException: not the management account" } : {}),
  };
}

/** The action item as the audit store stores it once final and chained. */
function chainedActionItem(action: AuditAction, seq: number, prevHash: string, hash: string): Item {
  return {
    ...actionItem(action),
    chainSeq: { N: String(seq) },
    chainPrev: { S: prevHash },
    chainHash: { S: hash },
  };
}

/** A run's link in the organization's chain: the run sealed before it, its seal, its place. */
interface OrgLink {
  /** Absent for the first run of the chain. */
  prevRun?: string;
  prevSeal: string;
  orgSeq: number;
}

/** The finished run item, holding the head of its chain and sealed as finishRun seals it. */
function chainedRunItem(run: RunRecord, head: string, length: number): Item {
  return {
    ...runItem(run),
    chainHead: { S: head },
    chainLength: { N: String(length) },
    ...(run.prevRun === undefined ? {} : { prevRun: { S: run.prevRun } }),
    ...(run.prevSeal === undefined ? {} : { prevSeal: { S: run.prevSeal } }),
    ...(run.orgSeq === undefined ? {} : { orgSeq: { N: String(run.orgSeq) } }),
    seal: { S: runSeal(run, { hash: head, length }) },
  };
}

/** One run's items: the chained actions and the finished run item holding the chain's head. */
function runItems(
  r: number,
  link?: OrgLink,
): { run: RunRecord; actions: AuditAction[]; items: Item[]; seal: string } {
  const started = runRecord(r);
  const actions = Array.from({ length: ACTIONS_PER_RUN }, (_, a) => actionOf(started, r, a));
  const items: Item[] = [];
  let prev = CHAIN_GENESIS;
  actions.forEach((action, i) => {
    const hash = chainHash(prev, action, i + 1);
    items.push(chainedActionItem(action, i + 1, prev, hash));
    prev = hash;
  });
  const run = { ...finished(started, actions), ...link };
  const runItem = chainedRunItem(run, prev, actions.length);
  items.push(runItem);
  return { run, actions, items, seal: runItem.seal?.S ?? "" };
}

function finished(run: RunRecord, actions: AuditAction[]): RunRecord {
  const counts: OutcomeCounts = {};
  for (const { outcome } of actions) if (outcome) counts[outcome] = (counts[outcome] ?? 0) + 1;
  const last = actions.at(-1)?.at ?? run.startedAt;
  return {
    ...run,
    status: counts.FAILED || counts.DEFERRED ? "PARTIAL" : "COMPLETED",
    endedAt: new Date(Date.parse(last) + 1_000).toISOString(),
    counts,
  };
}

/** DynamoDB's item size: attribute names plus values (UTF-8 strings, numbers ~1 byte per 2 digits). */
function attributeSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\./g, "").length / 2) + 1;
  if (value.BOOL !== undefined) return 1;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, inner) => sum + 1 + attributeSize(inner), 0);
  if (value.M !== undefined) return 3 + itemSize(value.M) + Object.keys(value.M).length;
  return 1;
}

function itemSize(item: Item): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + attributeSize(value),
    0,
  );
}

/** What the month's questions will read, accumulated while loading, so nothing large stays in memory. */
interface Expected {
  monthItems: number;
  monthBytes: number;
  ruleItems: number;
  ruleBytes: number;
  outcomeItems: number;
  tableBytes: number;
}

async function writeAll(client: DynamoDBClient, tableName: string, items: Item[]): Promise<void> {
  let pending = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 0; pending.length > 0; attempt += 1) {
    if (attempt > 20) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed`);
    const result = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
    pending = (result.UnprocessedItems?.[tableName] ?? []).flatMap((request) =>
      request.PutRequest?.Item ? [{ PutRequest: { Item: request.PutRequest.Item } }] : [],
    );
  }
}

interface PageStats {
  pages: number;
  scanned: number;
  returned: number;
  capacity: number;
}

export const scenario: Scenario = {
  name: "audit-scale",
  async run() {
    const db = await startDynamoDbLocal();
    const tableName = `audit-scale-${randomUUID().slice(0, 8)}`;
    const client = new DynamoDBClient({
      endpoint: db.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 3,
    });
    // Counts what each question costs without touching the store: every Query page it sends, and
    // the capacity DynamoDB says it consumed (asked for here, not by the store).
    const stats: PageStats = { pages: 0, scanned: 0, returned: 0, capacity: 0 };
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const query = context.commandName === "QueryCommand";
        if (query) (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = "TOTAL";
        const result = await next(args);
        if (query) {
          const output = result.output as QueryCommandOutput;
          stats.pages += 1;
          stats.scanned += output.ScannedCount ?? 0;
          stats.returned += output.Count ?? 0;
          stats.capacity += output.ConsumedCapacity?.CapacityUnits ?? 0;
        }
        return result;
      },
      { step: "initialize", name: "countQueryPages" },
    );
    const rows: BenchRow[] = [];
    try {
      await ensureAuditTable(client, tableName);
      const store = createAuditStore({ client, tableName });
      const rule = "outside-email";
      const outcome: Outcome = "CANCELED";
      const expected: Expected = {
        monthItems: 0,
        monthBytes: 0,
        ruleItems: 0,
        ruleBytes: 0,
        outcomeItems: 0,
        tableBytes: 0,
      };
      const inMonth = (at: string) => at >= MONTH.since.toISOString() && at <= MONTH.until.toISOString();
      const account = (action: AuditAction, item: Item) => {
        const size = itemSize(item);
        expected.tableBytes += size;
        if (!inMonth(action.at)) return;
        expected.monthItems += 1;
        expected.monthBytes += size;
        if (action.ruleId === rule) {
          expected.ruleItems += 1;
          expected.ruleBytes += size;
        }
        if (action.outcome === outcome) expected.outcomeItems += 1;
      };

      // Run 0 through the store, as the sweep writes it: the reference for the bulk format.
      const reference = runItems(0, { prevSeal: CHAIN_GENESIS, orgSeq: 1 });
      const started = { ...reference.run, status: "RUNNING" as const, counts: {} };
      delete started.endedAt;
      await store.startRun(started);
      for (const action of reference.actions) await store.recordAction(action);
      await store.finishRun(reference.run);
      reference.actions.forEach((action, i) => {
        const item = reference.items[i];
        if (item) account(action, item);
      });
      expected.tableBytes += itemSize(reference.items.at(-1) ?? {});
      await checkFormat(client, tableName, reference.items);

      // Each run's seal commits to the one before it, as runs sealed one after another would.
      const links = new Map<number, OrgLink>();
      let previous = {
        runId: reference.run.runId,
        seal: (await store.runEvidence(reference.run.runId))?.seal ?? "",
      };
      for (let r = 1; r < RUNS; r += 1) {
        const link = { prevRun: previous.runId, prevSeal: previous.seal, orgSeq: r + 1 };
        links.set(r, link);
        const { run, seal } = runItems(r, link);
        previous = { runId: run.runId, seal };
      }
      const loadStart = performance.now();
      let next = 1;
      let loaded = reference.items.length;
      await Promise.all(
        Array.from({ length: LOAD_CONCURRENCY }, async () => {
          for (let r = next++; r < RUNS; r = next++) {
            const { actions, items } = runItems(r, links.get(r));
            actions.forEach((action, i) => {
              const item = items[i];
              if (item) account(action, item);
            });
            expected.tableBytes += itemSize(items.at(-1) ?? {});
            for (let i = 0; i < items.length; i += BATCH) {
              await writeAll(client, tableName, items.slice(i, i + BATCH));
            }
            loaded += items.length;
          }
        }),
      );
      // The organization's chain head names the run sealed last.
      await writeAll(client, tableName, [
        {
          pk: { S: "CHAIN#organization" },
          sk: { S: "HEAD" },
          runId: { S: previous.runId },
          seal: { S: previous.seal },
          length: { N: String(RUNS) },
        },
      ]);
      const loadS = (performance.now() - loadStart) / 1000;
      rows.push({
        scenario: "audit-scale",
        variant: `load: BatchWriteItem, ${LOAD_CONCURRENCY} in parallel`,
        metrics: { items: loaded, wallS: Number(loadS.toFixed(1)), itemsPerS: Math.round(loaded / loadS) },
      });

      const tableItems = RUNS * (ACTIONS_PER_RUN + 1);
      const measure = async (
        variant: string,
        questions: () => Promise<number>,
        bound: { items: number; bytes: number; buckets: number } | undefined,
      ) => {
        Object.assign(stats, { pages: 0, scanned: 0, returned: 0, capacity: 0 });
        const t = performance.now();
        const items = await questions();
        const wallMs = performance.now() - t;
        const pageBound = bound === undefined ? "-" : Math.ceil(bound.bytes / PAGE_BYTES) + bound.buckets;
        if (bound !== undefined && items !== bound.items) {
          throw new Error(`${variant}: ${items} items returned, ${bound.items} expected`);
        }
        rows.push({
          scenario: "audit-scale",
          variant,
          metrics: {
            pages: stats.pages,
            pageBound,
            withinBound: pageBound === "-" ? "-" : stats.pages <= pageBound ? "yes" : "NO",
            items,
            scanned: stats.scanned,
            tableItems,
            scannedPct: Number(((100 * stats.scanned) / tableItems).toFixed(2)),
            readUnits: Number(stats.capacity.toFixed(1)),
            readsPerItem: items === 0 ? "-" : Number((stats.scanned / items).toFixed(2)),
            wallMs: Math.round(wallMs),
          },
        });
      };
      const count = async (filter: ActionFilter) => {
        let n = 0;
        for await (const _ of store.queryActions(filter)) n += 1;
        return n;
      };

      await measure("one month (June), byTime", () => count(MONTH), {
        items: expected.monthItems,
        bytes: expected.monthBytes,
        buckets: 1,
      });
      await measure(`one month, one rule (${rule}), byRule`, () => count({ ...MONTH, ruleId: rule }), {
        items: expected.ruleItems,
        bytes: expected.ruleBytes,
        buckets: 1,
      });
      // The outcome is a filter: DynamoDB reads the whole month and returns the cancellations. On
      // AWS the 1 MB page limit counts what was read, before the filter, so the month's bound holds;
      // DynamoDB Local counts what it returns and so reports fewer pages than AWS would.
      await measure(`one month, outcome ${outcome} (filter on byTime)`, () => count({ ...MONTH, outcome }), {
        items: expected.outcomeItems,
        bytes: expected.monthBytes,
        buckets: 1,
      });
      const someRun = runRecord(Math.floor(RUNS / 2)).runId;
      await measure(
        "one run, base table",
        () => count({ runId: someRun }),
        // A run's 100 actions are far below a page, in one partition.
        { items: ACTIONS_PER_RUN, bytes: 0, buckets: 1 },
      );
      // Handshake ids repeat every 60,000 actions: this one was decided by two runs.
      await measure("one handshake's history, byHandshake", () => count({ handshakeId: "h-bench00012345" }), {
        items: 2,
        bytes: 0,
        buckets: 1,
      });
      await measure(
        "audit verify of one run (Query + GetItem)",
        async () => {
          // The same steps as `audit verify --run`.
          const chain = await store.readChain(someRun);
          const { items, unreadable } = chainedActions(chain.actions);
          const problems = [
            ...unreadable,
            ...verifyChain({ runId: someRun, ...(chain.head ? { head: chain.head } : {}) }, items),
          ];
          if (problems.length > 0) throw new Error(`the bulk-loaded chain does not verify: ${problems[0]}`);
          return items.length;
        },
        { items: ACTIONS_PER_RUN, bytes: 0, buckets: 1 },
      );
      await measure(
        "audit verify of one month (June): its runs by RUN and ACTION months, each run's chain, seal and counts",
        async () => {
          // The same steps as `audit verify --since 2025-06-01 --until 2025-07-01`.
          const verdict = await verifyRuns(store, [], MONTH);
          if (verdict.problems.length > 0) throw new Error(`June does not verify: ${verdict.problems[0]}`);
          return verdict.items;
        },
        undefined,
      );
      // The same month against its checkpoints (docs/checkpoints.md): one object per June run, written
      // to the local S3 endpoint with Object Lock as each live run writes its own.
      const bucket = await startS3Emulator({ defaultRetention: { mode: "COMPLIANCE", days: 1 } });
      try {
        const checkpoints = createCheckpointStore({
          bucket: bucket.bucket,
          table: tableName,
          region: "us-east-1",
          endpoint: bucket.endpoint,
          credentials: LOCAL_CREDENTIALS,
        });
        let kept = 0;
        for await (const run of store.listRuns(MONTH)) {
          const evidence = await store.runEvidence(run.runId);
          if (evidence?.seal === undefined || run.unreadable !== undefined) continue;
          await checkpoints.write({
            runId: run.runId,
            startedAt: run.startedAt,
            endedAt: run.endedAt ?? run.startedAt,
            status: run.status,
            seal: evidence.seal,
            chainHead: evidence.head.hash,
            chainLength: evidence.head.length,
            counts: run.counts,
          });
          kept += 1;
        }
        await measure(
          `audit verify of one month (June) with its ${kept} checkpoints: the table's reads as above, plus S3 (one GetObject per checkpoint)`,
          async () => {
            const verdict = await verifyRuns(store, [], MONTH, checkpoints);
            if (verdict.problems.length > 0) throw new Error(`June does not verify: ${verdict.problems[0]}`);
            if (verdict.checkpoints !== kept)
              throw new Error(`${verdict.checkpoints} checkpoints read, ${kept} kept`);
            return verdict.items;
          },
          undefined,
        );
      } finally {
        await bucket.stop();
      }
      // Not run: DynamoDB Local takes minutes to Scan this table. A Scan reads every item whatever
      // its filter, so its cost follows from the table's size.
      rows.push({
        scenario: "audit-scale",
        variant: "for comparison, not run: a Scan for June",
        metrics: {
          pages: Math.ceil(expected.tableBytes / PAGE_BYTES),
          pageBound: "-",
          withinBound: "-",
          items: expected.monthItems,
          scanned: tableItems,
          tableItems,
          scannedPct: 100,
          readUnits: Math.ceil(expected.tableBytes / 4096) / 2,
          wallMs: "-",
        },
      });
    } finally {
      client.destroy();
      await db.stop();
    }
    return rows;
  },
};

/** Refuses to bulk-load items shaped differently from what the store itself wrote for run 0. */
async function checkFormat(client: DynamoDBClient, tableName: string, synthetic: Item[]): Promise<void> {
  const stored = new Map<string, Item>();
  let key: Item | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": { S: `RUN#${runRecord(0).runId}` } },
        ...(key ? { ExclusiveStartKey: key } : {}),
      }),
    );
    for (const item of page.Items ?? []) stored.set(`${item.pk?.S}|${item.sk?.S}`, item);
    key = page.LastEvaluatedKey;
  } while (key);
  const names = (item: Item | undefined) =>
    Object.keys(item ?? {})
      .sort()
      .join(",");
  const types = (item: Item | undefined) =>
    Object.entries(item ?? {})
      .map(([name, value]) => `${name}:${Object.keys(value)[0]}`)
      .sort()
      .join(",");
  for (const item of synthetic) {
    const real = stored.get(`${item.pk?.S}|${item.sk?.S}`);
    if (types(real) !== types(item)) {
      throw new Error(
        `bulk item format drifted from the audit store's: store wrote [${names(real)}], bench writes [${names(item)}]`,
      );
    }
  }
}
