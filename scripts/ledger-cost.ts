/**
 * What the handshake ledger costs a sweep: N handshakes (default 10,000) in the local
 * Organizations emulator, a first dry run (every handshake entered), then a second over the
 * unchanged organization. Prints each sweep's DynamoDB requests by operation and the capacity
 * DynamoDB Local reports, and the ledger's entries. `npm run bench:ledger [-- N]`.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { startDynamoDbLocal } from "../devtools/dynamodb-local.js";
import { startOrganizationsEmulator } from "../devtools/org-emulator/index.js";
import { largeOrganization } from "../devtools/sample-org.js";
import { ensureLocalAuditTable, localStackEnv } from "../devtools/stack-env.js";
import { sweepDepsOf, wire } from "../src/app.js";
import { createClients } from "../src/aws/clients.js";
import { loadConfig } from "../src/config/config.js";
import { silentLogger } from "../src/domain/logger.js";
import { loadSettings } from "../src/settings.js";
import { sweep } from "../src/sweep/sweep.js";

const n = Number(process.argv[2] ?? 10_000);
const tally = new Map<string, { requests: number; capacity: number }>();

const db = await startDynamoDbLocal();
const org = await startOrganizationsEmulator({ handshakes: largeOrganization(new Date(), n) });
try {
  const table = `ledger-cost-${randomUUID().slice(0, 8)}`;
  await ensureLocalAuditTable(db.endpoint, table);
  const env = localStackEnv({ organizations: org.endpoint, dynamodb: db.endpoint }, table);
  // The SDK reads its credentials and endpoints from the environment, as the CLI does.
  Object.assign(process.env, env);
  const settings = loadSettings(env);
  const dynamodb = new DynamoDBClient({
    endpoint: db.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      input.ReturnConsumedCapacity = "TOTAL";
      const result = await next(args);
      const output = result.output as { ConsumedCapacity?: unknown };
      const consumed = [output.ConsumedCapacity ?? []].flat() as { CapacityUnits?: number }[];
      const index = typeof input.IndexName === "string" ? ` ${input.IndexName}` : "";
      const name = `${String(context.commandName).replace(/Command$/, "")}${index}`;
      const row = tally.get(name) ?? { requests: 0, capacity: 0 };
      row.requests += 1;
      row.capacity += consumed.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
      tally.set(name, row);
      return result;
    },
    { step: "initialize", name: "ledgerCostTally" },
  );
  const app = wire(settings, { clients: { ...createClients(settings), dynamodb } });
  const config = { ...(await loadConfig("examples/janitor.yaml")), dryRun: true };
  for (const label of ["first sweep (every handshake new)", "second sweep (unchanged)"]) {
    tally.clear();
    const summary = await sweep(
      { config, runId: `ledger-cost-${randomUUID().slice(0, 8)}`, trigger: "cli", actor: "bench" },
      sweepDepsOf(app, silentLogger),
    );
    if (summary.error !== undefined) console.log(`  run ${summary.status}: ${summary.error}`);
    console.log(
      `${label}: ${summary.listed} listed, ledger ${JSON.stringify({ ...summary.ledger, escaped: summary.ledger?.escaped.length })}`,
    );
    for (const [name, row] of [...tally].sort()) {
      console.log(
        `  ${name.padEnd(20)} ${String(row.requests).padStart(6)} requests  ${row.capacity.toFixed(1).padStart(9)} capacity units`,
      );
    }
  }
  dynamodb.destroy();
} finally {
  await Promise.all([org.stop(), db.stop()]);
}
