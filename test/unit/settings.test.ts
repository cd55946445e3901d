import { describe, expect, test } from "vitest";
import { createClients } from "../../src/aws/clients.js";
import { ConfigError } from "../../src/domain/errors.js";
import { loadSettings, parseSettings, parseTableSettings, requireTable } from "../../src/settings.js";

describe("settings", () => {
  test("every variable has its default when the environment is empty", () => {
    expect(parseSettings({})).toEqual({
      settings: {
        auditTableName: undefined,
        auditRetentionDays: undefined,
        janitorConfig: undefined,
        notifyTopicArn: undefined,
        region: "us-east-1",
        endpoints: {},
        functionName: "local",
        fencing: { marginMs: 20_000, connectTimeoutMs: 3_000, requestTimeoutMs: 10_000, leaseMs: 60_000 },
      },
      issues: [],
    });
  });

  test("carry no secret: access keys in the environment are left to the SDK's own chain", () => {
    const keys = {
      AUDIT_TABLE_NAME: "janitor-audit",
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret-example",
      AWS_SESSION_TOKEN: "token-example",
    };
    const { settings, issues } = parseSettings(keys);
    expect(issues).toEqual([]);
    const text = JSON.stringify(settings);
    for (const secret of ["AKIDEXAMPLE", "secret-example", "token-example"])
      expect(text).not.toContain(secret);
    expect(settings).toEqual(parseSettings({ AUDIT_TABLE_NAME: "janitor-audit" }).settings);
  });

  test("blank values are absent, like unset ones", () => {
    const blank = Object.fromEntries(
      [
        "AUDIT_TABLE_NAME",
        "AUDIT_RETENTION_DAYS",
        "JANITOR_CONFIG",
        "NOTIFY_TOPIC_ARN",
        "AWS_REGION",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_LAMBDA_FUNCTION_NAME",
      ].map((name) => [name, "  "]),
    );
    expect(parseSettings(blank)).toEqual(parseSettings({}));
  });

  test("reads every variable, trimmed", () => {
    const settings = loadSettings({
      AUDIT_TABLE_NAME: " handshake-janitor-prod-audit ",
      AUDIT_RETENTION_DAYS: "400",
      JANITOR_CONFIG: "/etc/janitor.yaml",
      NOTIFY_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:team",
      AWS_REGION: "eu-central-1",
      AWS_DEFAULT_REGION: "us-west-2",
      AWS_ENDPOINT_URL_ORGANIZATIONS: "http://127.0.0.1:4000",
      AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:4001",
      AWS_ENDPOINT_URL_SNS: "https://sns.example",
      AWS_LAMBDA_FUNCTION_NAME: "handshake-janitor-prod-sweep",
      JANITOR_FENCE_MARGIN_MS: " 9000 ",
      JANITOR_CONNECT_TIMEOUT_MS: "1000",
      JANITOR_REQUEST_TIMEOUT_MS: "4000",
      JANITOR_LEASE_MS: "18000",
    });
    expect(settings).toEqual({
      auditTableName: "handshake-janitor-prod-audit",
      auditRetentionDays: 400,
      janitorConfig: "/etc/janitor.yaml",
      notifyTopicArn: "arn:aws:sns:eu-west-1:123456789012:team",
      region: "eu-central-1",
      endpoints: {
        organizations: "http://127.0.0.1:4000",
        dynamodb: "http://127.0.0.1:4001",
        sns: "https://sns.example",
      },
      functionName: "handshake-janitor-prod-sweep",
      fencing: { marginMs: 9_000, connectTimeoutMs: 1_000, requestTimeoutMs: 4_000, leaseMs: 18_000 },
    });
  });

  test("the fencing margin must exceed one attempt's timeouts, and the lease twice the margin", () => {
    expect(
      parseSettings({
        JANITOR_FENCE_MARGIN_MS: "5000",
        JANITOR_REQUEST_TIMEOUT_MS: "5000",
        JANITOR_LEASE_MS: "9000",
      }).issues,
    ).toEqual([
      "JANITOR_FENCE_MARGIN_MS: 5000 must exceed JANITOR_CONNECT_TIMEOUT_MS + JANITOR_REQUEST_TIMEOUT_MS (8000), the longest one CancelHandshake attempt may take",
      "JANITOR_LEASE_MS: 9000 must be at least twice JANITOR_FENCE_MARGIN_MS (10000), or a renewed lease would not have M left",
    ]);
    expect(parseSettings({ JANITOR_FENCE_MARGIN_MS: "soon", JANITOR_LEASE_MS: "0" }).issues).toEqual([
      "JANITOR_FENCE_MARGIN_MS: 'soon' is not a whole number of milliseconds greater than 0",
      "JANITOR_LEASE_MS: '0' is not a whole number of milliseconds greater than 0",
    ]);
  });

  test("the clients' request handler takes the timeouts the fencing margin outlasts", async () => {
    const clients = createClients(
      parseSettings({ JANITOR_CONNECT_TIMEOUT_MS: "1500", JANITOR_REQUEST_TIMEOUT_MS: "2500" }).settings,
    );
    const sns = await clients.sns();
    try {
      // The SNS client is built on first use, as a notification needs it, and then once.
      expect(await clients.sns()).toBe(sns);
      for (const client of [clients.organizations, clients.dynamodb, sns]) {
        const handler = client.config.requestHandler as unknown as {
          configProvider: Promise<{
            connectionTimeout?: number;
            requestTimeout?: number;
            throwOnRequestTimeout?: boolean;
          }>;
        };
        expect(await handler.configProvider).toMatchObject({
          connectionTimeout: 1500,
          requestTimeout: 2500,
          throwOnRequestTimeout: true,
        });
      }
    } finally {
      clients.organizations.destroy();
      clients.dynamodb.destroy();
      sns.destroy();
    }
  });

  test("AUDIT_CHECKPOINT_BUCKET names the checkpoint bucket, AWS_ENDPOINT_URL_S3 its endpoint; a bad name is one line", () => {
    const { settings } = parseSettings({
      AUDIT_CHECKPOINT_BUCKET: "org-audit-checkpoints",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9000",
    });
    const bad = parseSettings({ AUDIT_CHECKPOINT_BUCKET: "Not_A_Bucket" });

    expect(settings.checkpointBucket).toBe("org-audit-checkpoints");
    expect(settings.endpoints.s3).toBe("http://127.0.0.1:9000");
    expect(parseSettings({}).settings.checkpointBucket).toBeUndefined();
    expect(bad.issues).toEqual([
      'AUDIT_CHECKPOINT_BUCKET: "Not_A_Bucket" is not an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)',
    ]);
    expect(bad.settings.checkpointBucket).toBeUndefined();
  });

  test("AWS_DEFAULT_REGION is the region when AWS_REGION is unset", () => {
    expect(loadSettings({ AWS_DEFAULT_REGION: "ap-southeast-2" }).region).toBe("ap-southeast-2");
  });

  test("every problem is one line naming its variable, all of them at once", () => {
    const env = {
      AUDIT_TABLE_NAME: "a b",
      AUDIT_RETENTION_DAYS: "0",
      NOTIFY_TOPIC_ARN: "topic-name",
      AWS_REGION: "US EAST",
      AWS_ENDPOINT_URL_ORGANIZATIONS: "127.0.0.1:4000",
      AWS_ENDPOINT_URL_DYNAMODB: "file:///etc/passwd",
      AWS_ENDPOINT_URL_SNS: "not a url\nsecond line",
    };
    const error = (() => {
      try {
        loadSettings(env);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      "AUDIT_TABLE_NAME: 'a b' is not a valid DynamoDB table name",
      "AUDIT_RETENTION_DAYS: '0' is not a whole number of days greater than 0",
      'NOTIFY_TOPIC_ARN: "topic-name" is not the ARN of a standard SNS topic (arn:aws:sns:REGION:ACCOUNT:NAME)',
      'AWS_REGION: "US EAST" is not an AWS region (like us-east-1)',
      'AWS_ENDPOINT_URL_ORGANIZATIONS: "127.0.0.1:4000" is not an http or https URL',
      'AWS_ENDPOINT_URL_DYNAMODB: "file:///etc/passwd" is not an http or https URL',
      'AWS_ENDPOINT_URL_SNS: "not a url\\nsecond line" is not an http or https URL',
    ]);
    // A value that is wrong is never used.
    const { settings } = parseSettings(env);
    expect([settings.auditTableName, settings.auditRetentionDays, settings.notifyTopicArn]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(settings.endpoints).toEqual({});
    expect(settings.region).toBe("us-east-1");
  });

  test.each(["1.5", "-3", "thirty", "07"])("AUDIT_RETENTION_DAYS %s is refused", (value) => {
    expect(parseSettings({ AUDIT_RETENTION_DAYS: value }).issues).toEqual([
      `AUDIT_RETENTION_DAYS: '${value}' is not a whole number of days greater than 0`,
    ]);
  });

  test("the table is required only where it is needed, and said once", () => {
    expect(parseSettings({}).issues).toEqual([]);
    expect(parseTableSettings({}).issues).toEqual(["AUDIT_TABLE_NAME: required (the DynamoDB audit table)"]);
    expect(parseTableSettings({ AUDIT_TABLE_NAME: "x" }).issues).toEqual([
      "AUDIT_TABLE_NAME: 'x' is not a valid DynamoDB table name",
    ]);
    expect(() => requireTable({ auditTableName: undefined })).toThrow(ConfigError);
    expect(requireTable({ auditTableName: "audit" })).toBe("audit");
  });
});
