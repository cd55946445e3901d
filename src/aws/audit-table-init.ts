import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type TableDescription,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { describeError, JanitorError } from "../domain/errors.js";
import { retry } from "../resilience/backoff.js";
import { type AuditTableOptions, auditTableDefinition } from "./audit-table.js";

export interface EnsureAuditTableOptions extends AuditTableOptions {
  /** Upper bound on waiting for the new table to become ACTIVE. */
  maxWaitSeconds?: number;
}

/**
 * Creates the audit table when it is missing and waits until it is ACTIVE. An existing table is
 * left as it is, but must have the keys and indexes the store queries, or this throws: a table
 * that looks right by name but cannot serve the queries would fail much later and less clearly.
 */
export async function ensureAuditTable(
  client: DynamoDBClient,
  tableName: string,
  options: EnsureAuditTableOptions = {},
): Promise<"created" | "exists"> {
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

  const problems = tableMismatches(definition, table);
  if (problems.length > 0) {
    throw new JanitorError(
      `audit table ${tableName} does not match the audit table definition: ${problems.join("; ")}`,
    );
  }
  if (created) await applyTableSettings(client, tableName, options);
  return created ? "created" : "exists";
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

/** Differences that would break the store's queries; billing, encryption etc. are left to the owner. */
function tableMismatches(expected: CreateTableCommandInput, actual: TableDescription | undefined): string[] {
  if (actual === undefined) return ["DescribeTable returned no table"];
  const problems: string[] = [];
  if (keyText(expected.KeySchema) !== keyText(actual.KeySchema)) {
    problems.push(`key schema is ${keyText(actual.KeySchema)}, expected ${keyText(expected.KeySchema)}`);
  }
  const actualIndexes = new Map((actual.GlobalSecondaryIndexes ?? []).map((gsi) => [gsi.IndexName, gsi]));
  for (const gsi of expected.GlobalSecondaryIndexes ?? []) {
    const found = actualIndexes.get(gsi.IndexName);
    if (found === undefined) {
      problems.push(`index ${gsi.IndexName} is missing`);
    } else if (keyText(found.KeySchema) !== keyText(gsi.KeySchema)) {
      problems.push(
        `index ${gsi.IndexName} keys are ${keyText(found.KeySchema)}, expected ${keyText(gsi.KeySchema)}`,
      );
    } else if (found.Projection?.ProjectionType !== gsi.Projection?.ProjectionType) {
      problems.push(
        `index ${gsi.IndexName} projects ${found.Projection?.ProjectionType}, expected ${gsi.Projection?.ProjectionType}`,
      );
    }
  }
  return problems;
}
