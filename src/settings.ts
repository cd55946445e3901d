import { ConfigError } from "./domain/errors.js";
import { type FencingSettings, parseFencing } from "./fencing-settings.js";

/**
 * The environment, parsed once into typed settings: the only module that reads `process.env`
 * (test/unit/settings.test.ts checks). Every other module takes what it needs from here, so a
 * caller (the demo, a test) can hand in settings of its own without touching the environment.
 */
export interface Settings {
  /** AUDIT_TABLE_NAME: the DynamoDB audit table; required by every command that reads or writes it. */
  auditTableName: string | undefined;
  /** AUDIT_RETENTION_DAYS: items expire this many days after their time; unset, nothing expires. */
  auditRetentionDays: number | undefined;
  /** JANITOR_CONFIG: the rules file; the CLI's --config wins over it. */
  janitorConfig: string | undefined;
  /** NOTIFY_TOPIC_ARN: the standard SNS topic of the run's digest; unset, no notification. */
  notifyTopicArn: string | undefined;
  /**
   * AUDIT_CHECKPOINT_BUCKET: the S3 bucket, with Object Lock, that takes each live run's
   * checkpoint (docs/checkpoints.md); unset, no checkpoints.
   */
  checkpointBucket?: string;
  /** AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1 (where Organizations' endpoint lives). */
  region: string;
  /** AWS_ENDPOINT_URL_ORGANIZATIONS / _DYNAMODB / _SNS: where each client sends its calls instead of AWS. */
  endpoints: { organizations?: string; dynamodb?: string; sns?: string; s3?: string; sts?: string };
  /** AWS_LAMBDA_FUNCTION_NAME: the metrics' dimension; "local" outside Lambda. */
  functionName: string;
  /** The fencing margin, the SDK timeouts it outlasts and the lease length (src/fencing-settings.ts). */
  fencing: FencingSettings;
}

export type Environment = Readonly<Record<string, string | undefined>>;

export const DEFAULT_REGION = "us-east-1";
export const DEFAULT_FUNCTION_NAME = "local";

/** A standard topic's ARN (FIFO topics need a message group the digest has no use for). */
export const TOPIC_ARN_PATTERN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256})$/;
const TABLE_NAME_PATTERN = /^[a-zA-Z0-9_.-]{3,255}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z0-9]+)+$/;

/** An S3 bucket name: 3-63 characters, lower case, digits, dots and hyphens, letters or digits at the ends. */
const BUCKET_NAME_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const ENDPOINT_VARIABLES = {
  organizations: "AWS_ENDPOINT_URL_ORGANIZATIONS",
  dynamodb: "AWS_ENDPOINT_URL_DYNAMODB",
  sns: "AWS_ENDPOINT_URL_SNS",
  s3: "AWS_ENDPOINT_URL_S3",
  sts: "AWS_ENDPOINT_URL_STS",
} as const;

/** A value shown in a problem line: quoted, cut at 300 characters, control characters escaped. */
function shown(value: string): string {
  return JSON.stringify(value.slice(0, 300));
}

/** Unset and blank are the same: absent. */
function read(env: Environment, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Every variable with its default, and one line per problem naming the variable. Never throws:
 * an entry point decides which problems stop it (`loadSettings` throws them all).
 */
export function parseSettings(env: Environment = process.env): { settings: Settings; issues: string[] } {
  const issues: string[] = [];

  const auditTableName = read(env, "AUDIT_TABLE_NAME");
  if (auditTableName !== undefined && !TABLE_NAME_PATTERN.test(auditTableName)) {
    issues.push(`AUDIT_TABLE_NAME: '${auditTableName}' is not a valid DynamoDB table name`);
  }

  const retentionRaw = read(env, "AUDIT_RETENTION_DAYS");
  let auditRetentionDays: number | undefined;
  if (retentionRaw !== undefined) {
    if (/^[1-9][0-9]*$/.test(retentionRaw)) auditRetentionDays = Number(retentionRaw);
    else {
      issues.push(`AUDIT_RETENTION_DAYS: '${retentionRaw}' is not a whole number of days greater than 0`);
    }
  }

  const checkpointBucket = read(env, "AUDIT_CHECKPOINT_BUCKET");
  if (checkpointBucket !== undefined && !BUCKET_NAME_PATTERN.test(checkpointBucket)) {
    issues.push(
      `AUDIT_CHECKPOINT_BUCKET: ${shown(checkpointBucket)} is not an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)`,
    );
  }
  const notifyTopicArn = read(env, "NOTIFY_TOPIC_ARN");
  if (notifyTopicArn !== undefined && !TOPIC_ARN_PATTERN.test(notifyTopicArn)) {
    issues.push(
      `NOTIFY_TOPIC_ARN: ${shown(notifyTopicArn)} is not the ARN of a standard SNS topic (arn:aws:sns:REGION:ACCOUNT:NAME)`,
    );
  }

  let region = DEFAULT_REGION;
  for (const name of ["AWS_REGION", "AWS_DEFAULT_REGION"]) {
    const value = read(env, name);
    if (value === undefined) continue;
    if (REGION_PATTERN.test(value)) region = value;
    else issues.push(`${name}: ${shown(value)} is not an AWS region (like us-east-1)`);
    break;
  }

  const endpoints: Settings["endpoints"] = {};
  for (const [service, name] of Object.entries(ENDPOINT_VARIABLES) as [
    keyof typeof ENDPOINT_VARIABLES,
    string,
  ][]) {
    const value = read(env, name);
    if (value === undefined) continue;
    if (isHttpUrl(value)) endpoints[service] = value;
    else issues.push(`${name}: ${shown(value)} is not an http or https URL`);
  }

  const fencing = parseFencing((name) => read(env, name), issues);

  return {
    settings: {
      auditTableName: issues.some((line) => line.startsWith("AUDIT_TABLE_NAME:"))
        ? undefined
        : auditTableName,
      auditRetentionDays,
      janitorConfig: read(env, "JANITOR_CONFIG"),
      notifyTopicArn: issues.some((line) => line.startsWith("NOTIFY_TOPIC_ARN:"))
        ? undefined
        : notifyTopicArn,
      region,
      endpoints,
      functionName: read(env, "AWS_LAMBDA_FUNCTION_NAME") ?? DEFAULT_FUNCTION_NAME,
      ...(checkpointBucket === undefined || issues.some((line) => line.startsWith("AUDIT_CHECKPOINT_BUCKET:"))
        ? {}
        : { checkpointBucket }),
      fencing,
    },
    issues,
  };
}

/** The settings, or a ConfigError naming every variable that is wrong. */
export function loadSettings(env: Environment = process.env): Settings {
  const { settings, issues } = parseSettings(env);
  if (issues.length > 0) throw new ConfigError(issues);
  return settings;
}

const TABLE_REQUIRED = "AUDIT_TABLE_NAME: required (the DynamoDB audit table)";

/** parseSettings for the commands that need the audit table: its absence is one more problem. */
export function parseTableSettings(env: Environment = process.env): { settings: Settings; issues: string[] } {
  const parsed = parseSettings(env);
  const named = parsed.issues.some((line) => line.startsWith("AUDIT_TABLE_NAME:"));
  if (parsed.settings.auditTableName === undefined && !named) parsed.issues.push(TABLE_REQUIRED);
  return parsed;
}

/** AUDIT_TABLE_NAME, for the code that needs the table: its absence is a ConfigError. */
export function requireTable(settings: Pick<Settings, "auditTableName">): string {
  if (settings.auditTableName === undefined) throw new ConfigError([TABLE_REQUIRED]);
  return settings.auditTableName;
}

/** The region in a topic ARN: SNS answers only in the topic's own region. */
export function topicRegion(arn: string): string | undefined {
  return TOPIC_ARN_PATTERN.exec(arn)?.[1];
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
