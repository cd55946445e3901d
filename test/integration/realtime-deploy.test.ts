import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { PackageResult } from "../../scripts/package.js";
import {
  HANDSHAKE_ARN,
  REALTIME_AUDIT_ACTIONS,
  REALTIME_AUDIT_INDEX_ACTIONS,
  REALTIME_ORGANIZATIONS_ACTIONS,
  REALTIME_QUEUE,
  REALTIME_QUEUE_ACTIONS,
  REALTIME_ROLE_LOGICAL_ID,
} from "../../scripts/template-parts.js";
import { AUDIT_INDEXES } from "../../src/aws/audit-table.js";
import { packagedTemplate } from "../support/packaged.js";

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  Condition?: string;
  DependsOn?: string | string[];
  [key: string]: unknown;
}
interface Template {
  Resources: Record<string, Resource>;
  Conditions?: Record<string, unknown>;
  Parameters?: Record<string, { Default?: unknown; AllowedValues?: unknown }>;
}

let work: string;
let packaged: PackageResult;
let template: Template;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "janitor-realtime-deploy-"));
  // Once per test run: deploy.test.ts reads the same package.
  ({ packaged, template } = await packagedTemplate<Template>({ stage: "prod" }));
}, 240_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function resource(id: string): Resource {
  const found = template.Resources[id];
  if (!found) throw new Error(`no resource ${id} (have ${Object.keys(template.Resources).join(", ")})`);
  return found;
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** What the realtime role allows; its one explicit deny is checked with the sweep's (deploy.test.ts). */
function realtimeStatements(): Statement[] {
  const policies = resource("RealtimeRole").Properties.Policies as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement).filter((s) => s.Effect !== "Deny");
}

describe("the realtime function", () => {
  test("reads InviteAccountToOrganization events from a FIFO queue of one message group that only the rule sends to", () => {
    const q = REALTIME_QUEUE;
    // The function is no EventBridge target any more: the rule sends to the queue alone.
    const rules = Object.entries(template.Resources).filter(([, r]) => r.Type === "AWS::Events::Rule");
    const toFunction = rules.filter(([, r]) =>
      JSON.stringify(r.Properties.Targets).includes(q.functionLogicalId),
    );
    expect(toFunction).toEqual([]);
    const rule = resource(q.ruleLogicalId).Properties;
    expect(rule.EventPattern).toEqual({
      source: ["aws.organizations"],
      "detail-type": ["AWS API Call via CloudTrail"],
      detail: { eventSource: ["organizations.amazonaws.com"], eventName: ["InviteAccountToOrganization"] },
    });
    expect(rule.State).toBe("ENABLED");
    expect(rule.Targets).toEqual([
      {
        Id: expect.any(String),
        Arn: { "Fn::GetAtt": [q.queueLogicalId, "Arn"] },
        SqsParameters: { MessageGroupId: q.messageGroupId },
      },
    ]);
    const permissions = Object.values(template.Resources).filter(
      (r) =>
        r.Type === "AWS::Lambda::Permission" &&
        JSON.stringify(r.Properties.FunctionName).includes(q.functionLogicalId),
    );
    expect(permissions).toEqual([]);

    const queue = resource(q.queueLogicalId).Properties;
    const timeout = resource(q.functionLogicalId).Properties.Timeout as number;
    expect(queue).toMatchObject({
      FifoQueue: true,
      ContentBasedDeduplication: true,
      QueueName: "handshake-janitor-prod-realtime.fifo",
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [q.deadLetterLogicalId, "Arn"] },
        maxReceiveCount: q.maxReceiveCount,
      },
    });
    expect(queue.VisibilityTimeout).toBe(timeout * 6);

    const policies = Object.values(template.Resources).filter((r) => r.Type === "AWS::SQS::QueuePolicy");
    expect(policies).toHaveLength(1);
    expect(policies[0]?.Properties.Queues).toEqual([{ Ref: q.queueLogicalId }]);
    const policy = policies[0]?.Properties.PolicyDocument as { Statement: unknown[] } | undefined;
    expect(policy?.Statement).toEqual([
      {
        Sid: expect.any(String),
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: { "Fn::GetAtt": [q.queueLogicalId, "Arn"] },
        Condition: { ArnEquals: { "aws:SourceArn": { "Fn::GetAtt": [q.ruleLogicalId, "Arn"] } } },
      },
    ]);
  });

  test("takes batches of ten from the queue, answering failures per record, with no batching window", () => {
    const q = REALTIME_QUEUE;
    const mappings = Object.values(template.Resources).filter(
      (r) => r.Type === "AWS::Lambda::EventSourceMapping",
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.Properties).toEqual({
      EventSourceArn: { "Fn::GetAtt": [q.queueLogicalId, "Arn"] },
      FunctionName: { Ref: q.functionLogicalId },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      Enabled: true,
    });
    expect(mappings[0]?.DependsOn).toEqual([REALTIME_ROLE_LOGICAL_ID]);
  });

  test("keeps failed events 14 days in a FIFO dead-letter queue, with an alarm on what waits there", () => {
    const q = REALTIME_QUEUE;
    expect(resource(q.deadLetterLogicalId).Properties).toMatchObject({
      FifoQueue: true,
      MessageRetentionPeriod: 1_209_600,
      QueueName: "handshake-janitor-prod-realtime-dead-letters.fifo",
    });
    const alarm = resource(q.alarmLogicalId).Properties;
    expect(alarm).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [q.deadLetterLogicalId, "QueueName"] } }],
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
    });
    expect(JSON.stringify(alarm.AlarmActions)).toContain("AlarmTopicArn");
  });

  test("runs the same artifact's realtime.js, at most two at a time, with no asynchronous event source", () => {
    const fn = resource("RealtimeLambdaFunction").Properties;
    expect(fn.Handler).toBe("dist/sweep/realtime.handler");
    expect(fn.Runtime).toBe("nodejs24.x");
    expect(fn.ReservedConcurrentExecutions).toBe(2);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JavaScript
    expect(fn.Role).toEqual({ "Fn::Sub": "${RealtimeRole.Arn}" });
    expect(template.Resources.RealtimeLambdaEvConf).toBeUndefined();
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    expect(env.AUDIT_TABLE_NAME).toBe(resource("AuditTable").Properties.TableName);
    const alarm = resource("RealtimeErrorsAlarm").Properties;
    expect([alarm.Namespace, alarm.MetricName]).toEqual(["AWS/Lambda", "Errors"]);
    expect(alarm.Dimensions).toEqual([{ Name: "FunctionName", Value: { Ref: "RealtimeLambdaFunction" } }]);
  });

  test("has a role of its own that holds only what it calls", () => {
    const statements = realtimeStatements();
    const actions = statements.flatMap((s) => asList(s.Action));
    for (const action of actions) {
      expect(action).not.toContain("*");
      // Consuming a message is deleting it from the queue: pinned below to its own queue alone.
      if (action !== "sqs:DeleteMessage") expect(action).not.toMatch(/:Delete/);
    }
    expect([...new Set(actions.filter((a) => a.startsWith("organizations:")))].sort()).toEqual(
      [...REALTIME_ORGANIZATIONS_ACTIONS].sort(),
    );
    expect(actions).not.toContain("organizations:ListHandshakesForOrganization");
    expect([...new Set(actions.filter((a) => a.startsWith("sqs:")))].sort()).toEqual(
      [...REALTIME_QUEUE_ACTIONS].sort(),
    );
    expect([...new Set(actions.filter((a) => a.startsWith("dynamodb:")))].sort()).toEqual(
      [...new Set([...REALTIME_AUDIT_ACTIONS, ...REALTIME_AUDIT_INDEX_ACTIONS])].sort(),
    );
    for (const statement of statements) {
      expect(statement.Effect).toBe("Allow");
      expect(asList(statement.Resource)).not.toContain("*");
      const listed = asList(statement.Action);
      if (listed.some((a) => a.startsWith("organizations:"))) {
        expect(statement.Resource).toEqual({ "Fn::Sub": HANDSHAKE_ARN });
      }
      // Its own queue only: not the dead-letter queue, which only SQS writes and people redrive.
      if (listed.some((a) => a.startsWith("sqs:"))) {
        expect(listed.sort()).toEqual([...REALTIME_QUEUE_ACTIONS].sort());
        expect(statement.Resource).toEqual({ "Fn::GetAtt": [REALTIME_QUEUE.queueLogicalId, "Arn"] });
      }
      // On indexes, Query alone and on the pending index only; on the table, what it writes and reads.
      if (JSON.stringify(statement.Resource).includes("/index/")) {
        expect(listed).toEqual(["dynamodb:Query"]);
        expect(statement.Resource).toEqual([
          { "Fn::Sub": `\${AuditTable.Arn}/index/${AUDIT_INDEXES.pending}` },
        ]);
      } else if (listed.some((a) => a.startsWith("dynamodb:"))) {
        expect(statement.Resource).toEqual({ "Fn::GetAtt": ["AuditTable", "Arn"] });
      }
      if (listed.some((a) => a.startsWith("logs:"))) {
        expect(JSON.stringify(statement.Resource)).toContain(
          ":log-group:/aws/lambda/handshake-janitor-prod-realtime:",
        );
      }
    }
    const trust = resource("RealtimeRole").Properties.AssumeRolePolicyDocument as { Statement: unknown[] };
    expect(trust.Statement).toEqual([
      { Effect: "Allow", Principal: { Service: ["lambda.amazonaws.com"] }, Action: ["sts:AssumeRole"] },
    ]);
  });

  test("leaves the sweep's shared role as it was: the realtime function is not on it, nor its queue", () => {
    const fn = resource("SweepLambdaFunction").Properties;
    expect(fn.Role).toEqual({ "Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"] });
    expect(JSON.stringify(resource("IamRoleLambdaExecution").Properties)).not.toContain("sqs:");
  });

  test("unpacks into a handler that loads with nothing but the zip's own files", async () => {
    const task = join(work, "task");
    await new Promise<void>((resolve, reject) =>
      execFile("unzip", ["-q", packaged.artifactPath, "-d", task], (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    const probe = `import(${JSON.stringify(join(task, "dist/sweep/realtime.js"))}).then((m) => process.stdout.write(typeof m.handler))`;
    const loaded = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ["-e", probe],
        { cwd: task, env: { PATH: process.env.PATH ?? "" } },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    expect(loaded).toBe("function");
  }, 60_000);
});

describe("the optional trail", () => {
  test("is off by default and, when a stage asks, logs management writes to a bucket only CloudTrail writes", () => {
    expect(template.Parameters?.CreateTrail).toMatchObject({
      Default: "false",
      AllowedValues: ["true", "false"],
    });
    expect(template.Conditions?.CreatesTrail).toEqual({ "Fn::Equals": [{ Ref: "CreateTrail" }, "true"] });
    for (const id of ["TrailBucket", "TrailBucketPolicy", "Trail"])
      expect(resource(id).Condition).toBe("CreatesTrail");

    const trail = resource("Trail");
    expect(trail.DependsOn).toEqual(["TrailBucketPolicy"]);
    expect(trail.Properties).toMatchObject({
      IsLogging: true,
      IncludeGlobalServiceEvents: true,
      S3BucketName: { Ref: "TrailBucket" },
      EventSelectors: [{ IncludeManagementEvents: true, ReadWriteType: "WriteOnly" }],
    });
    const policy = resource("TrailBucketPolicy").Properties.PolicyDocument as {
      Statement: {
        Principal: unknown;
        Action: string;
        Condition: { StringEquals: Record<string, unknown> };
      }[];
    };
    expect(policy.Statement.map((s) => s.Action).sort()).toEqual(["s3:GetBucketAcl", "s3:PutObject"]);
    for (const statement of policy.Statement) {
      expect(statement.Principal).toEqual({ Service: "cloudtrail.amazonaws.com" });
      expect(JSON.stringify(statement.Condition.StringEquals["aws:SourceArn"])).toContain(
        ":trail/handshake-janitor-prod",
      );
    }
    const bucket = resource("TrailBucket").Properties;
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });
});
