/**
 * The IAM actions each adapter calls. The deployment's policy is derived from these lists
 * (scripts/template-parts.ts) and grants nothing else. They import nothing, so the template is
 * built without loading an SDK client.
 */

/** What src/aws/organizations.ts calls. */
export const ORGANIZATIONS_ACTIONS = [
  "organizations:ListHandshakesForOrganization",
  "organizations:DescribeHandshake",
  "organizations:CancelHandshake",
] as const;

/**
 * What the audit store calls (src/aws/audit/). `audit init` needs CreateTable, DescribeTable and
 * the settings calls too; the function never creates the table, the template does.
 */
export const AUDIT_STORE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:GetItem",
  "dynamodb:Query",
  // The ledger reads the records of handshakes its listed index does not hold (src/aws/audit/ledger.ts).
  "dynamodb:BatchGetItem",
  // The fence's transaction checks the lease item without writing it (src/aws/audit/fence.ts).
  "dynamodb:ConditionCheckItem",
] as const;

/** The subset that reads the global secondary indexes, so needs their ARNs as well as the table's. */
export const AUDIT_INDEX_ACTIONS = [
  "dynamodb:Query",
] as const satisfies readonly (typeof AUDIT_STORE_ACTIONS)[number][];

/**
 * What a run sends to the checkpoint bucket (src/aws/checkpoints.ts): one PutObject per live run,
 * on the bucket's checkpoint keys only. Nothing that deletes an object or a version, changes or
 * bypasses a retention, or touches the bucket's lock configuration; reading them back is for
 * `audit verify`, run with the auditor's own credentials.
 */
export const CHECKPOINT_ACTIONS = ["s3:PutObject"] as const;

/** What the notifier calls (src/aws/sns.ts); the policy grants it on the topic only. */
export const SNS_ACTIONS = ["sns:Publish"] as const;
