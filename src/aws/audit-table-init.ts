import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type TableDescription,
  UpdateContinuousBackupsCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { describeError, JanitorError } from "../domain/errors.js";
import { RetriesExhaustedError, retry } from "../resilience/backoff.js";
import { type AuditTableOptions, auditTableDefinition } from "./audit-table.js";

export interface EnsureAuditTableOptions extends AuditTableOptions {
  /** Upper bound on waiting for the new table, and then for each index added, to become ACTIVE. */
  maxWaitSeconds?: number;
  /** Told each step of adding a missing index to an existing table, one line each. */
  progress?: (line: string) => void;
}

/**
 * Creates the audit table when it is missing and waits until it is ACTIVE. An existing table must
 * have the keys the store uses, and each index it has the keys and projection the store queries,
 * or this throws before changing anything: a table that looks right by name but cannot serve the
 * queries would fail much later and less clearly. An index the table lacks (a table made before
 * the index was defined) is added, one at a time as DynamoDB allows, each waited for until ACTIVE
 * ("upgraded").
 */
export async function ensureAuditTable(
  client: DynamoDBClient,
  tableName: string,
  options: EnsureAuditTableOptions = {},
): Promise<"created" | "exists" | "upgraded"> {
  const definition = auditTableDefinition(tableName);
  let created: boolean;
  try {
    await client.send(new CreateTableCommand(definition));
    created = true;
  } catch (error) {
    if (!(error instanceof Error && error.name === "ResourceInUseException")) {
      throw new JanitorError(`audit table ${tableName}: create failed: ${describeError(error)}`, {
        cause: error,
      });
    }
    created = false;
  }

  let table: TableDescription | undefined;
  try {
    const result = await waitUntilTableExists(
      { client, maxWaitTime: options.maxWaitSeconds ?? 300, minDelay: 2, maxDelay: 20 },
      { TableName: tableName },
    );
    table = (result.reason as { Table?: TableDescription } | undefined)?.Table;
  } catch (error) {
    throw new JanitorError(`audit table ${tableName}: not ACTIVE in time: ${describeError(error)}`, {
      cause: error,
    });
  }
  table ??= (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;

  const { problems, missing, creating } = tableMismatches(definition, table);
  if (problems.length > 0) {
    throw new JanitorError(
      `audit table ${tableName} does not match the audit table definition: ${problems.join("; ")}`,
    );
  }
  if (created) await applyTableSettings(client, tableName, options);
  const waitSeconds = options.maxWaitSeconds ?? 300;
  const say = options.progress ?? (() => {});
  for (const name of creating) {
    say(`audit table ${tableName}: index ${name} is being created; waiting until it is ACTIVE`);
    await untilIndexActive(client, tableName, name, waitSeconds);
  }
  for (const index of missing) {
    await addIndex(client, tableName, index, { definition, table: table ?? {}, waitSeconds, say });
  }
  if (created) return "created";
  return missing.length > 0 ? "upgraded" : "exists";
}

/** Why a wait goes on: the table or the index is not ACTIVE yet. */
class NotActiveYetError extends JanitorError {
  constructor(readonly status: string) {
    super(`not ACTIVE yet (${status})`);
    this.name = "NotActiveYetError";
  }
}

function keysOf(index: GlobalSecondaryIndex): string {
  return (index.KeySchema ?? []).map((key) => key.AttributeName).join(", ");
}

/**
 * Adds one index to an existing table with UpdateTable, and waits until it is ACTIVE. DynamoDB
 * creates one index per UpdateTable and refuses a second while one is being created, hence one at
 * a time. A provisioned table's index gets the table's throughput; an on-demand one needs none.
 */
async function addIndex(
  client: DynamoDBClient,
  tableName: string,
  index: GlobalSecondaryIndex,
  context: {
    definition: CreateTableCommandInput;
    table: TableDescription;
    waitSeconds: number;
    say: (line: string) => void;
  },
): Promise<void> {
  const { definition, table, waitSeconds, say } = context;
  const name = index.IndexName ?? "?";
  const keyNames = new Set((index.KeySchema ?? []).map((key) => key.AttributeName));
  const throughput = table.ProvisionedThroughput;
  const provisioned =
    table.BillingModeSummary?.BillingMode !== "PAY_PER_REQUEST" &&
    (throughput?.ReadCapacityUnits ?? 0) > 0 &&
    (throughput?.WriteCapacityUnits ?? 0) > 0;
  say(`audit table ${tableName}: adding index ${name} (${keysOf(index)})`);
  const started = Date.now();
  try {
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        // UpdateTable wants the definitions of the new index's keys only.
        AttributeDefinitions: (definition.AttributeDefinitions ?? []).filter((attribute) =>
          keyNames.has(attribute.AttributeName),
        ),
        GlobalSecondaryIndexUpdates: [
          {
            Create: {
              IndexName: index.IndexName,
              KeySchema: index.KeySchema,
              Projection: index.Projection,
              ...(provisioned
                ? {
                    ProvisionedThroughput: {
                      ReadCapacityUnits: throughput?.ReadCapacityUnits,
                      WriteCapacityUnits: throughput?.WriteCapacityUnits,
                    },
                  }
                : {}),
            },
          },
        ],
      }),
    );
  } catch (error) {
    throw new JanitorError(`audit table ${tableName}: adding index ${name} failed: ${describeError(error)}`, {
      cause: error,
    });
  }
  await untilIndexActive(client, tableName, name, waitSeconds);
  say(`audit table ${tableName}: index ${name} is ACTIVE (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

/** Polls DescribeTable, backing off, until the table and its index are ACTIVE, for at most `waitSeconds`. */
async function untilIndexActive(
  client: DynamoDBClient,
  tableName: string,
  indexName: string,
  waitSeconds: number,
): Promise<void> {
  try {
    await retry(
      async () => {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
        const found = (Table?.GlobalSecondaryIndexes ?? []).find((gsi) => gsi.IndexName === indexName);
        if (found === undefined) {
          throw new JanitorError(
            `audit table ${tableName}: index ${indexName} is gone while it was being created`,
          );
        }
        const status = `table ${Table?.TableStatus}, index ${found.IndexStatus}`;
        if (Table?.TableStatus !== "ACTIVE" || found.IndexStatus !== "ACTIVE")
          throw new NotActiveYetError(status);
      },
      {
        // A large table's index is backfilled for minutes or hours: pauses grow to 20 s.
        policy: { baseMs: 1_000, capMs: 20_000, maxAttempts: Number.MAX_SAFE_INTEGER },
        deadline: Date.now() + waitSeconds * 1000,
        isRetryable: (error) => error instanceof NotActiveYetError,
      },
    );
  } catch (error) {
    if (!(error instanceof RetriesExhaustedError)) throw error;
    const status = error.cause instanceof NotActiveYetError ? error.cause.status : describeError(error.cause);
    throw new JanitorError(
      `audit table ${tableName}: index ${indexName} not ACTIVE after ${waitSeconds} s (${status}); DynamoDB goes on creating it: run audit init again to wait for it`,
      { cause: error },
    );
  }
}

async function applyTableSettings(client: DynamoDBClient, tableName: string, options: AuditTableOptions) {
  try {
    // Right after CreateTable the service can still answer ContinuousBackupsUnavailableException
    // for a while; that is the one case worth waiting out.
    await retry(
      () =>
        client.send(
          new UpdateContinuousBackupsCommand({
            TableName: tableName,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          }),
        ),
      {
        policy: { baseMs: 500, capMs: 10_000, maxAttempts: 10 },
        isRetryable: (error) =>
          error instanceof Error && error.name === "ContinuousBackupsUnavailableException",
      },
    );
  } catch (error) {
    // DynamoDB Local implements no backup API and answers UnknownOperationException, which real
    // DynamoDB never does for this call; anything else is a real failure.
    if (!(error instanceof Error && error.name === "UnknownOperationException")) {
      throw new JanitorError(
        `audit table ${tableName}: enabling point-in-time recovery failed: ${describeError(error)}`,
        {
          cause: error,
        },
      );
    }
  }
  if (options.ttlAttribute !== undefined) {
    try {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: options.ttlAttribute, Enabled: true },
        }),
      );
    } catch (error) {
      throw new JanitorError(`audit table ${tableName}: enabling TTL failed: ${describeError(error)}`, {
        cause: error,
      });
    }
  }
}

function keyText(schema: { AttributeName?: string | undefined; KeyType?: string | undefined }[] | undefined) {
  return (schema ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).join(",");
}

/**
 * Differences that would break the store's queries (problems), the indexes the table lacks
 * (missing, to add) and those still being created (to wait for); billing, encryption etc. are
 * left to the owner.
 */
function tableMismatches(
  expected: CreateTableCommandInput,
  actual: TableDescription | undefined,
): { problems: string[]; missing: GlobalSecondaryIndex[]; creating: string[] } {
  const missing: GlobalSecondaryIndex[] = [];
  const creating: string[] = [];
  if (actual === undefined) return { problems: ["DescribeTable returned no table"], missing, creating };
  const problems: string[] = [];
  if (keyText(expected.KeySchema) !== keyText(actual.KeySchema)) {
    problems.push(`key schema is ${keyText(actual.KeySchema)}, expected ${keyText(expected.KeySchema)}`);
  }
  const actualIndexes = new Map((actual.GlobalSecondaryIndexes ?? []).map((gsi) => [gsi.IndexName, gsi]));
  for (const gsi of expected.GlobalSecondaryIndexes ?? []) {
    const found = actualIndexes.get(gsi.IndexName);
    if (found === undefined) {
      missing.push(gsi);
    } else if (keyText(found.KeySchema) !== keyText(gsi.KeySchema)) {
      problems.push(
        `index ${gsi.IndexName} keys are ${keyText(found.KeySchema)}, expected ${keyText(gsi.KeySchema)}`,
      );
    } else if (found.Projection?.ProjectionType !== gsi.Projection?.ProjectionType) {
      problems.push(
        `index ${gsi.IndexName} projects ${found.Projection?.ProjectionType}, expected ${gsi.Projection?.ProjectionType}`,
      );
    } else if (found.IndexStatus !== undefined && found.IndexStatus !== "ACTIVE") {
      creating.push(String(gsi.IndexName));
    }
  }
  return { problems, missing, creating };
}
