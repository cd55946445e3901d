import { fileURLToPath } from "node:url";
import { type DynamoDbLocal, startDynamoDbLocal } from "./dynamodb-local.js";
import { type OrganizationsEmulator, startOrganizationsEmulator } from "./org-emulator/index.js";
import { type S3Emulator, startS3Emulator } from "./s3-emulator.js";
import { sampleOrganization } from "./sample-org.js";
import { ensureLocalAuditTable, localStackEnv } from "./stack-env.js";

/** Named as the deployment names its tables (handshake-janitor-<stage>-audit), stage `local`. */
export const LOCAL_TABLE = "handshake-janitor-local-audit";
export const LOCAL_CONFIG = fileURLToPath(new URL("../examples/janitor.yaml", import.meta.url));

export interface LocalStack {
  organizations: OrganizationsEmulator;
  dynamodb: DynamoDbLocal;
  /** The checkpoint bucket's S3 endpoint, with Object Lock (docs/checkpoints.md). */
  s3: S3Emulator;
  tableName: string;
  /** What a second terminal needs to use the CLI against this stack. */
  env: Record<string, string>;
  /** Stops both servers; DynamoDB Local's Java process is gone when it resolves. */
  stop(): Promise<void>;
}

/**
 * The demo's stack kept running for trying commands by hand: the Organizations emulator with the
 * sample organization, DynamoDB Local with the audit table, both on 127.0.0.1. When one server
 * cannot start, the other is stopped before the error is thrown.
 */
export async function startLocalStack(now: Date = new Date()): Promise<LocalStack> {
  const [org, db, bucket] = await Promise.allSettled([
    startOrganizationsEmulator({ handshakes: sampleOrganization(now) }),
    startDynamoDbLocal(),
    startS3Emulator({ defaultRetention: { mode: "COMPLIANCE", days: 1 } }),
  ]);
  if (org.status === "rejected" || db.status === "rejected" || bucket.status === "rejected") {
    await Promise.all([
      org.status === "fulfilled" ? org.value.stop() : undefined,
      db.status === "fulfilled" ? db.value.stop() : undefined,
      bucket.status === "fulfilled" ? bucket.value.stop() : undefined,
    ]);
    const failed = [org, db, bucket].find(
      (started) => started.status === "rejected",
    ) as PromiseRejectedResult;
    throw failed.reason;
  }
  const organizations = org.value;
  const dynamodb = db.value;
  const s3 = bucket.value;
  const stop = () => Promise.all([organizations.stop(), dynamodb.stop(), s3.stop()]).then(() => undefined);
  try {
    await ensureLocalAuditTable(dynamodb.endpoint, LOCAL_TABLE);
  } catch (error) {
    await stop();
    throw error;
  }
  const env = {
    ...localStackEnv({ organizations: organizations.endpoint, dynamodb: dynamodb.endpoint }, LOCAL_TABLE),
    JANITOR_CONFIG: LOCAL_CONFIG,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AUDIT_CHECKPOINT_BUCKET: s3.bucket,
  };
  return { organizations, dynamodb, s3, tableName: LOCAL_TABLE, env, stop };
}

/** A value as one shell word: bare when it is plain, else single-quoted. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function exportLines(env: Record<string, string>): string[] {
  return Object.entries(env).map(([name, value]) => `export ${name}=${shellWord(value)}`);
}
