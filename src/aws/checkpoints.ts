/**
 * The checkpoint store (src/evidence/checkpoints.ts) on S3: one object per live run, written with
 * Object Lock in compliance mode, read back by `audit verify`. The S3 client is loaded only when a
 * checkpoint is first written or read: a run without AUDIT_CHECKPOINT_BUCKET never loads it.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import {
  type Checkpoint,
  type CheckpointPort,
  checkpointKey,
  monthPrefixes,
  type StoredCheckpoint,
} from "../evidence/checkpoints.js";

export interface CheckpointStoreOptions {
  bucket: string;
  /** The audit table the checkpoints speak for. */
  table: string;
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  requestHandler?: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: boolean };
  /**
   * AUDIT_RETENTION_DAYS: each checkpoint is locked at least as long as the items it vouches for.
   * Absent, the bucket's default retention applies.
   */
  retentionDays?: number;
  now?: () => Date;
}

const DAY_MS = 86_400_000;

export function createCheckpointStore(options: CheckpointStoreOptions): CheckpointPort {
  const now = options.now ?? (() => new Date());
  let loaded: Promise<{ client: S3Client; s3: typeof import("./s3-api.js") }> | undefined;
  const s3 = () => {
    loaded ??= import("./s3-api.js").then((module) => ({
      s3: module,
      client: new module.S3Client({
        region: options.region,
        maxAttempts: 3,
        forcePathStyle: options.endpoint !== undefined,
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler }),
      }),
    }));
    return loaded;
  };
  const { bucket, table } = options;

  async function readFirstVersion(key: string, versionId: string | undefined): Promise<StoredCheckpoint> {
    const { client, s3: api } = await s3();
    try {
      const got = await client.send(
        new api.GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(versionId ? { VersionId: versionId } : {}),
        }),
      );
      const parsed = JSON.parse((await got.Body?.transformToString()) ?? "") as Checkpoint;
      if (typeof parsed?.runId !== "string" || typeof parsed.seal !== "string") {
        return { key, versions: 1, unreadable: "no runId or seal in it" };
      }
      return { key, versions: 1, checkpoint: parsed };
    } catch (error) {
      return {
        key,
        versions: 1,
        unreadable: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      };
    }
  }

  return {
    async write(fields) {
      const { client, s3: api } = await s3();
      const checkpoint: Checkpoint = { table, ...fields };
      const key = checkpointKey(checkpoint);
      const lock =
        options.retentionDays === undefined
          ? {}
          : {
              ObjectLockMode: "COMPLIANCE" as const,
              ObjectLockRetainUntilDate: new Date(now().getTime() + options.retentionDays * DAY_MS),
            };
      await client.send(
        new api.PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: `${JSON.stringify(checkpoint)}\n`,
          ContentType: "application/json",
          ...lock,
        }),
      );
      return { key };
    },

    async list(range) {
      const { client, s3: api } = await s3();
      const found: StoredCheckpoint[] = [];
      for (const prefix of monthPrefixes(table, range)) {
        // Every version of every key: a key written twice is itself a finding.
        const versions = new Map<string, { first?: string; count: number }>();
        let keyMarker: string | undefined;
        let versionMarker: string | undefined;
        for (let page = 0; page < 10_000; page += 1) {
          const answer = await client.send(
            new api.ListObjectVersionsCommand({
              Bucket: bucket,
              Prefix: prefix,
              ...(keyMarker ? { KeyMarker: keyMarker } : {}),
              ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
            }),
          );
          for (const version of answer.Versions ?? []) {
            const entry = versions.get(version.Key ?? "") ?? { count: 0 };
            entry.count += 1;
            // Listed newest first: the last one seen is the first written.
            if (version.VersionId !== undefined) entry.first = version.VersionId;
            versions.set(version.Key ?? "", entry);
          }
          if (!answer.IsTruncated) break;
          keyMarker = answer.NextKeyMarker;
          versionMarker = answer.NextVersionIdMarker;
        }
        for (const [key, { first, count }] of [...versions].sort(([a], [b]) => a.localeCompare(b))) {
          const stored = { ...(await readFirstVersion(key, first)), versions: count };
          const started = Date.parse(stored.checkpoint?.startedAt ?? "");
          if (
            stored.checkpoint !== undefined &&
            (started < range.since.getTime() || started >= range.until.getTime())
          )
            continue;
          found.push(stored);
        }
      }
      return found;
    },
  };
}
