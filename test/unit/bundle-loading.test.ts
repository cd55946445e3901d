import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build, type Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  artifactBuildOptions,
  BUNDLE_FILE,
  CHECKSUM_STREAM_AS_PUBLISHED,
  HANDLER_ENTRY,
  LAZY_CHECKSUM_STREAM,
  REALTIME_ENTRY,
  REALTIME_FILE,
} from "../../scripts/build.js";

/**
 * What a cold start of the artifact loads: each handler file and the chunks it imports statically,
 * never what it loads later with import(). esbuild puts a module in a chunk by the entries that
 * reach it, import() counting as one: a module both the handlers and a lazily loaded one import
 * goes to a chunk of its own, which every cold start then loads as one more file.
 */
let metafile: Metafile;
let outdir: string;

beforeAll(async () => {
  outdir = await mkdtemp(path.join(tmpdir(), "janitor-bundle-loading-"));
  const result = await build({
    ...artifactBuildOptions({
      entry: HANDLER_ENTRY,
      entryName: path.parse(BUNDLE_FILE).name,
      outdir,
      also: [{ entry: REALTIME_ENTRY, entryName: path.parse(REALTIME_FILE).name }],
    }),
  });
  metafile = result.metafile;
  await writeFile(path.join(outdir, "package.json"), JSON.stringify({ type: "module" }));
});

afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

function outputOf(file: string): string {
  const found = Object.keys(metafile.outputs).find((output) => output.endsWith(`/${file}`));
  if (!found) throw new Error(`no output ${file}`);
  return found;
}

/** The output files an import of `from` loads, itself included; `lazy` follows import() too. */
function reached(from: string[], lazy = false): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const next of metafile.outputs[file]?.imports ?? []) {
      const followed = next.kind === "import-statement" || (lazy && next.kind === "dynamic-import");
      if (followed && metafile.outputs[next.path]) visit(next.path);
    }
  };
  for (const file of from) visit(file);
  return seen;
}

function inputsOf(files: Iterable<string>): string[] {
  return [...files].flatMap((file) => Object.keys(metafile.outputs[file]?.inputs ?? {}));
}

const HANDLERS = [BUNDLE_FILE, REALTIME_FILE];

describe.each(HANDLERS)("a cold start of %s", (handler) => {
  test("loads none of the code that only a lazily loaded module uses", () => {
    const inputs = inputsOf(reached([outputOf(handler)]));
    // The readers of configs in YAML and of RE2 patterns, and the S3, STS and SNS clients.
    for (const lazy of [
      "node_modules/yaml/",
      "node_modules/re2js/",
      "node_modules/@aws-sdk/client-s3/",
      "node_modules/@aws-sdk/client-sts/",
      "node_modules/@aws-sdk/client-sns/",
      // What only the S3 client's waiters use: all of it is kept when the client's whole namespace
      // is imported, and it would load with the SDK code it shares with the clients every run has.
      "node_modules/@smithy/core/dist-es/submodules/client/util-waiter/",
    ]) {
      expect(inputs.filter((input) => input.includes(lazy))).toEqual([]);
    }
    for (const lazyModule of [
      "src/config/yaml.ts",
      "src/aws/s3-api.ts",
      "src/aws/sts-api.ts",
      "src/aws/sns-api.ts",
    ]) {
      expect(inputs).not.toContain(lazyModule);
    }
  });
});

describe.each(HANDLERS)("an import of %s in a fresh node", (handler) => {
  test("reads no web stream (Node's lazy ReadableStream global), which only S3's checksums of a streamed body use", async () => {
    const url = pathToFileURL(path.join(outdir, handler)).href;
    // What node itself loaded before the import (some versions load a few at start-up) is the baseline.
    const loaded = `process.moduleLoadList.filter((m) => m.includes("webstreams"))`;
    const script = `const before = ${loaded}; import(${JSON.stringify(url)}).then(() => process.stdout.write(JSON.stringify({ before, after: ${loaded} })))`;
    const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], { timeout: 30_000 });
    const { before, after } = JSON.parse(stdout) as { before: string[]; after: string[] };
    expect(after).toEqual(before);
  });
});

describe("the SDK's web ChecksumStream, made on first use", () => {
  test("replaces the module only while it is as published, which the installed SDK's is", async () => {
    const require = createRequire(import.meta.url);
    const core = path.dirname(require.resolve("@smithy/core/package.json"));
    const installed = path.join(
      core,
      "dist-es/submodules/serde/util-stream/checksum/ChecksumStream.browser.js",
    );
    expect(await readFile(installed, "utf8")).toBe(CHECKSUM_STREAM_AS_PUBLISHED);
  });

  test("is still a class of the web streams: constructed, its prototype's, and instanceof both", async () => {
    const file = path.join(outdir, "lazy-checksum-stream.mjs");
    await writeFile(file, LAZY_CHECKSUM_STREAM);
    const { ChecksumStream } = (await import(pathToFileURL(file).href)) as {
      ChecksumStream: new () => ReadableStream;
    };
    const stream = new ChecksumStream();
    expect(stream).toBeInstanceOf(ReadableStream);
    expect(stream).toBeInstanceOf(ChecksumStream);
    expect(Object.getPrototypeOf(ChecksumStream.prototype)).toBe(ReadableStream.prototype);
    // As createChecksumStream gives a transform's readable side the class.
    const readable = new TransformStream().readable;
    Object.setPrototypeOf(readable, ChecksumStream.prototype);
    expect(readable).toBeInstanceOf(ChecksumStream);
    expect(new ReadableStream()).not.toBeInstanceOf(ChecksumStream);
    // Called without new, it throws as a class does.
    expect(() => (ChecksumStream as unknown as () => unknown)()).toThrow(TypeError);
  });
});

describe("the modules loaded lazily", () => {
  test("share no janitor module with the handlers, which would split it into a file of its own", () => {
    const atStart = reached(HANDLERS.map(outputOf));
    const lazyChunks = [...reached(HANDLERS.map(outputOf), true)].filter((file) => !atStart.has(file));
    expect(lazyChunks.length).toBeGreaterThan(0);
    // A file both a lazy chunk imports and a cold start loads holds no janitor module.
    const shared = [...reached(lazyChunks)].filter((file) => atStart.has(file));
    expect(inputsOf(shared).filter((input) => input.startsWith("src/"))).toEqual([]);
  });
});
