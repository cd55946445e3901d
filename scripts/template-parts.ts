import { APPROVER_KEY_PATTERNS, JANITOR_DENIED_KEY_PREFIXES } from "../src/aws/audit/key-prefixes.js";
import { AUDIT_INDEXES, auditTableCloudFormationProperties } from "../src/aws/audit-table.js";
import {
  AUDIT_INDEX_ACTIONS,
  AUDIT_STORE_ACTIONS,
  CHECKPOINT_ACTIONS,
  ORGANIZATIONS_ACTIONS,
  SNS_ACTIONS,
} from "../src/aws/iam-actions.js";
import {
  INTEGRITY_FINDINGS_METRIC,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  RUN_NOT_COMPLETED_METRIC,
} from "../src/handlers/metric-names.js";

/**
 * The parts of the CloudFormation template that must follow the code: the role's statements
 * (from the action lists the adapters export), the audit table (from the definition `audit init`
 * uses) and the alarm's metric names. serverless.yml takes them through
 * scripts/serverless-template.cjs, so none of them is written twice.
 */

/** CloudFormation logical id of the audit table; the statements refer to it. */
export const AUDIT_TABLE_LOGICAL_ID = "AuditTable";

type OrganizationsAction = (typeof ORGANIZATIONS_ACTIONS)[number];

/**
 * The narrowest resource the service authorizes each action on (Service Authorization Reference,
 * AWS Organizations). A Record over the exported union: a new action in ORGANIZATIONS_ACTIONS does
 * not compile until someone decides its scope here.
 */
const ORGANIZATIONS_SCOPE: Record<OrganizationsAction, "organization" | "handshake"> = {
  // Lists without a resource: IAM accepts only "*" for it.
  "organizations:ListHandshakesForOrganization": "organization",
  "organizations:DescribeHandshake": "handshake",
  "organizations:CancelHandshake": "handshake",
};

/**
 * Handshakes the management account sent, of any organization id and handshake type. The account
 * is the one deploying: only the sender of a handshake can cancel it.
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JavaScript
export const HANDSHAKE_ARN = "arn:${AWS::Partition}:organizations::${AWS::AccountId}:handshake/o-*/*/h-*";

export interface IamStatement {
  Effect: "Allow" | "Deny";
  Action: string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, IamPattern[]>>;
}

/**
 * Every DynamoDB action that writes an item. Denied to the janitor's roles on plan decisions and
 * on acknowledgements of findings, so that nobody holding them can approve a plan the janitor then
 * applies, or acknowledge away a finding (docs/approval.md, docs/audit.md).
 */
const ITEM_WRITE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
];

/**
 * A condition value: a string, or, where it holds an IAM policy variable (`${aws:userid}`), the
 * same string split by Fn::Join so that no `${` reaches the Serverless variable resolver, which
 * would take it for one of its own. CloudFormation joins it back; IAM then resolves the variable.
 */
export type IamPattern = string | { "Fn::Join": [string, string[]] };

function iamPattern(text: string): IamPattern {
  if (!text.includes("${")) return text;
  const parts = text.split("${");
  const last = parts.length - 1;
  return {
    "Fn::Join": ["", parts.map((part, i) => `${i === 0 ? "" : "{"}${part}${i === last ? "" : "$"}`)],
  };
}

/** Items whose partition key begins with one of `prefixes`: `dynamodb:LeadingKeys`. */
function leadingKeys(quantifier: "ForAnyValue" | "ForAllValues", prefixes: readonly string[]) {
  return {
    [`${quantifier}:StringLike`]: { "dynamodb:LeadingKeys": prefixes.map((p) => iamPattern(`${p}*`)) },
  };
}

/** The explicit deny both roles carry: no write on a decision or an acknowledgement, whatever else allows it. */
export function decisionDenyStatement(): IamStatement {
  return {
    Effect: "Deny",
    Action: [...ITEM_WRITE_ACTIONS],
    Resource: { "Fn::GetAtt": [AUDIT_TABLE_LOGICAL_ID, "Arn"] },
    Condition: leadingKeys("ForAnyValue", JANITOR_DENIED_KEY_PREFIXES),
  };
}

export function iamStatements(): IamStatement[] {
  const byScope = (scope: "organization" | "handshake") =>
    ORGANIZATIONS_ACTIONS.filter((action) => ORGANIZATIONS_SCOPE[action] === scope);
  const tableArn = { "Fn::GetAtt": [AUDIT_TABLE_LOGICAL_ID, "Arn"] };
  return [
    { Effect: "Allow", Action: byScope("organization"), Resource: "*" },
    { Effect: "Allow", Action: byScope("handshake"), Resource: { "Fn::Sub": HANDSHAKE_ARN } },
    { Effect: "Allow", Action: [...AUDIT_STORE_ACTIONS], Resource: tableArn },
    checkpointStatement(),
    {
      Effect: "Allow",
      Action: [...AUDIT_INDEX_ACTIONS],
      Resource: Object.values(AUDIT_INDEXES).map((name) => ({
        "Fn::Sub": `\${${AUDIT_TABLE_LOGICAL_ID}.Arn}/index/${name}`,
      })),
    },
    decisionDenyStatement(),
  ];
}

/** CloudFormation logical id of the approvers' managed policy (serverless.yml `resources`). */
export const APPROVER_POLICY_LOGICAL_ID = "ApproverPolicy";

/**
 * What an approver's own principal needs for `plan list`, `plan show`, `approve` and `reject`:
 * read the table and its indexes, and write items under the decision prefix only (the decision,
 * and the finding a refused plan is recorded as). Attach it to the approvers' group or role,
 * never to a principal that also makes plans (docs/approval.md).
 */
export function approverPolicyResource(): Record<string, unknown> {
  const tableArn = { "Fn::GetAtt": [AUDIT_TABLE_LOGICAL_ID, "Arn"] };
  return {
    Type: "AWS::IAM::ManagedPolicy",
    Properties: {
      Description: "handshake-janitor approvers: read the audit table, write plan decisions only",
      PolicyDocument: {
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:Query"], Resource: tableArn },
          {
            Effect: "Allow",
            Action: ["dynamodb:Query"],
            Resource: Object.values(AUDIT_INDEXES).map((name) => ({
              "Fn::Sub": `\${${AUDIT_TABLE_LOGICAL_ID}.Arn}/index/${name}`,
            })),
          },
          {
            Effect: "Allow",
            Action: ["dynamodb:PutItem"],
            Resource: tableArn,
            Condition: leadingKeys("ForAllValues", APPROVER_KEY_PATTERNS),
          },
        ],
      },
    },
  };
}

export interface AuditTableResourceOptions {
  tableName: string;
  /** Empty or undefined: no TTL, the default (see AuditTableOptions). */
  ttlAttribute?: string | undefined;
}

export function auditTableResource(options: AuditTableResourceOptions): Record<string, unknown> {
  return {
    Type: "AWS::DynamoDB::Table",
    // Removing the stack, or a change that would replace the table, must never take the trail with it.
    DeletionPolicy: "Retain",
    UpdateReplacePolicy: "Retain",
    Properties: auditTableCloudFormationProperties(
      options.tableName,
      options.ttlAttribute ? { ttlAttribute: options.ttlAttribute } : {},
    ),
  };
}

/** What the alarm on BLOCKED/FAILED runs reads: see src/handlers/metrics.ts. */
export const RUN_METRIC = {
  namespace: METRICS_NAMESPACE,
  service: METRICS_SERVICE,
  name: RUN_NOT_COMPLETED_METRIC,
  /** What the alarm on integrity findings reads: see src/evidence/findings.ts. */
  findings: INTEGRITY_FINDINGS_METRIC,
} as const;

/**
 * What the realtime function (src/handlers/realtime.ts) calls, and nothing else: it describes and
 * cancels one handshake (never lists the organization), and writes its run, its decision and the
 * handshake's claim (PutItem, UpdateItem, GetItem on the table), and reads two run partitions
 * with Query on the table: the organization's chain head run, checked before it extends the trail
 * (src/evidence/findings.ts), and its own items, for its counts. Its only index read is the
 * pending index, where every run first looks for final items left out of their chains; it does
 * not reconcile other runs' intents, so it reads no other index.
 */
export const REALTIME_ORGANIZATIONS_ACTIONS = [
  "organizations:DescribeHandshake",
  "organizations:CancelHandshake",
] as const satisfies readonly OrganizationsAction[];
export const REALTIME_AUDIT_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:GetItem",
  "dynamodb:Query",
] as const satisfies readonly (typeof AUDIT_STORE_ACTIONS)[number][];
export const REALTIME_AUDIT_INDEX_ACTIONS = [
  "dynamodb:Query",
] as const satisfies readonly (typeof AUDIT_INDEX_ACTIONS)[number][];
export const REALTIME_AUDIT_INDEXES = [AUDIT_INDEXES.pending] as const;

export function realtimeIamStatements(): IamStatement[] {
  return [
    {
      Effect: "Allow",
      Action: [...REALTIME_ORGANIZATIONS_ACTIONS],
      Resource: { "Fn::Sub": HANDSHAKE_ARN },
    },
    {
      Effect: "Allow",
      Action: [...REALTIME_AUDIT_ACTIONS],
      Resource: { "Fn::GetAtt": [AUDIT_TABLE_LOGICAL_ID, "Arn"] },
    },
    {
      Effect: "Allow",
      Action: [...REALTIME_AUDIT_INDEX_ACTIONS],
      Resource: REALTIME_AUDIT_INDEXES.map((name) => ({
        "Fn::Sub": `\${${AUDIT_TABLE_LOGICAL_ID}.Arn}/index/${name}`,
      })),
    },
    checkpointStatement(),
    decisionDenyStatement(),
  ];
}

/** CloudFormation logical id of the checkpoint bucket (serverless.yml `resources`). */
export const CHECKPOINT_BUCKET_LOGICAL_ID = "CheckpointBucket";

/** PutObject on the checkpoint keys of the stack's bucket, and nothing else there. */
function checkpointStatement(): IamStatement {
  return {
    Effect: "Allow",
    Action: [...CHECKPOINT_ACTIONS],
    Resource: { "Fn::Sub": `\${${CHECKPOINT_BUCKET_LOGICAL_ID}.Arn}/checkpoints/*` },
  };
}

/**
 * The checkpoint bucket (docs/checkpoints.md): versioned, Object Lock in COMPLIANCE mode with a
 * default retention of the CheckpointRetentionDays parameter, encrypted, public access blocked,
 * kept when the stack is deleted. Object Lock is set at creation and cannot be turned off.
 */
export function checkpointBucketResource(): Record<string, unknown> {
  return {
    Type: "AWS::S3::Bucket",
    DeletionPolicy: "Retain",
    UpdateReplacePolicy: "Retain",
    Properties: {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: { Ref: "CheckpointRetentionDays" } } },
      },
      VersioningConfiguration: { Status: "Enabled" },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    },
  };
}

/** CloudFormation logical id of the realtime function's role (serverless.yml `resources`). */
export const REALTIME_ROLE_LOGICAL_ID = "RealtimeRole";

/**
 * The realtime function's own role: osls gives every function the one shared role, whose
 * ListHandshakesForOrganization and index reads this function never needs. Logs go only to its
 * own log group (osls creates the group; the role writes streams and events into it).
 */
export function realtimeRoleResource(options: { functionName: string }): Record<string, unknown> {
  const logGroup = `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${options.functionName}`;
  return {
    Type: "AWS::IAM::Role",
    Properties: {
      AssumeRolePolicyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: ["lambda.amazonaws.com"] },
            Action: ["sts:AssumeRole"],
          },
        ],
      },
      Policies: [
        {
          PolicyName: `${options.functionName}-policy`,
          PolicyDocument: {
            Version: "2012-10-17",
            Statement: [
              { Effect: "Allow", Action: ["logs:CreateLogStream"], Resource: { "Fn::Sub": `${logGroup}:*` } },
              { Effect: "Allow", Action: ["logs:PutLogEvents"], Resource: { "Fn::Sub": `${logGroup}:*:*` } },
              ...realtimeIamStatements(),
            ],
          },
        },
      ],
    },
  };
}

/**
 * The run notifications' topic (NOTIFY_TOPIC_ARN). serverless.yml's conditions choose it: an
 * existing topic named by the `notifyTopicArn` param, else one the stack creates
 * (`createNotifyTopic: true`), else none. These logical ids and condition names are the ones
 * serverless.yml declares.
 */
export const NOTIFY = {
  topicLogicalId: "NotifyTopic",
  policyLogicalId: "NotifyPublishPolicy",
  arnParameter: "NotifyTopicArn",
  /** True when the stack creates the topic (asked for, and no existing ARN given). */
  createsCondition: "CreatesNotifyTopic",
  /** True when there is a topic at all, created or given. */
  hasCondition: "HasNotifyTopic",
} as const;

/** The topic's ARN, whichever way it came; only meaningful under HasNotifyTopic. */
export function notifyTopicArnValue(): Record<string, unknown> {
  return {
    "Fn::If": [NOTIFY.createsCondition, { Ref: NOTIFY.topicLogicalId }, { Ref: NOTIFY.arnParameter }],
  };
}

/** NOTIFY_TOPIC_ARN of the function: the topic, or empty (no notifications). */
export function notifyTopicEnvironment(): Record<string, unknown> {
  return { "Fn::If": [NOTIFY.hasCondition, notifyTopicArnValue(), ""] };
}

export function notifyTopicResource(): Record<string, unknown> {
  return {
    Type: "AWS::SNS::Topic",
    Condition: NOTIFY.createsCondition,
    // The digest's subscribers keep the topic; removing the stack must not silence them unnoticed.
    DeletionPolicy: "Retain",
    UpdateReplacePolicy: "Retain",
    Properties: { DisplayName: "handshake-janitor" },
  };
}

/**
 * Publish on that one topic, from SNS_ACTIONS (what src/aws/sns.ts sends), as a policy of its own
 * on the function's role so that it exists only when the topic does.
 */
export function notifyPolicyResource(
  roleLogicalIds: readonly string[] = ["IamRoleLambdaExecution", REALTIME_ROLE_LOGICAL_ID],
): Record<string, unknown> {
  return {
    Type: "AWS::IAM::Policy",
    Condition: NOTIFY.hasCondition,
    Properties: {
      PolicyName: "handshake-janitor-notify",
      Roles: roleLogicalIds.map((id) => ({ Ref: id })),
      PolicyDocument: {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: [...SNS_ACTIONS], Resource: notifyTopicArnValue() }],
      },
    },
  };
}
