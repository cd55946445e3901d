import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InviteAccountToOrganizationCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { build } from "esbuild";
import type { CloudTrailApiCallEvent } from "../../devtools/cloudtrail.js";
import { startDynamoDbLocal } from "../../devtools/dynamodb-local.js";
import type { FifoDeliveryResult, QueuedMessage } from "../../devtools/fifo-delivery.js";
import { startOrganizationsEmulator } from "../../devtools/org-emulator/index.js";
import { ensureLocalAuditTable, localDynamoDbClient, localStackEnv } from "../../devtools/stack-env.js";
import { BUNDLE_FILE, BUNDLED_CONFIG_FILE, buildBundle, REALTIME_FILE } from "../../scripts/build.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { median, type Scenario } from "../lib.js";

/**
 * The real-time path, measured on the built artifact (dist's realtime.js, as `serverless package`
 * builds it) against the emulator and DynamoDB Local: from the handler's entry to the moment the
 * CANCELED outcome is stamped (the audit item's `at`), for one CloudTrail event of an invitation
 * to a denied address.
 *
 * - warm: one process imports the artifact once and handles events one after another, as a warm
 *   Lambda container does;
 * - cold: a fresh process per event, importing the artifact and invoking once (the import is
 *   reported on its own);
 * - direct burst: 50 invitations sent at once, each event its own invocation, handled by two
 *   processes (as when EventBridge invoked the function, two at a time) under the emulator's token
 *   bucket for CancelHandshake; the time is from the burst's start to each CANCELED record, so it
 *   includes the wait for an invocation;
 * - queued: the same, delivered as the FIFO queue of one message group delivers them (one batch of
 *   up to ten at a time, the next after the previous returned) by devtools/fifo-delivery.ts, the
 *   local stand-in for Lambda's SQS event source mapping (not SQS: there is none here), in one
 *   process (bench/fifo-driver.ts, bundled and run by plain node); and one event at a time through the same loop, warm;
 * - the sweep's pacer, the anchor: the same fifty cancels in one manual sweep of the built sweep
 *   handler (index.js), its cap raised to fifty for the purpose, under the same limit;
 * - beside them, the scheduled sweep: an invitation waits for the next run, half the schedule on
 *   average (30 min for the hourly default), the whole schedule at worst.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = join(ROOT, "node_modules", ".bin", "node");
const CONFIG = join(ROOT, "examples", "janitor.yaml");
export const REALTIME_SETUP = {
  warm: 7,
  cold: 3,
  burst: 50,
  /** The function's reservedConcurrency in serverless.yml. */
  workers: 2,
  cancelRatePerSecond: 2,
  cancelBurst: 1,
  scheduleMinutes: 60,
  /** The event source mapping's BatchSize. */
  batchSize: 10,
};
const FIFO_DRIVER = join(ROOT, "bench", "fifo-driver.ts");

/** Invokes the artifact's handler for each event of a JSON file, printing one RESULT line each. */
const DRIVER = `
const started = performance.now();
const { handler } = await import(process.argv[2]);
const importMs = performance.now() - started;
const events = JSON.parse((await import("node:fs")).readFileSync(process.argv[3], "utf8"));
let n = 0;
for (const event of events) {
  n += 1;
  const context = {
    awsRequestId: "bench-" + process.pid + "-" + n, functionName: "handshake-janitor-bench-realtime",
    functionVersion: "$LATEST", invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:bench",
    memoryLimitInMB: "512", logGroupName: "/aws/lambda/bench", logStreamName: "bench",
    callbackWaitsForEmptyEventLoop: false, getRemainingTimeInMillis: () => Number(process.env.BENCH_TIMEOUT_MS ?? 30000),
    done() {}, fail() {}, succeed() {},
  };
  const entry = Date.now();
  const result = await handler(event, context);
  process.stdout.write("RESULT " + JSON.stringify({ entry, done: Date.now(), importMs, runId: result.runId, outcome: result.actions?.[0]?.outcome }) + "\\n");
}
`;

interface Timing {
  entry: number;
  done: number;
  importMs: number;
  runId: string;
  outcome?: string;
}

function drive(
  script: string,
  bundle: string,
  eventsFile: string,
  env: NodeJS.ProcessEnv,
): Promise<Timing[]> {
  return new Promise((resolve, reject) =>
    execFile(
      NODE,
      [script, bundle, eventsFile],
      { env, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stderr}`));
        resolve(
          stdout
            .split("\n")
            .filter((line) => line.startsWith("RESULT "))
            .map((line) => JSON.parse(line.slice(7)) as Timing),
        );
      },
    ),
  );
}

/**
 * bench/fifo-driver.ts bundled into `dir` as one plain ES module: the consumer's process starts as
 * the other variants' do (plain node, as Lambda's runtime does), not through a TypeScript loader
 * whose start-up (some 0.4 s here) would count in the burst's time.
 */
async function buildFifoDriver(dir: string): Promise<string> {
  const outfile = join(dir, "fifo-driver.mjs");
  await build({
    entryPoints: [FIFO_DRIVER],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    logLevel: "warning",
  });
  return outfile;
}

/** Runs the bundled fifo driver over the built handler: the queued messages, delivered as the FIFO queue would. */
function driveFifo(
  driver: string,
  bundle: string,
  messagesFile: string,
  mode: "burst" | "single",
  env: NodeJS.ProcessEnv,
): Promise<FifoDeliveryResult> {
  return new Promise((resolve, reject) =>
    execFile(
      NODE,
      [driver, bundle, messagesFile, mode],
      { env, cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 180_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stderr}`));
        const line = stdout.split("\n").find((l) => l.startsWith("DELIVERED "));
        if (line === undefined) return reject(new Error(`no DELIVERED line\n${stderr}`));
        resolve(JSON.parse(line.slice("DELIVERED ".length)) as FifoDeliveryResult);
      },
    ),
  );
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export const scenario: Scenario = {
  name: "realtime",
  async run() {
    const work = mkdtempSync(join(tmpdir(), "janitor-bench-realtime-"));
    const [org, db] = await Promise.all([startOrganizationsEmulator({ seed: 7 }), startDynamoDbLocal()]);
    const client = new OrganizationsClient({
      endpoint: org.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "AKIABENCH", secretAccessKey: "local" },
      maxAttempts: 1,
    });
    const audit = localDynamoDbClient(db.endpoint);
    try {
      const built = await buildBundle({ configPath: CONFIG, outDir: join(work, "dist") });
      const bundle = join(built.outDir, REALTIME_FILE);
      const script = join(built.outDir, "bench-driver.mjs");
      writeFileSync(script, DRIVER);
      const fifoDriver = await buildFifoDriver(built.outDir);
      const table = "janitor-bench-realtime";
      await ensureLocalAuditTable(db.endpoint, table);
      const env = {
        ...process.env,
        ...localStackEnv({ organizations: org.endpoint, dynamodb: db.endpoint }, table),
        JANITOR_CONFIG: join(built.outDir, BUNDLED_CONFIG_FILE),
        POWERTOOLS_LOG_LEVEL: "ERROR",
        POWERTOOLS_METRICS_DISABLED: "true",
        NODE_OPTIONS: "",
      };
      const store = createAuditStore({ client: audit, tableName: table });
      let sequence = 0;
      const invite = async (): Promise<CloudTrailApiCallEvent> => {
        sequence += 1;
        const sent = await client.send(
          new InviteAccountToOrganizationCommand({
            Target: { Type: "EMAIL", Id: `someone.${sequence}@gmail.com` },
          }),
        );
        const id = sent.Handshake?.Id;
        const event = org.events().find((e) => e.detail.responseElements.handshake.id === id);
        if (!event) throw new Error(`no CloudTrail event for ${id}`);
        return event;
      };
      const eventsFile = (name: string, events: CloudTrailApiCallEvent[]) => {
        const file = join(work, `${name}.json`);
        writeFileSync(file, JSON.stringify(events));
        return file;
      };
      /** Milliseconds from `from` to the CANCELED outcome's `at`, per run. */
      const toCanceled = async (timings: readonly Timing[], from: (t: Timing) => number) => {
        const spans: number[] = [];
        for (const timing of timings) {
          const [item] = await store.getRunActions(timing.runId);
          if (item?.outcome !== "CANCELED")
            throw new Error(`${timing.runId}: ${item?.outcome ?? "no action"}`);
          spans.push(Date.parse(item.at) - from(timing));
        }
        return spans;
      };

      const seconds = (ms: number) => Math.round(ms) / 1000;
      const message = (event: CloudTrailApiCallEvent, i: number, sentAt: number): QueuedMessage => ({
        messageId: `bench-${event.id.slice(0, 8)}-${i}`,
        body: JSON.stringify(event),
        sentAt,
      });
      const messagesFile = (name: string, messages: QueuedMessage[]) => {
        const file = join(work, `${name}.json`);
        writeFileSync(file, JSON.stringify(messages));
        return file;
      };
      /** When a queued event's CANCELED outcome was stamped (epoch ms). */
      const canceledAt = async (m: QueuedMessage) => {
        const runId = `event-${(JSON.parse(m.body) as { id: string }).id}`;
        const [item] = await store.getRunActions(runId);
        if (item?.outcome !== "CANCELED") throw new Error(`${runId}: ${item?.outcome ?? "no action"}`);
        return Date.parse(item.at);
      };
      /** When the handler was handed the batch that first held the message (epoch ms). */
      const entryOf = (m: QueuedMessage, result: FifoDeliveryResult) => {
        const delivery = result.deliveries.find((d) => d.messageIds.includes(m.messageId));
        if (delivery === undefined) throw new Error(`${m.messageId} was never delivered`);
        return delivery.entry;
      };
      const fromEntry = (messages: readonly QueuedMessage[], result: FifoDeliveryResult) =>
        Promise.all(messages.map(async (m) => (await canceledAt(m)) - entryOf(m, result)));

      const warmEvents: CloudTrailApiCallEvent[] = [];
      for (let i = 0; i < REALTIME_SETUP.warm; i += 1) warmEvents.push(await invite());
      // The first event of the process pays the clients' creation: it is the cold row's business.
      const warm = (await drive(script, bundle, eventsFile("warm", warmEvents), env)).slice(1);
      const warmSpans = await toCanceled(warm, (t) => t.entry);

      const cold: Timing[] = [];
      for (let i = 0; i < REALTIME_SETUP.cold; i += 1) {
        cold.push(...(await drive(script, bundle, eventsFile(`cold-${i}`, [await invite()]), env)));
      }
      const coldSpans = await toCanceled(cold, (t) => t.entry);

      const limit = {
        throttle: {
          CancelHandshake: {
            ratePerSecond: REALTIME_SETUP.cancelRatePerSecond,
            burst: REALTIME_SETUP.cancelBurst,
          },
        },
      };
      /** A burst's figures: its time against the rate limit's, and the throttles per cancel. */
      const burstFigures = (spans: readonly number[]) => {
        const cancels = org.stats().CancelHandshake;
        const throttled = cancels?.errors.TooManyRequestsException ?? 0;
        const totalS = seconds(Math.max(...spans));
        const idealS = REALTIME_SETUP.burst / REALTIME_SETUP.cancelRatePerSecond;
        return {
          throttled,
          figures: {
            totalS,
            idealS,
            ofIdeal: Math.round((totalS / idealS) * 100) / 100,
            throttledPerCancel: Math.round((throttled / Math.max(1, cancels?.successes ?? 0)) * 100) / 100,
          },
        };
      };

      // Direct: each event its own invocation, two at a time.
      const burstEvents: CloudTrailApiCallEvent[] = [];
      for (let i = 0; i < REALTIME_SETUP.burst; i += 1) burstEvents.push(await invite());
      org.setFaults(limit);
      org.resetStats();
      const shares = Array.from({ length: REALTIME_SETUP.workers }, (_, w) =>
        burstEvents.filter((_, i) => i % REALTIME_SETUP.workers === w),
      );
      const burstStart = Date.now();
      const burst = (
        await Promise.all(
          shares.map((share, w) => drive(script, bundle, eventsFile(`burst-${w}`, share), env)),
        )
      ).flat();
      const burstSpans = await toCanceled(burst, () => burstStart);
      const direct = burstFigures(burstSpans);
      org.setFaults({});

      // Queued, warm: one event at a time through the delivery loop, in one process.
      const queuedWarm: QueuedMessage[] = [];
      for (let i = 0; i < REALTIME_SETUP.warm; i += 1)
        queuedWarm.push(message(await invite(), i, Date.now()));
      const single = await driveFifo(
        fifoDriver,
        bundle,
        messagesFile("queued-warm", queuedWarm),
        "single",
        env,
      );
      // The first delivery of the process pays the clients' creation, as in the warm row.
      const queuedWarmSpans = await fromEntry(queuedWarm.slice(1), single);

      // Queued burst: all fifty in the queue at once, one batch of ten at a time.
      const queuedEvents: CloudTrailApiCallEvent[] = [];
      for (let i = 0; i < REALTIME_SETUP.burst; i += 1) queuedEvents.push(await invite());
      org.setFaults(limit);
      org.resetStats();
      const queuedStart = Date.now();
      const queued = queuedEvents.map((event, i) => message(event, i, queuedStart));
      const delivered = await driveFifo(
        fifoDriver,
        bundle,
        messagesFile("queued-burst", queued),
        "burst",
        env,
      );
      const queuedSpans = await Promise.all(queued.map(async (m) => (await canceledAt(m)) - queuedStart));
      const queuedFigures = burstFigures(queuedSpans);
      org.setFaults({});
      const waits = queued.map((m) => entryOf(m, delivered) - m.sentAt);
      const failedRecords = delivered.deliveries.reduce((sum, d) => sum + d.failed.length, 0);

      // The anchor: the same work in one sweep, its cancels through the sweep's pacer.
      const sweepEvents: CloudTrailApiCallEvent[] = [];
      for (let i = 0; i < REALTIME_SETUP.burst; i += 1) sweepEvents.push(await invite());
      const sweepConfig = join(work, "sweep-janitor.yaml");
      writeFileSync(
        sweepConfig,
        readFileSync(CONFIG, "utf8").replace(
          /^maxCancellationsPerRun: \d+/m,
          `maxCancellationsPerRun: ${REALTIME_SETUP.burst}`,
        ),
      );
      const manual = join(work, "sweep-event.json");
      writeFileSync(
        manual,
        JSON.stringify([{ handshakeIds: sweepEvents.map((e) => e.detail.responseElements.handshake.id) }]),
      );
      org.setFaults(limit);
      org.resetStats();
      const sweepStart = Date.now();
      const [swept] = await drive(script, join(built.outDir, BUNDLE_FILE), manual, {
        ...env,
        JANITOR_CONFIG: sweepConfig,
        // The sweep function's timeout in serverless.yml.
        BENCH_TIMEOUT_MS: "300000",
      });
      const sweepActions = await store.getRunActions(swept?.runId ?? "");
      const sweepSpans = sweepActions
        .filter((a) => a.outcome === "CANCELED")
        .map((a) => Date.parse(a.at) - sweepStart);
      const sweepFigures = burstFigures(sweepSpans);
      org.setFaults({});

      const spans = (values: readonly number[]) => ({
        medianS: seconds(median(values)),
        p95S: seconds(percentile(values, 95)),
        maxS: seconds(Math.max(...values)),
      });
      const schedule = REALTIME_SETUP.scheduleMinutes * 60;
      const rate = `CancelHandshake ${REALTIME_SETUP.cancelRatePerSecond}/s`;
      return [
        {
          scenario: "realtime",
          variant: `direct, warm: one event at a time (${warm.length}), handler entry to CANCELED`,
          metrics: { ...spans(warmSpans), importS: "–" },
        },
        {
          scenario: "realtime",
          variant: `queued, warm: one event at a time in a batch of one (${queuedWarmSpans.length}), handler entry to CANCELED`,
          metrics: { ...spans(queuedWarmSpans), importS: "–", queueWaitMedianS: 0 },
        },
        {
          scenario: "realtime",
          variant: `direct, cold: a fresh process per event (${cold.length})`,
          metrics: { ...spans(coldSpans), importS: seconds(median(cold.map((t) => t.importMs))) },
        },
        {
          scenario: "realtime",
          variant: `direct burst: ${burstEvents.length} at once, ${REALTIME_SETUP.workers} invocations at a time, ${rate}: ${burstSpans.length} CANCELED, ${direct.throttled} throttles retried`,
          metrics: { ...spans(burstSpans), importS: "–", ...direct.figures },
        },
        {
          scenario: "realtime",
          variant: `queued burst: ${queued.length} at once, batches of ${REALTIME_SETUP.batchSize} one at a time, ${rate}: ${queuedSpans.length} CANCELED, ${queuedFigures.throttled} throttles retried, ${delivered.deliveries.length} batches, ${failedRecords} records failed`,
          metrics: {
            ...spans(queuedSpans),
            importS: "–",
            ...queuedFigures.figures,
            queueWaitMedianS: seconds(median(waits)),
            queueWaitMaxS: seconds(Math.max(...waits)),
          },
        },
        {
          scenario: "realtime",
          variant: `anchor, the sweep's pacer: the same ${sweepEvents.length} cancels in one sweep, ${rate}: ${sweepSpans.length} CANCELED, ${sweepFigures.throttled} throttles retried`,
          metrics: { ...spans(sweepSpans), importS: "–", ...sweepFigures.figures },
        },
        {
          scenario: "realtime",
          variant: `next scheduled sweep, every ${REALTIME_SETUP.scheduleMinutes} min (uniform wait)`,
          metrics: { medianS: schedule / 2, p95S: schedule * 0.95, maxS: schedule, importS: "–" },
        },
      ];
    } finally {
      client.destroy();
      audit.destroy();
      await Promise.all([org.stop(), db.stop()]);
      rmSync(work, { recursive: true, force: true });
    }
  },
};
