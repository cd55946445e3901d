import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type TableDescription,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { describeError, retry } from "../core/backoff.js";
import { JanitorError } from "../domain/errors.js";

/**
 * The audit table, defined once. `audit init` creates it from `auditTableDefinition`, and the
 * deployment template takes `auditTableCloudFormationProperties`, so a table made by hand for a
 * local run and the deployed one cannot drift apart.
 *
 * Single-table layout, chosen so every compliance question is one or a few Queries, never a Scan:
 *
 * | item   | pk           | sk                   | handshakeId | ruleId | timeKey         | pendingKey |
 * |--------|--------------|----------------------|-------------|--------|-----------------|------------|
 * | run    | RUN#<runId>  | RUN                  | –           | –      | RUN#YYYY-MM     | –          |
 * | action | RUN#<runId>  | ACTION#<handshakeId> | h-…         | rule   | ACTION#YYYY-MM  | PENDING*,  |
 * |        |              |                      |             |        |                 | UNLINKED*  |
 *
 * - The run and its actions share a partition, so "everything about run X" is one Query, and the
 *   (runId, handshakeId) uniqueness the sweep relies on is a plain conditional put on the key.
 * - byHandshake and byRule are sparse (run items carry neither attribute), sorted by `at`, which
 *   serves "history of this handshake" and "what did rule R do between D1 and D2".
 * - byTime buckets by month: a time-range query is one Query per month. A month per partition
 *   keeps each bucket far below DynamoDB's per-partition limits at this write rate (a few items
 *   per hourly run), while a year of history is still only twelve Queries. Runs and actions get
 *   separate buckets so listing runs does not read through every action.
 * - pending holds only what a later run must finish: intents without an outcome (`pendingKey`
 *   PENDING) and final items not yet linked into their run's hash chain (UNLINKED, until the link
 *   removes it; a fault between the two writes leaves it), so finding the residue of a crash or
 *   a fault reads exactly those items.
 * - Projection ALL: items are small and every query returns whole audit rows, so a KEYS_ONLY index
 *   would only add a GetItem per result.
 */
export const AUDIT_INDEXES = {
  byHandshake: "byHandshake",
  byRule: "byRule",
  byTime: "byTime",
  pending: "pending",
} as const;

/**
 * The DynamoDB actions the audit store calls (src/aws/audit/), defined next to the table
 * so the deployment's policy is derived from the same place as the table it grants access to.
 * `audit init` needs CreateTable, DescribeTable and the settings calls too; the function never
 * creates the table, the template does.
 */
export const AUDIT_STORE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:GetItem",
  "dynamodb:Query",
] as const;

/** The subset that reads the global secondary indexes, so needs their ARNs as well as the table's. */
export const AUDIT_INDEX_ACTIONS = [
  "dynamodb:Query",
] as const satisfies readonly (typeof AUDIT_STORE_ACTIONS)[number][];

/**
 * The epoch-seconds expiry attribute, written only when AUDIT_RETENTION_DAYS is set; `audit init`
 * and the template enable TTL on this name, so the writer and the table cannot disagree on it.
 */
export const AUDIT_TTL_ATTRIBUTE = "expiresAt";

export interface AuditTableOptions {
  /**
   * Attribute holding an epoch-seconds expiry. Off by default: an audit trail is kept until
   * someone decides otherwise, and nothing in the janitor writes an expiry.
   */
  ttlAttribute?: string;
}

const STRING_ATTRIBUTES = ["pk", "sk", "handshakeId", "ruleId", "timeKey", "pendingKey", "at"] as const;

function index(name: string, hash: string, range: string): GlobalSecondaryIndex {
  return {
    IndexName: name,
    KeySchema: [
      { AttributeName: hash, KeyType: "HASH" },
      { AttributeName: range, KeyType: "RANGE" },
    ],
    Projection: { ProjectionType: "ALL" },
  };
}

/** CreateTable input for the audit table. Point-in-time recovery and TTL are separate API calls. */
export function auditTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: STRING_ATTRIBUTES.map((name) => ({ AttributeName: name, AttributeType: "S" })),
    KeySchema: [
      { AttributeName: "pk", KeyType: "HASH" },
      { AttributeName: "sk", KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      index(AUDIT_INDEXES.byHandshake, "handshakeId", "at"),
      index(AUDIT_INDEXES.byRule, "ruleId", "at"),
      index(AUDIT_INDEXES.byTime, "timeKey", "at"),
      index(AUDIT_INDEXES.pending, "pendingKey", "at"),
    ],
    // Hourly sweeps and occasional compliance queries: provisioned capacity would sit idle.
    BillingMode: "PAY_PER_REQUEST",
    // Losing the audit trail to a stray `delete-table` is the one mistake this table must survive.
    DeletionProtectionEnabled: true,
    // KMS rather than the default AWS-owned key: each use of the key is logged in CloudTrail, and a
    // customer-managed key can be substituted through the template without a code change.
    SSESpecification: { Enabled: true, SSEType: "KMS" },
  };
}

/** Properties of the AWS::DynamoDB::Table resource, derived from the same definition. */
export function auditTableCloudFormationProperties(
  tableName: string | Record<string, unknown>,
  options: AuditTableOptions = {},
): Record<string, unknown> {
  const definition = auditTableDefinition("placeholder");
  return {
    TableName: tableName,
    AttributeDefinitions: definition.AttributeDefinitions,
    KeySchema: definition.KeySchema,
    GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes,
    BillingMode: definition.BillingMode,
    DeletionProtectionEnabled: definition.DeletionProtectionEnabled,
    // CloudFormation spells the SDK's `Enabled` as `SSEEnabled`.
    SSESpecification: {
      SSEEnabled: definition.SSESpecification?.Enabled,
      SSEType: definition.SSESpecification?.SSEType,
    },
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    ...(options.ttlAttribute === undefined
      ? {}
      : { TimeToLiveSpecification: { AttributeName: options.ttlAttribute, Enabled: true } }),
  };
}

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
    } else if (found.Projection?.ProjectionType !== "ALL") {
      problems.push(`index ${gsi.IndexName} projects ${found.Projection?.ProjectionType}, expected ALL`);
    }
  }
  return problems;
}
