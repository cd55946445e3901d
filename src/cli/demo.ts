import { fileURLToPath } from "node:url";
import { exitCodeFor, wire } from "../app.js";
import { ensureAuditTable } from "../aws/audit-table.js";
import { createClients } from "../aws/clients.js";
import { loadConfig } from "../core/config.js";
import { sweep } from "../core/sweep.js";
import { startDynamoDbLocal } from "../local/dynamodb-local.js";
import { startOrganizationsEmulator } from "../local/org-emulator.js";
import { sampleOrganization } from "../local/sample-org.js";
import { localStackEnv } from "../local/stack-env.js";
import { graceAndNotifyDemo } from "./demo-notify.js";
import { formatTable } from "./format.js";
import { renderSummary } from "./render.js";

export const DEMO_CONFIG = fileURLToPath(new URL("../../examples/janitor.yaml", import.meta.url));
const DEMO_TABLE = "handshake-janitor-demo";

/**
 * The embedded default: a local Organizations emulator seeded with a sample organization and a
 * local DynamoDB, a dry run then a live run of examples/janitor.yaml, then the audit trail.
 * Nothing leaves this machine; every server listens on 127.0.0.1 and is stopped at the end.
 */
export async function demoCommand(out: (text: string) => void): Promise<number> {
  const now = new Date();
  const config = await loadConfig(DEMO_CONFIG);
  out("starting the local Organizations emulator and DynamoDB Local (127.0.0.1 only)…");
  const [organizations, dynamodb] = await Promise.all([
    startOrganizationsEmulator({ handshakes: sampleOrganization(now) }),
    startDynamoDbLocal(),
  ]);
  const saved = { ...process.env };
  try {
    // The SDK's own endpoint variables: the same path a user takes to point the janitor anywhere.
    Object.assign(
      process.env,
      localStackEnv({ organizations: organizations.endpoint, dynamodb: dynamodb.endpoint }, DEMO_TABLE),
    );
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    const clients = createClients();
    await ensureAuditTable(clients.dynamodb, DEMO_TABLE);
    const ports = { ...wire(clients, DEMO_TABLE), now: () => new Date() };

    out(`\nsample organization: ${describeStates(organizations.handshakes())}`);
    out(`config: ${DEMO_CONFIG}\n`);

    const stamp = now.toISOString().replace(/[-:.]/g, "");
    const base = { config, trigger: "cli" as const, actor: "demo" };
    const dry = await sweep({ ...base, runId: `demo-${stamp}-dry`, dryRun: true }, ports);
    out(`== dry run: nothing is canceled ==\n${renderSummary(dry)}\n`);
    const live = await sweep({ ...base, runId: `demo-${stamp}-live` }, ports);
    out(`== live run ==\n${renderSummary(live)}\n`);

    out(`organization afterwards: ${describeStates(organizations.handshakes())}\n`);
    const notified = await graceAndNotifyDemo(out, DEMO_TABLE);
    if (notified !== 0) return notified;
    const trail = [];
    for await (const item of ports.audit.queryActions({ runId: live.runId })) trail.push({ ...item });
    out(`== audit trail of ${live.runId} (DynamoDB table ${DEMO_TABLE}) ==`);
    out(formatTable(trail, ["at", "handshakeId", "outcome", "ruleId", "matchedRules", "attempts", "actor"]));
    out("\nnext: npm run janitor -- help   ·   README.md explains running against a real organization");
    return exitCodeFor(live.status) === 0 && exitCodeFor(dry.status) === 0 ? 0 : exitCodeFor(live.status);
  } finally {
    process.env = saved;
    await Promise.all([organizations.stop(), dynamodb.stop()]);
  }
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
