import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build, type BuildOptions as EsbuildOptions, type Metafile, type Plugin } from "esbuild";
import { configHash, loadConfig, loadConfigData, parseConfig } from "../src/config/config.js";
import { ConfigError } from "../src/domain/errors.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const HANDLER_ENTRY = path.join(ROOT, "src/handlers/sweep.ts");
/**
 * The real-time handler, a second entry of the same bundle: `realtime.js` beside `index.js`,
 * sharing its chunks, so one artifact serves both functions (serverless.yml, `realtime`).
 */
export const REALTIME_ENTRY = path.join(ROOT, "src/handlers/realtime.ts");
export const REALTIME_FILE = "realtime.js";
/** Where the bundle goes; serverless.yml's `package.patterns` and `handler` name these files. */
export const DIST = path.join(ROOT, "dist/sweep");
export const BUNDLE_FILE = "index.js";
/** Where the bundle's other modules go, beside index.js. */
export const CHUNK_DIR = "chunks";

/**
 * Modules that start a file of their own. V8 parses each ES module file on its own and frees the
 * parser's memory before the next, so the peak at a cold start follows the largest file rather
 * than the whole bundle: the same code as one file peaks higher and starts slower
 * (`npm run bench -- cold-init`, "one file" rows). Each is also an entry point of its own (a small
 * facade file nothing loads); esbuild puts the code every entry shares into chunks/, and tree
 * shaking is unchanged because these are the janitor's own modules, not whole packages.
 *
 * One split, at the SDK clients: the SDK's shared core, credentials and HTTP handler in files of
 * their own, which the credential providers loaded later share. More split points made more and
 * smaller files, and every file an import loads costs its own resolution, fetch and module setup:
 * splitting also at the config, the events, the two AWS adapters and the metrics loaded 29 files
 * instead of 14 and took some 0.2 of the floor's time more.
 *
 * An import() is an entry too: a module that both the handlers and a lazily loaded module import
 * goes to a chunk of its own, one more file at every cold start. So what is loaded lazily imports
 * nothing of the janitor's own (src/config/yaml.ts), and takes an SDK client through a module that
 * names what it uses (src/aws/s3-api.ts), never the package's whole namespace
 * (test/unit/bundle-loading.test.ts).
 */
const SPLIT_POINTS = [
  "src/aws/clients.ts", // the SDK's shared core, credentials and HTTP handler
];
/** A split point's file name, or its folder's for an index.ts: `entry-audit`, not `entry-index`. */
function splitName(module: string): string {
  const { dir, name } = path.parse(module);
  return name === "index" ? path.basename(dir) : name;
}
/**
 * The config's name inside the artifact; JANITOR_CONFIG in serverless.yml points at it. Written as
 * JSON whatever the source: JSON.parse is built into the engine, while a YAML reader is some 160 KB
 * of code that every cold start would parse.
 */
export const BUNDLED_CONFIG_FILE = "janitor.json";

/**
 * `bundled` ships the AWS SDK inside index.js; `external` leaves `@aws-sdk/*` imports for the
 * SDK that the nodejs24.x runtime provides. The deployment uses `bundled` (see README, "Bundle").
 */
export type SdkMode = "bundled" | "external";

export interface BuildOptions {
  /** The janitor config to validate and ship inside the artifact. */
  configPath: string;
  outDir?: string;
  sdk?: SdkMode;
  /** False builds one index.js with no chunks, for comparison; the artifact is split. */
  split?: boolean;
}

export interface BuildResult {
  outDir: string;
  bundlePath: string;
  /** Every JavaScript file of the bundle together. */
  bundleBytes: number;
  /** The largest of them, which sets the parser's peak at a cold start. */
  largestFileBytes: number;
  sourceMapBytes: number;
  configPath: string;
  configHash: string;
  metafile: Metafile;
}

/** What artifactBuildOptions bundles, and where. */
export interface ArtifactBuildTarget {
  /** The module whose exports the main output file carries: the handler, for the artifact. */
  entry: string;
  /** The main output file's name in `outdir`, without `.js`. */
  entryName: string;
  outdir: string;
  sdk?: SdkMode;
  /** False: one file, no chunks (for comparison in the cold-init benchmark); default true. */
  split?: boolean;
  /** More entries with output files of their own beside the main one (name without `.js`). */
  also?: { entry: string; entryName: string }[];
}

/**
 * One module of the SDK, as published, whose import reads Node's global `ReadableStream` to
 * extend it: the web streams' class for S3's checksums of a streamed body. Node defines that
 * global lazily, and its first read loads the web streams (some 4 ms, 5 % of the floor's cold
 * start). Only the S3 client uses the class, but the module sits in a chunk every cold start
 * loads (esbuild places a module by the entries that reach it, and the SDK's shared index reaches
 * it from the handlers too), so the class is made on first use instead (`LAZY_CHECKSUM_STREAM`).
 */
const CHECKSUM_STREAM_MODULE =
  /[\\/]@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]serde[\\/]util-stream[\\/]checksum[\\/]ChecksumStream\.browser\.js$/;
export const CHECKSUM_STREAM_AS_PUBLISHED = `const ReadableStreamRef = typeof ReadableStream === "function" ? ReadableStream : function () { };
export class ChecksumStream extends ReadableStreamRef {
}
`;
/**
 * The same class, made when first used: `ChecksumStream` stands for it, reading, constructing
 * and `instanceof` going through to it, so its prototype is still the web streams' own.
 */
export const LAZY_CHECKSUM_STREAM = `let made;
function real() {
  made ??= class ChecksumStream extends (typeof ReadableStream === "function" ? ReadableStream : function () {}) {};
  return made;
}
export const ChecksumStream = new Proxy(function ChecksumStream() {}, {
  apply: () => {
    throw new TypeError("Class constructor ChecksumStream cannot be invoked without 'new'");
  },
  get: (_, key) => Reflect.get(real(), key),
  has: (_, key) => Reflect.has(real(), key),
  construct: (_, args, newTarget) => Reflect.construct(real(), args, newTarget === ChecksumStream ? real() : newTarget),
  getPrototypeOf: () => Reflect.getPrototypeOf(real()),
});
`;

/**
 * The esbuild plugin that loads LAZY_CHECKSUM_STREAM for that module, only while the module is
 * exactly as published: an SDK that changes it is bundled unchanged, and
 * test/unit/bundle-loading.test.ts (no web streams at a cold start) says so.
 */
const lazyChecksumStream: Plugin = {
  name: "lazy-checksum-stream",
  setup(builder) {
    builder.onLoad({ filter: CHECKSUM_STREAM_MODULE }, async (args) => {
      const published = await readFile(args.path, "utf8");
      return published === CHECKSUM_STREAM_AS_PUBLISHED
        ? { contents: LAZY_CHECKSUM_STREAM, loader: "js" }
        : undefined;
    });
  },
};

/**
 * The esbuild options of the Lambda artifact, for any entry: buildBundle builds the handler with
 * them, and the scale benchmark (bench/scenarios/scale.ts) builds its own entry with them, so that
 * what it measures is split, minified and shimmed as the deployed code is.
 */
export function artifactBuildOptions(target: ArtifactBuildTarget): EsbuildOptions & { metafile: true } {
  const split = target.split ?? true;
  return {
    entryPoints: [
      { in: target.entry, out: target.entryName },
      ...(target.also ?? []).map((extra) => ({ in: extra.entry, out: extra.entryName })),
      ...(split ? SPLIT_POINTS : []).map((module) => ({
        in: path.join(ROOT, module),
        out: `${CHUNK_DIR}/entry-${splitName(module)}`,
      })),
    ],
    outdir: target.outdir,
    splitting: split,
    chunkNames: `${CHUNK_DIR}/[name]-[hash]`,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    // The SDK's ESM builds tree-shake; its CommonJS builds do not.
    mainFields: ["module", "main"],
    // Names are kept: a stack trace from the function names the janitor's and the SDK's functions
    // without source maps, whose `--enable-source-maps` costs some 9 MB at a cold start
    // (README, "Bundle"). Whitespace and syntax minification leave the names alone; minified
    // names would save nothing measurable in memory or start time.
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: false,
    // Error classes name themselves after their class (JanitorError sets name = new.target.name):
    // where esbuild must rename a class to avoid a clash, this keeps ConfigError "ConfigError".
    keepNames: true,
    treeShaking: true,
    plugins: [lazyChecksumStream],
    // Mappings only, beside each file: unused unless NODE_OPTIONS turns on --enable-source-maps
    // (then stack traces point into src/), and there for mapping a logged trace by hand.
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
    external: target.sdk === "external" ? ["@aws-sdk/*"] : [],
    // Some bundled CommonJS dependencies call require() for Node built-ins, which an ES module
    // does not have.
    banner: {
      js: 'import{createRequire as __janitorCreateRequire}from"node:module";const require=__janitorCreateRequire(import.meta.url);',
    },
  };
}

/**
 * Validates the config, then bundles the Lambda handler with it into `outDir`:
 * index.js (ESM, whitespace-minified) with the modules it loads in chunks/, a source map beside
 * each file, package.json (`type: module`, which is how the
 * Lambda runtime knows a `.js` file is ESM) and the config. A bad config throws ConfigError
 * before anything is written, so nothing stale or invalid can be packaged.
 */
export async function buildBundle(options: BuildOptions): Promise<BuildResult> {
  const outDir = path.resolve(options.outDir ?? DIST);
  const configPath = path.resolve(options.configPath);
  const config = await loadConfig(configPath);

  // A leftover file from an earlier build (another stage's config, say) must never be packaged.
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const bundlePath = path.join(outDir, BUNDLE_FILE);
  const result = await build(
    artifactBuildOptions({
      entry: HANDLER_ENTRY,
      entryName: path.parse(BUNDLE_FILE).name,
      outdir: outDir,
      ...(options.sdk ? { sdk: options.sdk } : {}),
      ...(options.split === false ? { split: false } : {}),
      // The one-file comparison build (cold-init benchmark) measures the sweep handler alone.
      ...(options.split === false
        ? {}
        : { also: [{ entry: REALTIME_ENTRY, entryName: path.parse(REALTIME_FILE).name }] }),
    }),
  );
  await writeFile(path.join(outDir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);

  const shippedConfig = path.join(outDir, BUNDLED_CONFIG_FILE);
  await writeFile(shippedConfig, `${JSON.stringify(await loadConfigData(configPath), jsonValue, 2)}\n`);
  // Read back as the handler will read it: the shipped config must be the one that was checked.
  const shipped = parseConfig(await readFile(shippedConfig, "utf8"), shippedConfig);
  if (configHash(shipped) !== configHash(config)) {
    throw new ConfigError([
      `${configPath}: reads differently once written as JSON; write its values as plain text`,
    ]);
  }

  const outputs = Object.entries(result.metafile.outputs);
  const bytesOf = (extension: string) =>
    outputs.filter(([file]) => file.endsWith(extension)).map(([, output]) => output.bytes);
  return {
    outDir,
    bundlePath,
    bundleBytes: sum(bytesOf(".js")),
    largestFileBytes: Math.max(...bytesOf(".js")),
    sourceMapBytes: sum(bytesOf(".map")),
    configPath,
    configHash: configHash(config),
    metafile: result.metafile,
  };
}

/**
 * A YAML 1.1 reader gives a bare date as a Date at midnight UTC, which the config reads back as
 * that date (src/config/until.ts); JSON's own `toJSON` would write the instant instead.
 */
function jsonValue(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (!(raw instanceof Date) || Number.isNaN(raw.getTime())) return value;
  const iso = raw.toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", default: process.env.JANITOR_CONFIG ?? "config/janitor.yaml" },
      // The serverless plugin passes this when the stage's `runtimeSdk` param is true.
      "runtime-sdk": { type: "boolean", default: false },
      outdir: { type: "string" },
    },
    strict: true,
  });
  try {
    const built = await buildBundle({
      configPath: values.config,
      sdk: values["runtime-sdk"] ? "external" : "bundled",
      ...(values.outdir ? { outDir: values.outdir } : {}),
    });
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
    process.stdout.write(
      `built ${path.relative(process.cwd(), built.bundlePath)} (${kb(built.bundleBytes)}, map ${kb(built.sourceMapBytes)}, SDK ${values["runtime-sdk"] ? "from the runtime" : "bundled"}) with config ${path.relative(process.cwd(), built.configPath)} (${built.configHash})\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.issues.join("\n")}\n`);
      return 2;
    }
    throw error;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
