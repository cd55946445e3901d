import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { InviteAccountToOrganizationCommand } from "@aws-sdk/client-organizations";
import type { Context } from "aws-lambda";
import { type App, wire } from "../src/app.js";
import { ensureAuditTable } from "../src/aws/audit-table-init.js";
import type { Clients } from "../src/aws/clients.js";
import { verifyRuns } from "../src/cli/audit-verify.js";
import { exitCodeFor } from "../src/cli/exit-codes.js";
import { formatTable } from "../src/cli/format.js";
import { renderSummary } from "../src/cli/render.js";
import { loadConfig } from "../src/config/config.js";
import type { ReadLedgerRecord } from "../src/ports/ledger.js";
import { loadSettings, type Settings } from "../src/settings.js";
import { sweep } from "../src/sweep/sweep.js";
import { fourEyesStep } from "./demo-approval.js";
import { graceAndNotifyDemo } from "./demo-notify.js";
import { startDynamoDbLocal } from "./dynamodb-local.js";
import { type OrganizationsEmulator, startOrganizationsEmulator } from "./org-emulator/index.js";
import { startS3Emulator } from "./s3-emulator.js";
import { sampleOrganization } from "./sample-org.js";
import { LOCAL_CREDENTIALS, localStackEnv } from "./stack-env.js";

export const DEMO_CONFIG = fileURLToPath(new URL("../examples/janitor.yaml", import.meta.url));
const DEMO_TABLE = "handshake-janitor-demo";

/**
 * The embedded default: a local Organizations emulator seeded with a sample organization and a
 * local DynamoDB, a dry run then a live run of examples/janitor.yaml, then the audit trail.
 * Nothing leaves this machine; every server listens on 127.0.0.1 and is stopped at the end.
 */
export async function demoCommand(out: (text: string) => void): Promise<number> {
  const now = new Date();
  const config = await loadConfig(DEMO_CONFIG);
  out(
    "starting the local Organizations emulator, DynamoDB Local and an S3 endpoint for checkpoints (127.0.0.1 only)…",
  );
  // The emulator's own clock, moved on at the end to show AWS forgetting closed handshakes.
  let emulatorOffsetMs = 0;
  const [organizations, dynamodb, bucket] = await Promise.all([
    startOrganizationsEmulator({
      handshakes: sampleOrganization(now),
      now: () => new Date(Date.now() + emulatorOffsetMs),
    }),
    startDynamoDbLocal(),
    startS3Emulator({ defaultRetention: { mode: "COMPLIANCE", days: 1 } }),
  ]);
  try {
    // The settings of the variables a user sets to point the janitor at these servers (what
    // `npm run local` prints), read from that list rather than from this process's environment,
    // which stays as it was; the dummy credentials go to the clients directly.
    const settings = loadSettings({
      ...localStackEnv({ organizations: organizations.endpoint, dynamodb: dynamodb.endpoint }, DEMO_TABLE),
      JANITOR_CONFIG: DEMO_CONFIG,
      AWS_ENDPOINT_URL_S3: bucket.endpoint,
      AUDIT_CHECKPOINT_BUCKET: bucket.bucket,
    });
    const app = wire(settings, { credentials: LOCAL_CREDENTIALS });
    const { clients } = app;
    await ensureAuditTable(clients.dynamodb, DEMO_TABLE);
    const ports = { ...app.sweepDeps, audit: app.audit, now: () => new Date() };

    out(`\nsample organization: ${describeStates(organizations.handshakes())}`);
    out(`config: ${DEMO_CONFIG}\n`);

    const stamp = now.toISOString().replace(/[-:.]/g, "");
    const base = { config, trigger: "cli" as const, actor: "demo" };
    const dry = await sweep({ ...base, runId: `demo-${stamp}-dry`, dryRun: true }, ports);
    out(`== dry run: nothing is canceled ==\n${renderSummary(dry)}\n`);
    const live = await sweep({ ...base, runId: `demo-${stamp}-live` }, ports);
    out(`== live run ==\n${renderSummary(live)}\n`);

    out(`organization afterwards: ${describeStates(organizations.handshakes())}\n`);
    const notified = await graceAndNotifyDemo(out, settings);
    if (notified !== 0) return notified;
    const trail = [];
    for await (const item of ports.audit.queryActions({ runId: live.runId })) trail.push({ ...item });
    out(`== audit trail of ${live.runId} (DynamoDB table ${DEMO_TABLE}) ==`);
    out(formatTable(trail, ["at", "handshakeId", "outcome", "ruleId", "matchedRules", "attempts", "actor"]));
    const verified = await verifyRuns(
      ports.audit,
      [],
      { since: new Date(now.getTime() - 60_000), until: new Date(Date.now() + 60_000) },
      app.checkpoints,
    );
    out(
      `\n== audit verify, against the checkpoints in s3://${bucket.bucket} (Object Lock, compliance mode) ==\n` +
        (verified.problems.length === 0
          ? `intact: ${verified.runs} runs, ${verified.items} action items; compared with ${verified.checkpoints ?? 0} checkpoints`
          : verified.problems.join("\n")),
    );
    if (verified.problems.length > 0) return 5;

    const realtime = await realtimeStep(settings, clients.organizations, organizations, ports.audit, out);
    const fourEyes = await fourEyesStep(settings, config, stamp, out);

    // 31 days on: AWS no longer lists what closed, and a sweep enters that in the ledger.
    emulatorOffsetMs = 31 * 86_400_000;
    const later = await sweep({ ...base, runId: `demo-${stamp}-later`, dryRun: true }, ports);
    out(
      `\n== 31 days later on the emulator's clock: AWS lists ${organizations.handshakes().length} handshakes; a dry run enters ${later.ledger?.gone ?? 0} as gone from its listing ==`,
    );
    await populationStep(ports.audit, now, out);
    out("\nnext: npm run janitor -- help   ·   README.md explains running against a real organization");
    if (exitCodeFor(live.status) !== 0) return exitCodeFor(live.status);
    return exitCodeFor(dry.status) === 0 && realtime && fourEyes ? 0 : 1;
  } finally {
    await Promise.all([organizations.stop(), dynamodb.stop(), bucket.stop()]);
  }
}

/**
 * The real-time path: an invitation to an address the rules deny (examples/janitor.yaml's
 * outside-email rule denies *@gmail.com), sent with the real SDK client; the emulator's CloudTrail
 * event for it goes to the realtime Lambda handler, as EventBridge would deliver it.
 */
async function realtimeStep(
  settings: Settings,
  client: Clients["organizations"],
  emulator: OrganizationsEmulator,
  audit: App["audit"],
  out: (text: string) => void,
): Promise<boolean> {
  out("\n== real time: an invitation judged as it is sent ==");
  const sent = await client.send(
    new InviteAccountToOrganizationCommand({ Target: { Type: "EMAIL", Id: "someone@gmail.com" } }),
  );
  const id = sent.Handshake?.Id ?? "";
  const event = emulator.events().find((e) => e.detail.responseElements.handshake.id === id);
  if (event === undefined) throw new Error(`the emulator recorded no CloudTrail event for ${id}`);
  out(
    `invited someone@gmail.com: handshake ${id} OPEN; CloudTrail event ${event.id} (InviteAccountToOrganization)`,
  );
  // The handler's logger reads its level (Powertools' own variable) when its module loads: the
  // demo prints its own lines. The handler is the one without its middleware, which only adds the
  // Lambda context to log lines and flushes the metrics, over an application wired for the demo.
  const level = process.env.POWERTOOLS_LOG_LEVEL;
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  const { createRealtimeHandler, wireRealtime } = await import("../src/handlers/realtime.js");
  if (level === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = level;
  const app = wireRealtime(settings, { credentials: LOCAL_CREDENTIALS });
  const realtimeHandler = createRealtimeHandler(() => app);
  const started = performance.now();
  const result = await realtimeHandler(event, demoContext());
  const ms = Math.round(performance.now() - started);
  const state = emulator.handshakes().find((h) => h.Id === id)?.State ?? "gone";
  const decision = "actions" in result ? result.actions[0] : undefined;
  out(
    `realtime handler: ${decision?.outcome ?? "no decision"} by rule ${decision?.ruleId ?? "-"} in ${ms} ms; the handshake is now ${state}`,
  );
  const items = [];
  if ("runId" in result)
    for await (const item of audit.queryActions({ runId: result.runId })) items.push({ ...item });
  out(formatTable(items, ["at", "runId", "handshakeId", "outcome", "ruleId", "trigger", "actor"]));
  return state === "CANCELED" && decision?.outcome === "CANCELED";
}

/**
 * The handshake ledger: every handshake the runs saw, with its last known state and the verdict
 * on it, those AWS no longer lists included (`audit handshakes`).
 */
async function populationStep(audit: App["audit"], now: Date, out: (text: string) => void): Promise<void> {
  const records: ReadLedgerRecord[] = [];
  const range = {
    since: new Date(now.getTime() - 90 * 86_400_000),
    until: new Date(now.getTime() + 86_400_000),
  };
  for await (const record of audit.queryPopulation(range)) records.push(record);
  const rows = records.map((r) => ({ ...r, verdict: r.escaped ? `${r.verdict}, escaped` : r.verdict }));
  const count = (pick: (row: ReadLedgerRecord) => boolean) => records.filter(pick).length;
  out(
    `== the population (audit handshakes): ${rows.length} handshakes; ${count((r) => r.state === "ACCEPTED" && r.verdict === "compliant")} compliant and accepted, ${count((r) => r.escaped === true)} escaped (a rule would have selected them; accepted first), ${count((r) => r.goneAt !== undefined)} no longer listed by AWS ==`,
  );
  // The demo's own cut of `audit handshakes`: no action or flags column, to fit a terminal.
  const columns = ["handshakeId", "target", "state", "verdict", "ruleId", "goneAt"];
  out(formatTable(rows, columns));
}

function demoContext(): Context {
  const name = "handshake-janitor-demo-realtime";
  return {
    awsRequestId: `demo-${Date.now()}`,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: "512",
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "demo",
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

function describeStates(handshakes: ReadonlyArray<{ State?: string; state?: string }>): string {
  const counts = new Map<string, number>();
  for (const h of handshakes) {
    const state = h.State ?? h.state ?? "?";
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  const parts = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s} ${n}`);
  return `${handshakes.length} handshakes (${parts.join(", ")})`;
}
