/**
 * A local Amazon S3 endpoint for the janitor's checkpoints, keeping Object Lock's promise: one
 * bucket, versioned, with Object Lock on and a default retention, spoken in S3's REST protocol
 * (path-style requests, XML answers and errors), so that the unmodified `@aws-sdk/client-s3` and
 * `aws s3api` reach it with nothing but an endpoint override (AWS_ENDPOINT_URL_S3 or
 * `--endpoint-url`).
 *
 * What it serves: PutObject (with or without the lock headers; a body sent aws-chunked, as the SDK
 * sends one with a trailing checksum, is decoded), GetObject and HeadObject (latest or by
 * versionId), ListObjectsV2 (prefix, max-keys, continuation), ListObjectVersions (prefix),
 * DeleteObject and PutObjectRetention. What it refuses as S3 does: deleting a version under
 * retention, and shortening or lifting a COMPLIANCE retention (AccessDenied, 403). A PutObject to
 * a key that exists adds a version, as in any versioned bucket; the older one stays. Signatures are
 * not checked. It listens on 127.0.0.1 only.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export const DEFAULT_CHECKPOINT_BUCKET = "handshake-janitor-local-checkpoints";
/** S3's limit on one PutObject is 5 GB; checkpoints are a few hundred bytes. */
const BODY_MAX_BYTES = 16 * 1024 * 1024;

export type LockMode = "COMPLIANCE" | "GOVERNANCE";

export interface StoredVersion {
  key: string;
  versionId: string;
  body: Buffer;
  contentType: string;
  etag: string;
  lastModified: Date;
  lockMode?: LockMode;
  retainUntil?: Date;
  deleteMarker: boolean;
}

export interface S3EmulatorOptions {
  bucket?: string;
  /** The bucket's default retention, applied to a PutObject that names none. */
  defaultRetention?: { mode: LockMode; days: number };
  /** The clock retention is judged by; default the machine's. */
  now?: () => Date;
}

export interface S3Emulator {
  endpoint: string;
  bucket: string;
  /** Every version and delete marker of a key, oldest first. */
  versions(key: string): readonly StoredVersion[];
  stop(): Promise<void>;
}

class S3Fault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function element(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? "" : `<${name}>${xmlEscape(String(value))}</${name}>`;
}

const XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";

/** A body sent with `Content-Encoding: aws-chunked`: the chunks' data, without sizes or trailers. */
export function decodeAwsChunked(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let guard = 0; guard < 1_000_000; guard += 1) {
    const lineEnd = raw.indexOf("\r\n", at);
    if (lineEnd === -1)
      throw new S3Fault(400, "IncompleteBody", "an aws-chunked body ended inside a chunk header");
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString("latin1").split(";")[0] ?? "", 16);
    if (!Number.isFinite(size) || size < 0) {
      throw new S3Fault(
        400,
        "InvalidRequest",
        "an aws-chunked body has a chunk size that is not hexadecimal",
      );
    }
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (start + size > raw.length)
      throw new S3Fault(400, "IncompleteBody", "an aws-chunked body ended inside a chunk");
    parts.push(raw.subarray(start, start + size));
    at = start + size + 2;
  }
  throw new S3Fault(400, "InvalidRequest", "an aws-chunked body has too many chunks");
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > BODY_MAX_BYTES)
      throw new S3Fault(400, "EntityTooLarge", "the body is larger than this endpoint accepts");
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  const encoding = request.headers["content-encoding"] ?? "";
  const chunked =
    encoding.split(",").some((e) => e.trim() === "aws-chunked") ||
    String(request.headers["x-amz-content-sha256"] ?? "").startsWith("STREAMING-");
  return chunked ? decodeAwsChunked(raw) : raw;
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, ".000Z");
}

function httpDate(date: Date): string {
  return date.toUTCString();
}

function lockHeaders(version: StoredVersion): Record<string, string> {
  return {
    ...(version.lockMode ? { "x-amz-object-lock-mode": version.lockMode } : {}),
    ...(version.retainUntil
      ? { "x-amz-object-lock-retain-until-date": isoSeconds(version.retainUntil) }
      : {}),
  };
}

export async function startS3Emulator(options: S3EmulatorOptions = {}): Promise<S3Emulator> {
  const bucket = options.bucket ?? DEFAULT_CHECKPOINT_BUCKET;
  const now = options.now ?? (() => new Date());
  const objects = new Map<string, StoredVersion[]>();
  const sockets = new Set<Socket>();

  const latest = (key: string): StoredVersion | undefined => objects.get(key)?.at(-1);
  const find = (key: string, versionId: string | null): StoredVersion => {
    const versions = objects.get(key) ?? [];
    const found = versionId === null ? versions.at(-1) : versions.find((v) => v.versionId === versionId);
    if (found === undefined || (versionId === null && found.deleteMarker)) {
      throw new S3Fault(
        404,
        versionId === null ? "NoSuchKey" : "NoSuchVersion",
        versionId === null ? "The specified key does not exist." : "The specified version does not exist.",
        found?.deleteMarker ? { "x-amz-delete-marker": "true" } : {},
      );
    }
    if (found.deleteMarker)
      throw new S3Fault(
        405,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
      );
    return found;
  };
  const locked = (version: StoredVersion) =>
    version.retainUntil !== undefined && version.retainUntil.getTime() > now().getTime();

  function putObject(
    key: string,
    request: IncomingMessage,
    body: Buffer,
  ): [number, Record<string, string>, string] {
    const modeHeader = request.headers["x-amz-object-lock-mode"];
    const untilHeader = request.headers["x-amz-object-lock-retain-until-date"];
    if ((modeHeader === undefined) !== (untilHeader === undefined)) {
      throw new S3Fault(
        400,
        "InvalidArgument",
        "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
      );
    }
    let lockMode: LockMode | undefined;
    let retainUntil: Date | undefined;
    if (modeHeader !== undefined) {
      if (modeHeader !== "COMPLIANCE" && modeHeader !== "GOVERNANCE") {
        throw new S3Fault(400, "InvalidArgument", "Unknown wormMode directive.");
      }
      retainUntil = new Date(String(untilHeader));
      if (Number.isNaN(retainUntil.getTime()) || retainUntil.getTime() <= now().getTime()) {
        throw new S3Fault(400, "InvalidArgument", "The retain until date must be in the future!");
      }
      lockMode = modeHeader;
    } else if (options.defaultRetention !== undefined) {
      lockMode = options.defaultRetention.mode;
      retainUntil = new Date(now().getTime() + options.defaultRetention.days * 86_400_000);
    }
    const hasChecksum =
      request.headers["content-md5"] !== undefined ||
      Object.keys(request.headers).some(
        (h) =>
          h.startsWith("x-amz-checksum-") || h === "x-amz-trailer" || h === "x-amz-sdk-checksum-algorithm",
      );
    if (lockMode !== undefined && modeHeader !== undefined && !hasChecksum) {
      throw new S3Fault(
        400,
        "InvalidRequest",
        "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters",
      );
    }
    const version: StoredVersion = {
      key,
      versionId: randomUUID().replace(/-/g, ""),
      body,
      contentType: String(request.headers["content-type"] ?? "binary/octet-stream"),
      etag: `"${createHash("md5").update(body).digest("hex")}"`,
      lastModified: now(),
      ...(lockMode ? { lockMode } : {}),
      ...(retainUntil ? { retainUntil } : {}),
      deleteMarker: false,
    };
    objects.set(key, [...(objects.get(key) ?? []), version]);
    return [200, { ETag: version.etag, "x-amz-version-id": version.versionId }, ""];
  }

  function deleteObject(key: string, versionId: string | null): [number, Record<string, string>, string] {
    if (versionId === null) {
      // A delete without a version adds a delete marker; every version stays.
      const marker: StoredVersion = {
        key,
        versionId: randomUUID().replace(/-/g, ""),
        body: Buffer.alloc(0),
        contentType: "",
        etag: "",
        lastModified: now(),
        deleteMarker: true,
      };
      objects.set(key, [...(objects.get(key) ?? []), marker]);
      return [204, { "x-amz-delete-marker": "true", "x-amz-version-id": marker.versionId }, ""];
    }
    const versions = objects.get(key) ?? [];
    const version = versions.find((v) => v.versionId === versionId);
    if (version === undefined) return [204, {}, ""];
    if (locked(version)) {
      throw new S3Fault(403, "AccessDenied", "Access Denied because object protected by object lock.");
    }
    objects.set(
      key,
      versions.filter((v) => v !== version),
    );
    return [204, { "x-amz-version-id": versionId }, ""];
  }

  function putRetention(
    key: string,
    versionId: string | null,
    body: Buffer,
  ): [number, Record<string, string>, string] {
    const version = find(key, versionId);
    const text = body.toString("utf8");
    const mode = /<Mode>([^<]*)<\/Mode>/.exec(text)?.[1];
    const until = new Date(/<RetainUntilDate>([^<]*)<\/RetainUntilDate>/.exec(text)?.[1] ?? "");
    if ((mode !== "COMPLIANCE" && mode !== "GOVERNANCE") || Number.isNaN(until.getTime())) {
      throw new S3Fault(
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema.",
      );
    }
    if (
      version.lockMode === "COMPLIANCE" &&
      locked(version) &&
      (mode !== "COMPLIANCE" || until.getTime() < (version.retainUntil?.getTime() ?? 0))
    ) {
      throw new S3Fault(403, "AccessDenied", "Access Denied because object protected by object lock.");
    }
    version.lockMode = mode;
    version.retainUntil = until;
    return [200, {}, ""];
  }

  function listV2(url: URL): string {
    const prefix = url.searchParams.get("prefix") ?? "";
    const maxKeys = Math.min(1000, Math.max(0, Number(url.searchParams.get("max-keys") ?? "1000")));
    const after = url.searchParams.get("continuation-token") ?? url.searchParams.get("start-after") ?? "";
    const keys = [...objects.keys()]
      .filter((key) => key.startsWith(prefix) && key > after && !latest(key)?.deleteMarker)
      .sort();
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > page.length;
    const contents = page
      .map((key) => {
        const v = latest(key) as StoredVersion;
        return `<Contents>${element("Key", key)}${element("LastModified", v.lastModified.toISOString())}${element("ETag", v.etag)}${element("Size", v.body.length)}${element("StorageClass", "STANDARD")}</Contents>`;
      })
      .join("");
    return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="${XMLNS}">${element("Name", bucket)}${element("Prefix", prefix)}${element("MaxKeys", maxKeys)}${element("KeyCount", page.length)}${element("IsTruncated", truncated)}${truncated ? element("NextContinuationToken", page.at(-1)) : ""}${url.searchParams.has("continuation-token") ? element("ContinuationToken", after) : ""}${contents}</ListBucketResult>`;
  }

  function listVersions(url: URL): string {
    const prefix = url.searchParams.get("prefix") ?? "";
    const entries = [...objects.keys()]
      .filter((key) => key.startsWith(prefix))
      .sort()
      .flatMap((key) => {
        const versions = objects.get(key) ?? [];
        // Newest first, as S3 lists them.
        return [...versions].reverse().map((v, i) => {
          const common = `${element("Key", key)}${element("VersionId", v.versionId)}${element("IsLatest", i === 0)}${element("LastModified", v.lastModified.toISOString())}`;
          return v.deleteMarker
            ? `<DeleteMarker>${common}</DeleteMarker>`
            : `<Version>${common}${element("ETag", v.etag)}${element("Size", v.body.length)}${element("StorageClass", "STANDARD")}</Version>`;
        });
      })
      .join("");
    return `<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="${XMLNS}">${element("Name", bucket)}${element("Prefix", prefix)}${element("MaxKeys", 1000)}${element("IsTruncated", false)}${entries}</ListVersionsResult>`;
  }

  async function handle(
    request: IncomingMessage,
  ): Promise<[number, Record<string, string>, string | Buffer]> {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const [, name = "", ...rest] = url.pathname.split("/");
    const key = decodeURIComponent(rest.join("/"));
    if (decodeURIComponent(name) !== bucket) {
      throw new S3Fault(404, "NoSuchBucket", "The specified bucket does not exist.");
    }
    const versionId = url.searchParams.get("versionId");
    const method = request.method ?? "GET";
    const body = method === "PUT" || method === "POST" ? await readBody(request) : Buffer.alloc(0);
    if (key === "") {
      if (method === "GET" && url.searchParams.has("versions"))
        return [200, { "content-type": "application/xml" }, listVersions(url)];
      if (method === "GET" && url.searchParams.has("object-lock")) {
        const rule = options.defaultRetention
          ? `<Rule><DefaultRetention>${element("Mode", options.defaultRetention.mode)}${element("Days", options.defaultRetention.days)}</DefaultRetention></Rule>`
          : "";
        return [
          200,
          { "content-type": "application/xml" },
          `<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration xmlns="${XMLNS}"><ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule}</ObjectLockConfiguration>`,
        ];
      }
      if (method === "GET") return [200, { "content-type": "application/xml" }, listV2(url)];
      if (method === "HEAD") return [200, {}, ""];
      throw new S3Fault(
        405,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
      );
    }
    if (method === "PUT" && url.searchParams.has("retention")) return putRetention(key, versionId, body);
    if (method === "PUT") return putObject(key, request, body);
    if (method === "DELETE") return deleteObject(key, versionId);
    if (method === "GET" || method === "HEAD") {
      const version = find(key, versionId);
      const headers = {
        "content-type": version.contentType,
        "content-length": String(version.body.length),
        ETag: version.etag,
        "Last-Modified": httpDate(version.lastModified),
        "x-amz-version-id": version.versionId,
        ...lockHeaders(version),
      };
      return [200, headers, method === "HEAD" ? "" : version.body];
    }
    throw new S3Fault(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
  }

  const server = createServer((request, response: ServerResponse) => {
    const requestId = randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase();
    handle(request).then(
      ([status, headers, body]) => {
        response.writeHead(status, { "x-amz-request-id": requestId, ...headers });
        response.end(request.method === "HEAD" ? undefined : body);
      },
      (error: unknown) => {
        const fault =
          error instanceof S3Fault
            ? error
            : new S3Fault(500, "InternalError", "We encountered an internal error. Please try again.");
        response.writeHead(fault.status, {
          "content-type": "application/xml",
          "x-amz-request-id": requestId,
          ...fault.headers,
        });
        response.end(
          request.method === "HEAD"
            ? undefined
            : `<?xml version="1.0" encoding="UTF-8"?><Error>${element("Code", fault.code)}${element("Message", fault.message)}${element("RequestId", requestId)}</Error>`,
        );
      },
    );
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    versions: (key) => [...(objects.get(key) ?? [])],
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
