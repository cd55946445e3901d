import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S3Emulator, startS3Emulator } from "../../devtools/s3-emulator.js";
import { LOCAL_CREDENTIALS } from "../../devtools/stack-env.js";

/**
 * The local S3 endpoint as the real clients see it: @aws-sdk/client-s3 and `aws s3api`, over
 * HTTP. Object Lock holds: a version under COMPLIANCE retention cannot be deleted or have its
 * retention shortened, and a new PutObject to its key adds a version beside it.
 */
const DAY = 86_400_000;
let s3: S3Emulator;
let client: S3Client;
const home = mkdtempSync(join(tmpdir(), "janitor-s3-"));

beforeAll(async () => {
  s3 = await startS3Emulator({ defaultRetention: { mode: "COMPLIANCE", days: 1 } });
  client = new S3Client({
    endpoint: s3.endpoint,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client?.destroy();
  await s3?.stop();
  rmSync(home, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<S3ServiceException> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof S3ServiceException))
    throw new Error(`expected a service error, got ${String(error)}`);
  return error;
}

describe("the S3 client", () => {
  it("puts an object under a COMPLIANCE lock and reads it back with its lock, by key and by version", async () => {
    const until = new Date(Date.now() + 30 * DAY);
    const put = await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "checkpoints/run-1.json",
        Body: '{"runId":"run-1"}',
        ContentType: "application/json",
        ObjectLockMode: "COMPLIANCE",
        ObjectLockRetainUntilDate: until,
      }),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "checkpoints/run-1.json" }));
    const byVersion = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: "checkpoints/run-1.json", VersionId: put.VersionId }),
    );
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "checkpoints/run-1.json" }),
    );

    expect(put.VersionId).toMatch(/^[0-9a-f]{32}$/);
    expect(await got.Body?.transformToString()).toBe('{"runId":"run-1"}');
    expect(await byVersion.Body?.transformToString()).toBe('{"runId":"run-1"}');
    expect(got.ObjectLockMode).toBe("COMPLIANCE");
    expect(got.ObjectLockRetainUntilDate?.getTime()).toBe(Math.floor(until.getTime() / 1000) * 1000);
    expect(head.ContentLength).toBe(17);
    expect(head.VersionId).toBe(put.VersionId);
  });

  it("refuses to delete a locked version or shorten its retention, as S3 does", async () => {
    const put = await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "checkpoints/run-2.json", Body: "{}" }),
    );
    const del = await failure(
      client.send(
        new DeleteObjectCommand({
          Bucket: s3.bucket,
          Key: "checkpoints/run-2.json",
          VersionId: put.VersionId,
        }),
      ),
    );
    const shorten = await failure(
      client.send(
        new PutObjectRetentionCommand({
          Bucket: s3.bucket,
          Key: "checkpoints/run-2.json",
          VersionId: put.VersionId,
          Retention: { Mode: "COMPLIANCE", RetainUntilDate: new Date(Date.now() + 60_000) },
        }),
      ),
    );

    expect([del.name, del.$metadata.httpStatusCode]).toEqual(["AccessDenied", 403]);
    expect([shorten.name, shorten.$metadata.httpStatusCode]).toEqual(["AccessDenied", 403]);
    // The bucket's default retention locked it: one day from the put.
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "checkpoints/run-2.json" }),
    );
    expect(head.ObjectLockMode).toBe("COMPLIANCE");
    expect(s3.versions("checkpoints/run-2.json")).toHaveLength(1);
  });

  it("keeps the locked version when the key is written again or deleted without a version", async () => {
    const first = await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "k/over.json", Body: "first" }),
    );
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k/over.json", Body: "forged" }));
    const marker = await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: "k/over.json" }));
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: s3.bucket, Prefix: "k/" }));
    const original = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: "k/over.json", VersionId: first.VersionId }),
    );
    const gone = await failure(client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "k/over.json" })));

    expect(marker.DeleteMarker).toBe(true);
    expect(versions.Versions?.map((v) => v.IsLatest)).toEqual([false, false]);
    expect(versions.Versions?.at(-1)?.VersionId).toBe(first.VersionId);
    expect(versions.DeleteMarkers?.map((m) => m.IsLatest)).toEqual([true]);
    expect(await original.Body?.transformToString()).toBe("first");
    expect([gone.name, gone.$metadata.httpStatusCode]).toEqual(["NoSuchKey", 404]);
  });

  it("lists keys by prefix a page at a time, and tells the bucket's lock configuration", async () => {
    for (const n of [1, 2, 3]) {
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `list/${n}.json`, Body: String(n) }));
    }
    const first = await client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "list/", MaxKeys: 2 }),
    );
    const second = await client.send(
      new ListObjectsV2Command({
        Bucket: s3.bucket,
        Prefix: "list/",
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    const lock = await client.send(new GetObjectLockConfigurationCommand({ Bucket: s3.bucket }));

    expect(first.Contents?.map((c) => c.Key)).toEqual(["list/1.json", "list/2.json"]);
    expect(first.IsTruncated).toBe(true);
    expect(second.Contents?.map((c) => [c.Key, c.Size])).toEqual([["list/3.json", 1]]);
    expect(second.IsTruncated).toBe(false);
    expect(lock.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: "Enabled",
      Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 1 } },
    });
  });

  it("answers an unknown bucket with NoSuchBucket", async () => {
    const error = await failure(client.send(new ListObjectsV2Command({ Bucket: "no-such-bucket" })));
    expect([error.name, error.$metadata.httpStatusCode]).toEqual(["NoSuchBucket", 404]);
  });
});

describe("the AWS CLI", () => {
  const aws = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "aws",
        ["s3api", "--endpoint-url", s3.endpoint, "--output", "json", ...args],
        {
          env: {
            PATH: process.env.PATH ?? "",
            HOME: home,
            AWS_ACCESS_KEY_ID: "local",
            AWS_SECRET_ACCESS_KEY: "local",
            AWS_DEFAULT_REGION: "us-east-1",
            AWS_PAGER: "",
          },
          timeout: 60_000,
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      );
    });

  it("puts, reads and lists with aws s3api, and is refused the delete of a locked version", async () => {
    const file = join(home, "cp.json");
    const out = join(home, "out.json");
    writeFileSync(file, '{"runId":"cli"}');
    const until = new Date(Date.now() + 10 * DAY).toISOString();

    const put = await aws([
      "put-object",
      "--bucket",
      s3.bucket,
      "--key",
      "cli/cp.json",
      "--body",
      file,
      "--object-lock-mode",
      "COMPLIANCE",
      "--object-lock-retain-until-date",
      until,
      "--content-md5",
      createHash("md5").update('{"runId":"cli"}').digest("base64"),
    ]);
    expect(put.code, put.stderr).toBe(0);
    const { VersionId } = JSON.parse(put.stdout) as { VersionId: string };
    const get = await aws(["get-object", "--bucket", s3.bucket, "--key", "cli/cp.json", out]);
    const list = await aws(["list-objects-v2", "--bucket", s3.bucket, "--prefix", "cli/"]);
    const del = await aws([
      "delete-object",
      "--bucket",
      s3.bucket,
      "--key",
      "cli/cp.json",
      "--version-id",
      VersionId,
    ]);

    expect(get.code, get.stderr).toBe(0);
    expect(readFileSync(out, "utf8")).toBe('{"runId":"cli"}');
    expect(JSON.parse(get.stdout)).toMatchObject({ ObjectLockMode: "COMPLIANCE", VersionId });
    expect((JSON.parse(list.stdout) as { Contents: { Key: string }[] }).Contents.map((c) => c.Key)).toEqual([
      "cli/cp.json",
    ]);
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain("AccessDenied");
  });
});
