import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll } from "vitest";
import type { DynamoDbLocal } from "../../devtools/dynamodb-local.js";
import { ensureLocalAuditTable } from "../../devtools/stack-env.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { auditPortContract } from "../support/audit-contract.js";
import { localDynamoDbClient, sharedDynamoDbLocal } from "../support/stack.js";

let db: DynamoDbLocal;
let client: DynamoDBClient;

beforeAll(async () => {
  db = await sharedDynamoDbLocal();
  client = localDynamoDbClient(db.endpoint);
});
afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

// The DynamoDB store on DynamoDB Local, a fresh table per case, held to the same cases as the
// fake the unit tests use (test/unit/audit-contract.test.ts).
auditPortContract("DynamoDB store", async ({ now, leaseMs, marginMs }) => {
  const tableName = `janitor-contract-${Math.random().toString(36).slice(2, 10)}`;
  await ensureLocalAuditTable(db.endpoint, tableName);
  const store = createAuditStore({
    client,
    tableName,
    now,
    leaseDurationMs: leaseMs,
    fenceMarginMs: marginMs,
  });
  return { ...sweepPorts(store), claims: store };
});
