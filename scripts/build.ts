import { copyFile, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build, type Metafile, type Plugin } from "esbuild";
import { configHash, loadConfig, parseConfig } from "../src/core/config.js";
import { ConfigError } from "../src/core/errors.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const HANDLER_ENTRY = path.join(ROOT, "src/handlers/sweep.ts");
/** Where the bundle goes; serverless.yml's `package.patterns` and `handler` name these files. */
export const DIST = path.join(ROOT, "dist/sweep");
export const BUNDLE_FILE = "index.js";
/** The config's name inside the artifact; JANITOR_CONFIG in serverless.yml points at it. */
export const BUNDLED_CONFIG_FILE = "janitor.yaml";

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
}

export interface BuildResult {
  outDir: string;
  bundlePath: string;
  bundleBytes: number;
  sourceMapBytes: number;
  configPath: string;
  configHash: string;
  metafile: Metafile;
}

/**
 * zod's classic namespace re-exports every locale (`z.locales`), so no tree shaker can drop the
 * forty-odd translations, about a quarter of a megabyte of minified code that the handler parses
 * at every cold start. The janitor words its own messages (src/core/config.ts) and zod itself
 * falls back to English, which stays available under its own name.
 */
const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`)
        ? { path: path.resolve(args.resolveDir, "../locales/index.js"), namespace: "zod-english-only" }
        : undefined,
    );
    pluginBuild.onLoad({ filter: /.*/, namespace: "zod-english-only" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(path.dirname(args.path), "en.js"))};`,
      resolveDir: path.dirname(args.path),
    }));
  },
};

/**
 * Validates the config, then bundles the Lambda handler with it into `outDir`:
 * index.js (ESM, minified), index.js.map, package.json (`type: module`, which is how the
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
  const result = await build({
    entryPoints: [HANDLER_ENTRY],
    outfile: bundlePath,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    // The SDK's ESM builds tree-shake; its CommonJS builds do not.
    mainFields: ["module", "main"],
    minify: true,
    // Error classes name themselves after their class (JanitorError sets name = new.target.name):
    // minified names would turn ConfigError into "vt" in logs and in the invocation error.
    keepNames: true,
    treeShaking: true,
    // Mappings only: stack traces point into src/ without shipping the sources a second time.
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
    external: options.sdk === "external" ? ["@aws-sdk/*"] : [],
    plugins: [zodEnglishOnly],
    // Some bundled CommonJS dependencies call require() for Node built-ins, which an ES module
    // does not have.
    banner: {
      js: 'import{createRequire as __janitorCreateRequire}from"node:module";const require=__janitorCreateRequire(import.meta.url);',
    },
  });
  await writeFile(path.join(outDir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);

  const shippedConfig = path.join(outDir, BUNDLED_CONFIG_FILE);
  await copyFile(configPath, shippedConfig);
  // The copy is read back as the handler will read it: a JSON config must also parse as YAML.
  const shipped = parseConfig(await readFile(shippedConfig, "utf8"), shippedConfig);
  if (configHash(shipped) !== configHash(config)) {
    throw new ConfigError([`${configPath}: reads differently as YAML than as JSON; write it in YAML`]);
  }

  return {
    outDir,
    bundlePath,
    bundleBytes: (await stat(bundlePath)).size,
    sourceMapBytes: (await stat(`${bundlePath}.map`)).size,
    configPath,
    configHash: configHash(config),
    metafile: result.metafile,
  };
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
