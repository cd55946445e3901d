/**
 * What the checkpoint store (./checkpoints.ts) takes of the S3 client, loaded only when a checkpoint
 * is first written or read. Importing the package's whole namespace would keep all of its exports
 * (every command, waiter and paginator) in the bundle, and the SDK code that those share with the
 * Organizations and DynamoDB clients would be loaded at every cold start with theirs
 * (scripts/build.ts): named exports let esbuild drop the rest.
 */
export { GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
