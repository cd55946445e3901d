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
  test("is subscribed by an EventBridge rule to InviteAccountToOrganization calls recorded by CloudTrail", () => {
    const rules = Object.values(template.Resources).filter(
      (r) =>
        r.Type === "AWS::Events::Rule" &&
        JSON.stringify(r.Properties.Targets).includes('"RealtimeLambdaFunction"'),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]?.Properties.EventPattern).toEqual({
      source: ["aws.organizations"],
      "detail-type": ["AWS API Call via CloudTrail"],
      detail: { eventSource: ["organizations.amazonaws.com"], eventName: ["InviteAccountToOrganization"] },
    });
    expect(rules[0]?.Properties.State).toBe("ENABLED");
    const permissions = Object.values(template.Resources).filter(
      (r) =>
        r.Type === "AWS::Lambda::Permission" &&
        JSON.stringify(r.Properties.FunctionName).includes("RealtimeLambdaFunction"),
    );
    expect(permissions.map((p) => p.Properties.Principal)).toEqual(["events.amazonaws.com"]);
  });

  test("runs the same artifact's realtime.js, two at a time, with deliberate async limits", () => {
    const fn = resource("RealtimeLambdaFunction").Properties;
    expect(fn.Handler).toBe("dist/sweep/realtime.handler");
    expect(fn.Runtime).toBe("nodejs24.x");
    expect(fn.ReservedConcurrentExecutions).toBe(2);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JavaScript
    expect(fn.Role).toEqual({ "Fn::Sub": "${RealtimeRole.Arn}" });
    const invoke = resource("RealtimeLambdaEvConf").Properties;
    expect(invoke.MaximumEventAgeInSeconds).toBe(3600);
    expect(invoke.MaximumRetryAttempts).toBe(2);
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    expect(env.AUDIT_TABLE_NAME).toBe(resource("AuditTable").Properties.TableName);
    for (const [id, metric] of [
      ["RealtimeEventsDroppedAlarm", "AsyncEventsDropped"],
      ["RealtimeErrorsAlarm", "Errors"],
    ]) {
      const alarm = resource(id ?? "").Properties;
      expect([alarm.Namespace, alarm.MetricName]).toEqual(["AWS/Lambda", metric]);
      expect(alarm.Dimensions).toEqual([{ Name: "FunctionName", Value: { Ref: "RealtimeLambdaFunction" } }]);
    }
  });

  test("has a role of its own that holds only what it calls", () => {
    const statements = realtimeStatements();
    const actions = statements.flatMap((s) => asList(s.Action));
    for (const action of actions) {
      expect(action).not.toContain("*");
      expect(action).not.toMatch(/:Delete/);
    }
    expect([...new Set(actions.filter((a) => a.startsWith("organizations:")))].sort()).toEqual(
      [...REALTIME_ORGANIZATIONS_ACTIONS].sort(),
    );
    expect(actions).not.toContain("organizations:ListHandshakesForOrganization");
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

  test("leaves the sweep's shared role as it was: the realtime function is not on it", () => {
    const fn = resource("SweepLambdaFunction").Properties;
    expect(fn.Role).toEqual({ "Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"] });
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
