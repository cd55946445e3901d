import type { CreateTableCommandInput, GlobalSecondaryIndex } from "@aws-sdk/client-dynamodb";

/**
 * The audit table, defined once. `audit init` creates it from `auditTableDefinition`
 * (audit-table-init.ts), and the deployment template takes `auditTableCloudFormationProperties`,
 * so a table made by hand for a local run and the deployed one cannot drift apart. Definitions
 * only: the template is built from this file without loading the SDK.
 *
 * Single-table layout, chosen so every compliance question is one or a few Queries, never a Scan:
 *
 * | item   | pk           | sk                   | handshakeId | ruleId | timeKey         | pendingKey |
 * |--------|--------------|----------------------|-------------|--------|-----------------|------------|
 * | run    | RUN#<runId>  | RUN                  | –           | –      | RUN#YYYY-MM     | –          |
 * | action | RUN#<runId>  | ACTION#<handshakeId> | h-…         | rule   | ACTION#YYYY-MM  | PENDING*,  |
 * |        |              |                      |             |        |                 | UNLINKED*  |
 *
 * The handshake ledger (src/aws/audit/ledger.ts) keeps to attributes of its own, so none of the
 * indexes above ever returns a ledger item:
 *
 * | item          | pk                   | sk                | popKey / popAt            | listedKey / ledgerId | ledgerKey / at          |
 * |---------------|----------------------|-------------------|---------------------------|----------------------|-------------------------|
 * | ledger record | LEDGER#<handshakeId> | STATE             | POP#YYYY-MM / requestedAt | LISTED* / h-…        | –                       |
 * | ledger entry  | RUN#<runId>          | LEDGER#<seq, 9 digits> | –                    | –                    | LEDGER#<handshakeId> / at |
 * | coverage      | LEDGER               | COVERAGE          | –                         | LISTED / #coverage   | –                       |
 *
 * - population serves `audit handshakes` (a period is one Query per month of requestedAt);
 *   listed (sparse: only records not gone, state projected) is what a sweep reads to find what
 *   changed; lifecycle serves `audit handshake h-…`.
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
  /** The ledger (docs/audit.md): every handshake seen, by the month it was requested. */
  population: "population",
  /** The ledger: the handshakes still in the service's listing as last seen, with their state only. */
  listed: "listed",
  /** The ledger: one handshake's entries, in time. */
  lifecycle: "lifecycle",
} as const;

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

const STRING_ATTRIBUTES = [
  "pk",
  "sk",
  "handshakeId",
  "ruleId",
  "timeKey",
  "pendingKey",
  "at",
  "popKey",
  "popAt",
  "listedKey",
  "ledgerId",
  "ledgerKey",
] as const;

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
      index(AUDIT_INDEXES.population, "popKey", "popAt"),
      // A sweep reads the whole of it to know what changed: only the state it compares is projected.
      {
        ...index(AUDIT_INDEXES.listed, "listedKey", "ledgerId"),
        Projection: {
          ProjectionType: "INCLUDE",
          NonKeyAttributes: ["state", "verdict", "verdictRule", "goneAt"],
        },
      },
      index(AUDIT_INDEXES.lifecycle, "ledgerKey", "at"),
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
