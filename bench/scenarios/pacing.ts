import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CancelHandshakeCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { build } from "esbuild";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../devtools/dynamodb-local.js";
import {
  DEFAULT_ORGANIZATION,
  type EmulatorFaults,
  type EmulatorHandshake,
  handshakeArn,
  inviteResources,
  type OrganizationsEmulator,
  startOrganizationsEmulator,
} from "../../devtools/org-emulator/index.js";
import { type S3Emulator, startS3Emulator } from "../../devtools/s3-emulator.js";
import { artifactBuildOptions, BUNDLED_CONFIG_FILE } from "../../scripts/build.js";
import { wire } from "../../src/app.js";
import { ensureAuditTable } from "../../src/aws/audit-table-init.js";
import { createClients } from "../../src/aws/clients.js";
import { createOrganizationsAdapter } from "../../src/aws/organizations.js";
import { loadConfigData, loadYamlReader, parseConfig } from "../../src/config/config.js";
import { loadSettings } from "../../src/settings.js";
import { sweep } from "../../src/sweep/sweep.js";
import { type BenchRow, median, type Scenario } from "../lib.js";

/**
 * Cancelling N handshakes against the emulator's token bucket for CancelHandshake, three ways:
 * the janitor's adapter and pacer, and a plain loop over an SDK client in the SDK's "standard"
 * and "adaptive" retry modes; plus the whole janitor sweep with its audit writes to DynamoDB
 * Local, in this process and as a process of its own from its start to its exit
 * (bench/pacing-child.ts, with a checkpoint bucket, phase by phase). Same emulator settings, same
 * concurrency, runs interleaved so that a slow moment of the machine does not land on one variant
 * only.
 *
 * efficiency = (N / rate) / wall: 1 means the run took exactly as long as the limit forces.
 * throttledPerCancel = TooManyRequestsException answers / successful cancels.
 */
export const PACING_SETUP = {
  handshakes: 500,
  ratePerSecond: 40,
  /**
   * The whole run once more at a lower limit: its start, listing and finish cost the same, and weigh
   * less against a longer ideal.
   */
  lowerRatePerSecond: 25,
  burst: 5,
  concurrency: 4,
  /** Per answer; a little of the latency the real endpoint has, without making concurrency the limit. */
  latencyMs: 20,
  runs: 3,
  /** The SDK's default is 3; more gives it every chance to finish a call by itself. */
  sdkMaxAttempts: 10,
};

const WHOLE_RUN = "janitor whole run, process start to exit";
type Variant =
  | "janitor pacer"
  | "SDK standard retry"
  | "SDK adaptive retry"
  | "janitor sweep + audit"
  | typeof WHOLE_RUN;
const VARIANTS: readonly Variant[] = [
  "janitor pacer",
  "SDK standard retry",
  "SDK adaptive retry",
  "janitor sweep + audit",
  WHOLE_RUN,
];

interface Measurement {
  wallS: number;
  throttled: number;
  canceled: number;
  /** Calls the variant gave up on (retries exhausted) and the loop had to send again. */
  gaveUp: number;
  /** The whole run's phases, in milliseconds of wall time (bench/pacing-child.ts). */
  phasesMs?: Record<string, number>;
}

const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

/** N open invitations to addresses the benchmark config's one rule selects. */
export function openInvitations(now: Date, count: number): EmulatorHandshake[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `h-bench${i.toString(36).padStart(8, "0")}`;
    const target = { Id: `user${i}@gmail.com`, Type: "EMAIL" as const };
    return {
      Id: id,
      Arn: handshakeArn(DEFAULT_ORGANIZATION, "INVITE", id),
      Parties: [{ Id: DEFAULT_ORGANIZATION.Id, Type: "ORGANIZATION" as const }, target],
      State: "OPEN" as const,
      RequestedTimestamp: new Date(now.getTime() - 86_400_000),
      ExpirationTimestamp: new Date(now.getTime() + 14 * 86_400_000),
      Action: "INVITE" as const,
      Resources: inviteResources(DEFAULT_ORGANIZATION, target),
    };
  });
}

function faults(rate = PACING_SETUP.ratePerSecond): EmulatorFaults {
  return {
    throttle: {
      CancelHandshake: { ratePerSecond: rate, burst: PACING_SETUP.burst },
    },
    latencyMs: PACING_SETUP.latencyMs,
  };
}

/** Every handshake open again, a full token bucket, zeroed counters: each run starts alike. */
function reset(org: OrganizationsEmulator, rate?: number): void {
  for (const handshake of org.handshakes()) org.mutate(handshake.Id, "OPEN");
  org.setFaults(faults(rate));
  org.resetStats();
}

async function withWorkers(ids: string[], cancel: (id: string) => Promise<boolean>): Promise<number> {
  const queue = [...ids];
  let gaveUp = 0;
  await Promise.all(
    Array.from({ length: PACING_SETUP.concurrency }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        if (!(await cancel(id))) {
          gaveUp += 1;
          // A plain loop has nothing better to do with a call the client gave up on than to send
          // it again later; bounded so that a broken variant ends the benchmark instead of looping.
          if (gaveUp > ids.length * 10) throw new Error("gave up on too many calls");
          queue.push(id);
        }
      }
    }),
  );
  return gaveUp;
}

async function sdkLoop(org: OrganizationsEmulator, ids: string[], retryMode: string): Promise<number> {
  const client = new OrganizationsClient({
    region: REGION,
    endpoint: org.endpoint,
    credentials: CREDENTIALS,
    retryMode,
    maxAttempts: PACING_SETUP.sdkMaxAttempts,
  });
  try {
    return await withWorkers(ids, async (id) => {
      try {
        await client.send(new CancelHandshakeCommand({ HandshakeId: id }));
        return true;
      } catch (error) {
        if ((error as Error).name === "TooManyRequestsException") return false;
        throw error;
      }
    });
  } finally {
    client.destroy();
  }
}

async function janitorLoop(ids: string[]): Promise<number> {
  // The composition root's clients, as the handler and the CLI build them (maxAttempts: 1).
  const clients = createClients();
  const adapter = createOrganizationsAdapter({ client: clients.organizations });
  try {
    return await withWorkers(ids, async (id) => {
      const result = await adapter.cancelHandshake(id);
      if (result.outcome === "CANCELED") return true;
      if (result.outcome === "DEFERRED") return false;
      throw new Error(`${id}: ${result.outcome} ${result.error ?? ""}`);
    });
  } finally {
    clients.organizations.destroy();
    clients.dynamodb.destroy();
  }
}

const SWEEP_CONFIG_YAML = `version: 1
dryRun: false
maxCancellationsPerRun: ${PACING_SETUP.handshakes}
rules:
  - id: outside-email
    type: email
    deny: ["*@gmail.com"]
`;
await loadYamlReader();
const SWEEP_CONFIG = parseConfig(SWEEP_CONFIG_YAML, "bench-pacing.yaml");

async function janitorSweep(tableName: string, run: number): Promise<number> {
  const clients = createClients();
  try {
    const summary = await sweep(
      {
        config: SWEEP_CONFIG,
        runId: `bench-pacing-${Date.now()}-${run}`,
        trigger: "cli",
        actor: "bench",
        concurrency: PACING_SETUP.concurrency,
      },
      {
        ...wire({ ...loadSettings(), auditTableName: tableName }, { clients }).sweepDeps,
        now: () => new Date(),
      },
    );
    if (summary.status !== "COMPLETED") throw new Error(`sweep ended ${summary.status}`);
    return 0;
  } finally {
    clients.organizations.destroy();
    clients.dynamodb.destroy();
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = join(ROOT, "node_modules", ".bin", "node");
// bench/pacing-child.ts prints its result after this prefix.
const RESULT_PREFIX = "PACING_RESULT ";

/** What the whole-run process needs: its script, built as the artifact is, and its environment. */
interface WholeRun {
  script: string;
  env: Record<string, string>;
}

/** bench/pacing-child.ts built with the artifact's esbuild options into `dir`, with the config. */
async function buildWholeRun(dir: string, env: Record<string, string>): Promise<WholeRun> {
  await build(
    artifactBuildOptions({
      entry: join(ROOT, "bench", "pacing-child.ts"),
      entryName: "pacing-child",
      outdir: dir,
    }),
  );
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  // As the artifact ships it (scripts/build.ts): JSON, so the run's start-up reads no YAML.
  writeFileSync(join(dir, "janitor.yaml"), SWEEP_CONFIG_YAML);
  const data = await loadConfigData(join(dir, "janitor.yaml"));
  writeFileSync(join(dir, BUNDLED_CONFIG_FILE), `${JSON.stringify(data)}\n`);
  return {
    script: join(dir, "pacing-child.js"),
    env: { ...env, JANITOR_CONFIG: join(dir, BUNDLED_CONFIG_FILE) },
  };
}

/** One whole run in a fresh node process: its wall time from spawn to exit, and its phases. */
function wholeRun(
  child: WholeRun,
  runId: string,
): Promise<{ wallMs: number; phasesMs: Record<string, number> }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      NODE,
      [child.script],
      {
        // As the CLI would be started: the environment names the servers, nothing else leaks in.
        env: { ...process.env, ...child.env, BENCH_RUN_ID: runId, NODE_OPTIONS: "" },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 300_000,
      },
      (error, stdout, stderr) => {
        const wallMs = performance.now() - started;
        const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
        if (error || !line) {
          reject(new Error(`whole run failed: ${error?.message ?? "no result"}\n${stderr.slice(-2000)}`));
          return;
        }
        const result = JSON.parse(line.slice(RESULT_PREFIX.length)) as {
          status: string;
          endedMs: number;
          phasesMs: Record<string, number>;
        };
        if (result.status !== "COMPLETED") {
          reject(new Error(`whole run ended ${result.status}`));
          return;
        }
        // What the child did not see of its own life: node's start before its clock, and its exit.
        resolve({ wallMs, phasesMs: { ...result.phasesMs, exit: wallMs - result.endedMs } });
      },
    );
  });
}

async function measure(
  variant: Variant,
  org: OrganizationsEmulator,
  tableName: string,
  run: number,
  child?: WholeRun,
  rate?: number,
): Promise<Measurement> {
  reset(org, rate);
  const ids = org.handshakes().map((h) => h.Id);
  const started = performance.now();
  let gaveUp: number;
  let phases: Record<string, number> | undefined;
  switch (variant) {
    case "janitor pacer":
      gaveUp = await janitorLoop(ids);
      break;
    case "SDK standard retry":
      gaveUp = await sdkLoop(org, ids, "standard");
      break;
    case "SDK adaptive retry":
      gaveUp = await sdkLoop(org, ids, "adaptive");
      break;
    case "janitor sweep + audit":
      gaveUp = await janitorSweep(tableName, run);
      break;
    case WHOLE_RUN: {
      if (!child) throw new Error("the whole run's process was not built");
      const { phasesMs } = await wholeRun(child, `bench-whole-run-${Date.now()}-${run}`);
      phases = phasesMs;
      gaveUp = 0;
      break;
    }
  }
  const wallS = (performance.now() - started) / 1000;
  const open = org.handshakes().filter((h) => h.State !== "CANCELED").length;
  if (open > 0) throw new Error(`${variant}: ${open} handshakes left open`);
  const stats = org.stats().CancelHandshake;
  return {
    wallS,
    throttled: stats?.errors.TooManyRequestsException ?? 0,
    canceled: stats?.successes ?? 0,
    gaveUp,
    ...(phases ? { phasesMs: phases } : {}),
  };
}

/** Runs every variant `runs` times, interleaved; one row per variant with the medians. */
export async function runPacing(variants: readonly Variant[] = VARIANTS): Promise<BenchRow[]> {
  const org = await startOrganizationsEmulator({
    handshakes: openInvitations(new Date(), PACING_SETUP.handshakes),
    faults: faults(),
  });
  let db: DynamoDbLocal | undefined;
  let s3: S3Emulator | undefined;
  let child: WholeRun | undefined;
  const childDir = mkdtempSync(join(tmpdir(), "janitor-pacing-"));
  const saved = { ...process.env };
  try {
    if (variants.includes("janitor sweep + audit") || variants.includes(WHOLE_RUN)) {
      db = await startDynamoDbLocal();
    }
    const tableName = "bench-pacing-audit";
    // The janitor's clients find the local servers the way the CLI's do: SDK endpoint variables.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_ORGANIZATIONS: org.endpoint,
      ...(db ? { AWS_ENDPOINT_URL_DYNAMODB: db.endpoint } : {}),
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_REGION: REGION,
    });
    if (db) {
      const clients = createClients();
      await ensureAuditTable(clients.dynamodb, tableName);
      clients.dynamodb.destroy();
      clients.organizations.destroy();
    }
    if (db && variants.includes(WHOLE_RUN)) {
      s3 = await startS3Emulator({ defaultRetention: { mode: "COMPLIANCE", days: 1 } });
      child = await buildWholeRun(childDir, {
        AWS_ENDPOINT_URL_ORGANIZATIONS: org.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_REGION: REGION,
        AUDIT_TABLE_NAME: tableName,
        AUDIT_CHECKPOINT_BUCKET: s3.bucket,
      });
    }

    if (db) {
      // DynamoDB Local is a JVM: its first thousand writes run interpreted, several times slower
      // than the rest. One unmeasured sweep, so that no measured run pays for the warm-up.
      const warmUp = await measure("janitor sweep + audit", org, tableName, -1);
      process.stderr.write(`  (warm-up sweep: ${warmUp.wallS.toFixed(2)} s, not counted)\n`);
    }
    const results = new Map<Variant, Measurement[]>(variants.map((v) => [v, []]));
    for (let run = 0; run < PACING_SETUP.runs; run += 1) {
      for (const variant of variants) {
        const measured = await measure(variant, org, tableName, run, child);
        process.stderr.write(
          `  ${variant} #${run + 1}: ${measured.wallS.toFixed(2)} s, ${measured.throttled} throttled\n`,
        );
        results.get(variant)?.push(measured);
      }
    }

    const lower: Measurement[] = [];
    for (let run = 0; child && run < PACING_SETUP.runs; run += 1) {
      const rate = PACING_SETUP.lowerRatePerSecond;
      const measured = await measure(WHOLE_RUN, org, tableName, run, child, rate);
      process.stderr.write(`  ${WHOLE_RUN} at ${rate}/s #${run + 1}: ${measured.wallS.toFixed(2)} s\n`);
      lower.push(measured);
    }

    const rows = variants.map((variant) =>
      summaryRow(variant, results.get(variant) ?? [], PACING_SETUP.ratePerSecond),
    );
    return [
      ...rows,
      ...phaseRows(results.get(WHOLE_RUN) ?? []),
      ...(lower.length > 0 ? [summaryRow(WHOLE_RUN, lower, PACING_SETUP.lowerRatePerSecond)] : []),
    ];
  } finally {
    process.env = saved;
    await Promise.all([org.stop(), db?.stop(), s3?.stop()]);
    rmSync(childDir, { recursive: true, force: true });
  }
}

/** One variant's medians, in the table of its limit. */
function summaryRow(variant: Variant, runs: readonly Measurement[], rate: number): BenchRow {
  const { handshakes, burst, concurrency, latencyMs } = PACING_SETUP;
  const idealS = handshakes / rate;
  const wallS = median(runs.map((m) => m.wallS));
  return {
    scenario: `pacing: ${handshakes} cancels, limit ${rate}/s burst ${burst}, concurrency ${concurrency}, ${latencyMs} ms latency (median of ${runs.length})`,
    variant,
    metrics: {
      wallS,
      idealS,
      efficiency: idealS / wallS,
      throttled: median(runs.map((m) => m.throttled)),
      throttledPerCancel: median(runs.map((m) => m.throttled / m.canceled)),
      gaveUp: median(runs.map((m) => m.gaveUp)),
    },
  };
}

/**
 * The whole run's phases, one row each, in the order a run meets them: milliseconds during which
 * at least one of the phase's calls was in flight (median of the runs). Phases that overlap (the
 * claims, the fence, the intents and outcomes and the cancels of the workers) add up to more than
 * the run's wall time.
 */
function phaseRows(runs: readonly Measurement[]): BenchRow[] {
  if (runs.length === 0) return [];
  const order = [
    "start-up: node and modules",
    "start-up: config and clients",
    "lease",
    "run item",
    "trail check",
    "prepare",
    "listing",
    "planning",
    "ledger",
    "claims",
    "fence",
    "cancels",
    "intents and outcomes",
    "ledger after the last cancel",
    "final counts",
    "seal",
    "checkpoint",
    "lease release",
    "exit",
  ];
  const seen = new Set(runs.flatMap((m) => Object.keys(m.phasesMs ?? {})));
  const wallMs = median(runs.map((m) => m.wallS * 1000));
  return [...order.filter((p) => seen.has(p)), ...[...seen].filter((p) => !order.includes(p))].map(
    (phase) => {
      const ms = median(runs.map((m) => m.phasesMs?.[phase] ?? 0));
      return {
        scenario: `pacing: the whole run's phases (median of ${runs.length})`,
        variant: phase,
        metrics: { ms, shareOfWallPct: (100 * ms) / wallMs },
      };
    },
  );
}

export const scenario: Scenario = { name: "pacing", run: () => runPacing() };
