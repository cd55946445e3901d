import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BUNDLED_CONFIG_FILE, buildBundle } from "../../scripts/build.js";
import { type PackageResult, packageService } from "../../scripts/package.js";
import { auditTableResource } from "../../scripts/template-parts.js";
import {
  ACK_KEY_PREFIX,
  APPROVER_KEY_PREFIX,
  DECISION_KEY_PREFIX,
  FINDING_KEY_PREFIX,
} from "../../src/aws/audit/key-prefixes.js";
import {
  AUDIT_INDEXES,
  auditTableCloudFormationProperties,
  auditTableDefinition,
} from "../../src/aws/audit-table.js";
import { AUDIT_STORE_ACTIONS, CHECKPOINT_ACTIONS, ORGANIZATIONS_ACTIONS } from "../../src/aws/iam-actions.js";
import { canonicalConfigJson, loadConfig } from "../../src/config/config.js";
import { METRICS_NAMESPACE, RUN_NOT_COMPLETED_METRIC } from "../../src/handlers/metric-names.js";
import { joined } from "../support/leading-keys.js";
import { packagedTemplate } from "../support/packaged.js";
import { exclusively } from "../support/stack.js";

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, (string | { "Fn::Join": [string, string[]] })[]>>;
}
interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown>; [key: string]: unknown }>;
  Conditions?: Record<string, unknown>;
  Parameters?: Record<string, { Default?: unknown }>;
}

let work: string;
let packaged: PackageResult;
let template: Template;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "janitor-deploy-"));
  // Once per test run: realtime-deploy.test.ts reads the same package.
  ({ packaged, template } = await packagedTemplate<Template>({ stage: "prod" }));
}, 240_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The packaged zip unpacked into a directory of its own below `work`, as Lambda unpacks it. */
async function unzipArtifact(name: string): Promise<string> {
  const task = join(work, name);
  await new Promise<void>((resolve, reject) =>
    execFile("unzip", ["-q", packaged.artifactPath, "-d", task], (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  return task;
}

function resource(id: string) {
  const found = template.Resources[id];
  if (!found) throw new Error(`no resource ${id} (have ${Object.keys(template.Resources).join(", ")})`);
  return found;
}

/** What the sweep function's role allows (its explicit denies apart: see denied()). */
function statements(): Statement[] {
  return roleStatements("IamRoleLambdaExecution").filter((s) => s.Effect === "Allow");
}

function roleStatements(role: string): Statement[] {
  const policies = resource(role).Properties.Policies as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/**
 * SDK commands a module imports, as IAM actions: `PutItemCommand` from client-dynamodb -> dynamodb:PutItem.
 * `file` is one source file, or a folder whose .ts files are read together.
 */
async function commandsSent(file: string, sdkPackage: string, service: string): Promise<string[]> {
  const url = new URL(`../../${file}`, import.meta.url);
  const files = (await stat(url)).isDirectory()
    ? (await readdir(url))
        .filter((name) => name.endsWith(".ts"))
        .map((name) => new URL(`../../${file}/${name}`, import.meta.url))
    : [url];
  const source = (await Promise.all(files.map((path) => readFile(path, "utf8")))).join("\n");
  const imports = [...source.matchAll(new RegExp(`import\\s*\\{([^}]*)\\}\\s*from\\s*"${sdkPackage}"`, "g"))]
    .map((match) => match[1] ?? "")
    .join(",");
  const commands = [...imports.matchAll(/(?<!type\s)\b(\w+)Command\b/g)].map((m) => m[1] ?? "");
  // IAM has no TransactWriteItems action: each item of a transaction is authorised as the
  // operation it performs, so the transaction stands for the item kinds the source builds.
  const perItem = {
    Put: "PutItem",
    Update: "UpdateItem",
    Delete: "DeleteItem",
    ConditionCheck: "ConditionCheckItem",
  };
  const expanded = commands.flatMap((command) =>
    command === "TransactWriteItems"
      ? Object.entries(perItem)
          .filter(([kind]) => new RegExp(`\\b${kind}:\\s*\\{`).test(source))
          .map(([, action]) => action)
      : [command],
  );
  return [...new Set(expanded)].map((action) => `${service}:${action}`).sort();
}

describe("plan decisions and acknowledgements of findings", () => {
  const tableArn = { "Fn::GetAtt": ["AuditTable", "Arn"] };
  const writes = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
  ];

  test.each(["IamRoleLambdaExecution", "RealtimeRole"])(
    "%s is denied every item write under the keys the code writes decisions and acknowledgements under",
    (role) => {
      const denies = roleStatements(role).filter((s) => s.Effect === "Deny");
      expect(denies).toHaveLength(1);
      const [deny] = denies;
      expect([...asList(deny?.Action ?? [])].sort()).toEqual([...writes].sort());
      expect(deny?.Resource).toEqual(tableArn);
      expect(deny?.Condition).toEqual({
        "ForAnyValue:StringLike": {
          "dynamodb:LeadingKeys": [
            `${DECISION_KEY_PREFIX}*`,
            `${APPROVER_KEY_PREFIX}*`,
            `${ACK_KEY_PREFIX}*`,
          ],
        },
      });
    },
  );

  test("the approvers' policy reads the table and writes only decisions, its own attestations and findings, and is an output", () => {
    const policy = resource("ApproverPolicy");
    expect(policy.Type).toBe("AWS::IAM::ManagedPolicy");
    const granted = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(granted.every((s) => s.Effect === "Allow")).toBe(true);
    const writing = granted.filter((s) => asList(s.Action).some((a) => !/:(GetItem|Query)$/.test(a)));
    expect(writing.map(({ Condition, ...rest }) => rest)).toEqual([
      { Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: tableArn },
    ]);
    const conditions = Object.entries(writing[0]?.Condition ?? {});
    expect(conditions.map(([operator, keys]) => [operator, Object.keys(keys)])).toEqual([
      ["ForAllValues:StringLike", ["dynamodb:LeadingKeys"]],
    ]);
    // As CloudFormation joins them: the attestation under the caller's own id only.
    expect(conditions[0]?.[1]["dynamodb:LeadingKeys"]?.map(joined)).toEqual([
      `${DECISION_KEY_PREFIX}*`,
      `${APPROVER_KEY_PREFIX}\${aws:userid}#*`,
      `${FINDING_KEY_PREFIX}*`,
    ]);
    const outputs = (template as unknown as { Outputs: Record<string, { Value: unknown }> }).Outputs;
    expect(outputs.ApproverPolicyArn?.Value).toEqual({ Ref: "ApproverPolicy" });
  });
});

describe("the role", () => {
  test("allows only the actions the adapters send, no wildcard action and no Delete", async () => {
    const actions = statements().flatMap((s) => asList(s.Action));
    for (const action of actions) {
      expect(action).not.toContain("*");
      expect(action).not.toMatch(/:Delete/);
      expect(action).toMatch(/^(organizations|dynamodb|logs|s3):/);
    }
    const granted = (service: string) =>
      [...new Set(actions.filter((a) => a.startsWith(`${service}:`)))].sort();
    expect(granted("organizations")).toEqual([...ORGANIZATIONS_ACTIONS].sort());
    expect(granted("dynamodb")).toEqual([...AUDIT_STORE_ACTIONS].sort());
    expect(granted("s3")).toEqual([...CHECKPOINT_ACTIONS].sort());
    // The exported lists are what the code really sends.
    expect(await commandsSent("src/aws/audit", "@aws-sdk/client-dynamodb", "dynamodb")).toEqual(
      [...AUDIT_STORE_ACTIONS].sort(),
    );
    expect(
      await commandsSent("src/aws/organizations.ts", "@aws-sdk/client-organizations", "organizations"),
    ).toEqual([...ORGANIZATIONS_ACTIONS].sort());
  });

  test("uses '*' only for the action that has no resource type", () => {
    for (const statement of statements()) {
      const actions = asList(statement.Action);
      if (asList(statement.Resource).includes("*")) {
        expect(actions).toEqual(["organizations:ListHandshakesForOrganization"]);
      }
    }
  });

  test("scopes DescribeHandshake and CancelHandshake to the account's handshakes", () => {
    for (const action of ["organizations:DescribeHandshake", "organizations:CancelHandshake"]) {
      const holders = statements().filter((s) => asList(s.Action).includes(action));
      expect(holders).toHaveLength(1);
      expect(holders[0]?.Resource).toEqual({
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JavaScript
        "Fn::Sub": "arn:${AWS::Partition}:organizations::${AWS::AccountId}:handshake/o-*/*/h-*",
      });
    }
  });

  test("grants DynamoDB on the audit table and its indexes only, index reads only for Query", () => {
    const tableArn = { "Fn::GetAtt": ["AuditTable", "Arn"] };
    const indexArns = Object.values(AUDIT_INDEXES).map((name) => ({
      "Fn::Sub": `\${AuditTable.Arn}/index/${name}`,
    }));
    for (const statement of statements().filter((s) =>
      asList(s.Action).some((a) => a.startsWith("dynamodb:")),
    )) {
      for (const target of asList(statement.Resource)) {
        if (JSON.stringify(target) === JSON.stringify(tableArn)) continue;
        expect(indexArns).toContainEqual(target);
        expect(asList(statement.Action)).toEqual(["dynamodb:Query"]);
      }
    }
    const onIndexes = statements().find((s) =>
      asList(s.Resource).some((r) => JSON.stringify(r).includes("/index/")),
    );
    expect(asList(onIndexes?.Resource)).toEqual(indexArns);
  });

  test("writes logs only to the function's own log group", () => {
    for (const statement of statements().filter((s) => asList(s.Action).some((a) => a.startsWith("logs:")))) {
      for (const target of asList(statement.Resource)) {
        expect(JSON.stringify(target)).toContain(":log-group:/aws/lambda/handshake-janitor-prod");
      }
    }
  });
});

describe("the audit table", () => {
  test("is the definition `audit init` uses, retained and protected", () => {
    const table = resource("AuditTable");
    const tableName = "handshake-janitor-prod-audit";
    expect(table.Type).toBe("AWS::DynamoDB::Table");
    expect(table.Properties).toEqual(auditTableCloudFormationProperties(tableName));
    const created = auditTableDefinition(tableName);
    expect(table.Properties.KeySchema).toEqual(created.KeySchema);
    expect(table.Properties.AttributeDefinitions).toEqual(created.AttributeDefinitions);
    expect(table.Properties.GlobalSecondaryIndexes).toEqual(created.GlobalSecondaryIndexes);
    expect(table.Properties.BillingMode).toBe(created.BillingMode);
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: "KMS" });
    expect(table.DeletionPolicy).toBe("Retain");
    expect(table.UpdateReplacePolicy).toBe("Retain");
    expect(table.Properties.TimeToLiveSpecification).toBeUndefined();
  });

  test("gets TTL only when a stage names the attribute", () => {
    const properties = auditTableResource({ tableName: "t", ttlAttribute: "expiresAt" }).Properties as Record<
      string,
      unknown
    >;
    expect(properties.TimeToLiveSpecification).toEqual({ AttributeName: "expiresAt", Enabled: true });
  });
});

describe("the checkpoint bucket", () => {
  test("is versioned, under Object Lock in compliance mode for the retention parameter, encrypted, private and retained", () => {
    const bucket = resource("CheckpointBucket");
    expect(bucket.Type).toBe("AWS::S3::Bucket");
    expect(bucket.DeletionPolicy).toBe("Retain");
    expect(bucket.UpdateReplacePolicy).toBe("Retain");
    expect(bucket.Properties.ObjectLockEnabled).toBe(true);
    expect(bucket.Properties.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: "Enabled",
      Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: { Ref: "CheckpointRetentionDays" } } },
    });
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(bucket.Properties.BucketEncryption).toBeDefined();
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const parameter = (
      template as unknown as { Parameters: Record<string, { Type: string; MinValue: number }> }
    ).Parameters.CheckpointRetentionDays;
    expect(parameter?.Type).toBe("Number");
    expect(parameter?.MinValue).toBe(1);
  });

  test("takes PutObject from both roles on its checkpoint keys, and nothing that deletes, overwrites a retention or unlocks", () => {
    const realtime = (
      resource("RealtimeRole").Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]
    ).flatMap((p) => p.PolicyDocument.Statement);
    for (const role of [statements(), realtime]) {
      const s3 = role.filter((statement) =>
        asList(statement.Action).some((action) => action.startsWith("s3:")),
      );
      expect(s3.map((statement) => [asList(statement.Action), statement.Resource])).toEqual([
        [
          ["s3:PutObject"],
          // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JavaScript
          { "Fn::Sub": "${CheckpointBucket.Arn}/checkpoints/*" },
        ],
      ]);
    }
    for (const fn of ["SweepLambdaFunction", "RealtimeLambdaFunction"]) {
      const variables = (resource(fn).Properties.Environment as { Variables: Record<string, unknown> })
        .Variables;
      expect(variables.AUDIT_CHECKPOINT_BUCKET).toEqual({ Ref: "CheckpointBucket" });
    }
  });
});

describe("the function", () => {
  test("runs the bundle on nodejs24.x/arm64, one at a time, without async retries", () => {
    const fn = resource("SweepLambdaFunction").Properties;
    expect(fn.Runtime).toBe("nodejs24.x");
    expect(fn.Architectures).toEqual(["arm64"]);
    expect(fn.ReservedConcurrentExecutions).toBe(1);
    expect(resource("SweepLambdaEvConf").Properties.MaximumRetryAttempts).toBe(0);
    // The handler keeps 20 s for writing outcomes; the timeout must leave real work time before that.
    expect(fn.Timeout as number).toBeGreaterThanOrEqual(120);
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    expect(Object.keys(env).sort()).toEqual(
      [
        "AUDIT_TABLE_NAME",
        "AUDIT_CHECKPOINT_BUCKET",
        "JANITOR_CONFIG",
        "POWERTOOLS_LOGGER_SAMPLE_RATE",
        "NOTIFY_TOPIC_ARN",
      ].sort(),
    );
    expect(env.AUDIT_TABLE_NAME).toBe(resource("AuditTable").Properties.TableName);
    expect(resource("SweepLogGroup").Properties.RetentionInDays).toEqual(expect.any(Number));
  });

  test("is scheduled hourly by EventBridge", () => {
    const rule = resource("SweepEventsRuleSchedule1").Properties;
    expect(rule.ScheduleExpression).toBe("rate(1 hour)");
    expect(rule.State).toBe("ENABLED");
  });

  test("ships a bundle under 1 MB with the config it reads", async () => {
    expect((await stat(packaged.artifactPath)).size).toBeLessThan(1024 * 1024);
    const zip = await readFile(packaged.artifactPath);
    const fn = resource("SweepLambdaFunction").Properties;
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    const handlerFile = `${String(fn.Handler).replace(/\.[^.]+$/, "")}.js`;
    // Zip entry names are stored uncompressed in the central directory.
    expect(zip.includes(Buffer.from(handlerFile))).toBe(true);
    expect(zip.includes(Buffer.from(String(env.JANITOR_CONFIG)))).toBe(true);
    expect(zip.includes(Buffer.from("node_modules/"))).toBe(false);
  });

  test("ships the stage's YAML config as JSON that reads as the same config", async () => {
    const task = await unzipArtifact("config-task");
    const fn = resource("SweepLambdaFunction").Properties;
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    const shipped = join(task, String(env.JANITOR_CONFIG));
    // The prod stage's `config` param is the repository's default config.
    const source = fileURLToPath(new URL("../../config/janitor.yaml", import.meta.url));

    const text = await readFile(shipped, "utf8");

    expect(shipped.endsWith(".json")).toBe(true);
    expect(() => JSON.parse(text)).not.toThrow();
    expect(canonicalConfigJson(await loadConfig(shipped))).toBe(
      canonicalConfigJson(await loadConfig(source)),
    );
  });

  test("unpacks into a handler that loads with nothing but the zip's own files and keeps its error names", async () => {
    // As Lambda does: unzip into an empty directory and import the handler from there. A chunk
    // left out of the package, or an import of a module that is not bundled, fails here. Lambda
    // reports a failed invocation by the error's name: a malformed event must still be a
    // ConfigError in the bundle (a minifier that renamed classes would break that).
    const task = await unzipArtifact("task");
    const fn = resource("SweepLambdaFunction").Properties;
    const [file, exported] = [
      String(fn.Handler).replace(/\.[^.]+$/, ".js"),
      String(fn.Handler).split(".").pop(),
    ];
    const context = { awsRequestId: "probe-1", functionName: "handshake-janitor-prod-sweep" };
    const probe = `
      const m = await import(${JSON.stringify(join(task, file))});
      const handler = m[${JSON.stringify(exported)}];
      const context = { ...${JSON.stringify(context)}, getRemainingTimeInMillis: () => 300000 };
      const result = { type: typeof handler };
      await handler({ dryRun: "yes" }, context).then(
        () => { result.error = "none"; },
        (error) => { result.error = error.name; result.message = error.message; },
      );
      process.stderr.write("PROBE " + JSON.stringify(result) + "\\n");`;
    const printed = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ["--input-type=module", "-e", probe],
        { cwd: task, env: { PATH: process.env.PATH ?? "", POWERTOOLS_LOG_LEVEL: "SILENT" } },
        (error, _stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stderr),
      ),
    );
    const line = printed.split("\n").find((text) => text.startsWith("PROBE ")) ?? "PROBE {}";
    const result = JSON.parse(line.slice("PROBE ".length)) as {
      type?: string;
      error?: string;
      message?: string;
    };
    expect(result.type).toBe("function");
    expect(result.error).toBe("ConfigError");
    expect(result.message).toContain("event.dryRun");
  }, 60_000);
});

describe("the alarms", () => {
  test("watch function errors and the runs the janitor reports BLOCKED or FAILED", () => {
    const errors = resource("SweepErrorsAlarm").Properties;
    expect([errors.Namespace, errors.MetricName]).toEqual(["AWS/Lambda", "Errors"]);
    const runs = resource("RunNotCompletedAlarm").Properties;
    expect([runs.Namespace, runs.MetricName]).toEqual([METRICS_NAMESPACE, RUN_NOT_COMPLETED_METRIC]);
    for (const alarm of [errors, runs]) {
      for (const actions of [alarm.AlarmActions, alarm.OKActions]) {
        expect(actions).toEqual({
          "Fn::If": ["HasAlarmTopic", [{ Ref: "AlarmTopicArn" }], { Ref: "AWS::NoValue" }],
        });
      }
    }
    expect(template.Conditions?.HasAlarmTopic).toEqual({
      "Fn::Not": [{ "Fn::Equals": [{ Ref: "AlarmTopicArn" }, ""] }],
    });
    // Notifications are off unless a stage names a topic.
    expect(template.Parameters?.AlarmTopicArn?.Default).toBe("");
  });
});

describe("cfn-lint", () => {
  // The real CloudFormation linter (Python cfn-lint, part of this machine's image). One run over
  // every template: the package's, the one with the notification topic (deploy-notify.test.ts),
  // and a broken copy that shows the linter does check.
  test("finds nothing wrong in the packaged templates, and does find a runtime Lambda does not have", async () => {
    const { packaged: withTopic } = await packagedTemplate({
      stage: "prod",
      params: { createNotifyTopic: "true" },
    });
    const broken = structuredClone(template);
    const fn = broken.Resources.SweepLambdaFunction;
    if (!fn) throw new Error("no SweepLambdaFunction");
    fn.Properties.Runtime = "nodejs99.x";
    const brokenPath = join(work, "broken-template.json");
    await writeFile(brokenPath, JSON.stringify(broken));
    const files = [packaged.templatePath, withTopic.templatePath, brokenPath];

    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        "cfn-lint",
        ["--format", "parseable", ...files],
        { timeout: 120_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
          resolve({ code, output: `${stdout}${stderr}` });
        },
      );
    });

    // Each finding is one line starting with its file's path.
    const lines = result.output.split("\n").filter((line) => line !== "");
    expect(lines.filter((line) => !line.startsWith(`${brokenPath}:`))).toEqual([]);
    expect(lines.some((line) => line.includes("nodejs99.x"))).toBe(true);
    expect(result.code).not.toBe(0);
  }, 120_000);
});

describe("packaging", () => {
  test("writes a YAML 1.1 config's bare dates as the dates they are", async () => {
    const yaml11 = join(work, "yaml11.yaml");
    await writeFile(
      yaml11,
      "%YAML 1.1\n---\nversion: 1\nrules:\n  - id: old\n    type: stale\n    olderThanDays: 30\n" +
        "exemptions:\n  - email: '*@example.com'\n    reason: partner\n    until: 2026-03-01\n",
    );
    const outDir = join(work, "yaml11-build");

    await buildBundle({ configPath: yaml11, outDir });

    const shipped = JSON.parse(await readFile(join(outDir, BUNDLED_CONFIG_FILE), "utf8"));
    expect(shipped.exemptions[0].until).toBe("2026-03-01");
    expect((await loadConfig(join(outDir, BUNDLED_CONFIG_FILE))).exemptions[0]?.until).toBe("2026-03-01");
  }, 120_000);

  test("fails with the config's own error lines when the rules config is invalid", async () => {
    const bad = join(work, "bad.yaml");
    await writeFile(bad, "version: 1\nrules:\n  - id: old\n    type: stale\n    olderThanDays: 0\n");

    const result = await exclusively("dist/sweep", () =>
      packageService({
        stage: "prod",
        configPath: bad,
        outDir: join(work, "bad-package"),
      }),
    );

    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`${bad}: rules[0].olderThanDays: must be greater than 0`);
    await expect(stat(result.templatePath)).rejects.toThrow();
  }, 120_000);
});
