import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { build, type Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  artifactBuildOptions,
  BUNDLE_FILE,
  HANDLER_ENTRY,
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
    write: false,
  });
  metafile = result.metafile;
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
