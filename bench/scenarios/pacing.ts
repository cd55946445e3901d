import { CancelHandshakeCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
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
import { wire } from "../../src/app.js";
import { ensureAuditTable } from "../../src/aws/audit-table-init.js";
import { createClients } from "../../src/aws/clients.js";
import { createOrganizationsAdapter } from "../../src/aws/organizations.js";
import { parseConfig } from "../../src/config/config.js";
import { loadSettings } from "../../src/settings.js";
import { sweep } from "../../src/sweep/sweep.js";
import { type BenchRow, median, type Scenario } from "../lib.js";

/**
 * Cancelling N handshakes against the emulator's token bucket for CancelHandshake, three ways:
 * the janitor's adapter and pacer, and a plain loop over an SDK client in the SDK's "standard"
 * and "adaptive" retry modes; plus the whole janitor sweep with its audit writes to DynamoDB
 * Local. Same emulator settings, same concurrency, runs interleaved so that a slow moment of the
 * machine does not land on one variant only.
 *
 * efficiency = (N / rate) / wall: 1 means the run took exactly as long as the limit forces.
 * throttledPerCancel = TooManyRequestsException answers / successful cancels.
 */
export const PACING_SETUP = {
  handshakes: 500,
  ratePerSecond: 40,
  burst: 5,
  concurrency: 4,
  /** Per answer; a little of the latency the real endpoint has, without making concurrency the limit. */
  latencyMs: 20,
  runs: 3,
  /** The SDK's default is 3; more gives it every chance to finish a call by itself. */
  sdkMaxAttempts: 10,
};

type Variant = "janitor pacer" | "SDK standard retry" | "SDK adaptive retry" | "janitor sweep + audit";
const VARIANTS: readonly Variant[] = [
  "janitor pacer",
  "SDK standard retry",
  "SDK adaptive retry",
  "janitor sweep + audit",
];

interface Measurement {
  wallS: number;
  throttled: number;
  canceled: number;
  /** Calls the variant gave up on (retries exhausted) and the loop had to send again. */
  gaveUp: number;
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

function faults(): EmulatorFaults {
  return {
    throttle: {
      CancelHandshake: { ratePerSecond: PACING_SETUP.ratePerSecond, burst: PACING_SETUP.burst },
    },
    latencyMs: PACING_SETUP.latencyMs,
  };
}

/** Every handshake open again, a full token bucket, zeroed counters: each run starts alike. */
function reset(org: OrganizationsEmulator): void {
  for (const handshake of org.handshakes()) org.mutate(handshake.Id, "OPEN");
  org.setFaults(faults());
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

const SWEEP_CONFIG = parseConfig(
  `version: 1
dryRun: false
maxCancellationsPerRun: ${PACING_SETUP.handshakes}
rules:
  - id: outside-email
    type: email
    deny: ["*@gmail.com"]
`,
  "bench-pacing.yaml",
);

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

async function measure(
  variant: Variant,
  org: OrganizationsEmulator,
  tableName: string,
  run: number,
): Promise<Measurement> {
  reset(org);
  const ids = org.handshakes().map((h) => h.Id);
  const started = performance.now();
  let gaveUp: number;
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
  };
}

/** Runs every variant `runs` times, interleaved; one row per variant with the medians. */
export async function runPacing(variants: readonly Variant[] = VARIANTS): Promise<BenchRow[]> {
  const org = await startOrganizationsEmulator({
    handshakes: openInvitations(new Date(), PACING_SETUP.handshakes),
    faults: faults(),
  });
  let db: DynamoDbLocal | undefined;
  const saved = { ...process.env };
  try {
    if (variants.includes("janitor sweep + audit")) db = await startDynamoDbLocal();
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

    if (db) {
      // DynamoDB Local is a JVM: its first thousand writes run interpreted, several times slower
      // than the rest. One unmeasured sweep, so that no measured run pays for the warm-up.
      const warmUp = await measure("janitor sweep + audit", org, tableName, -1);
      process.stderr.write(`  (warm-up sweep: ${warmUp.wallS.toFixed(2)} s, not counted)\n`);
    }
    const results = new Map<Variant, Measurement[]>(variants.map((v) => [v, []]));
    for (let run = 0; run < PACING_SETUP.runs; run += 1) {
      for (const variant of variants) {
        const measured = await measure(variant, org, tableName, run);
        process.stderr.write(
          `  ${variant} #${run + 1}: ${measured.wallS.toFixed(2)} s, ${measured.throttled} throttled\n`,
        );
        results.get(variant)?.push(measured);
      }
    }

    const idealS = PACING_SETUP.handshakes / PACING_SETUP.ratePerSecond;
    return variants.map((variant) => {
      const runs = results.get(variant) ?? [];
      const wallS = median(runs.map((m) => m.wallS));
      return {
        scenario: `pacing: ${PACING_SETUP.handshakes} cancels, limit ${PACING_SETUP.ratePerSecond}/s burst ${PACING_SETUP.burst}, concurrency ${PACING_SETUP.concurrency}, ${PACING_SETUP.latencyMs} ms latency (median of ${PACING_SETUP.runs})`,
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
    });
  } finally {
    process.env = saved;
    await Promise.all([org.stop(), db?.stop()]);
  }
}

export const scenario: Scenario = { name: "pacing", run: () => runPacing() };
