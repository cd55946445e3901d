import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { artifactBuildOptions, type BuildResult, buildBundle, type SdkMode } from "../../scripts/build.js";
import { median, type Scenario } from "../lib.js";

/**
 * Cold initialisation of the deployed handler: a fresh `node` process imports the artifact's
 * index.js (and through it the chunks it loads), as the Lambda runtime does at a cold start, and
 * reports how long the import took and the process's peak RSS right after it. Three artifacts: the
 * deployed one (the AWS SDK inside, split into chunks), the SDK left to the runtime (simulated by
 * a node_modules link next to the bundle, to this repository's node_modules: ES modules ignore
 * NODE_PATH), and the deployed code as one file. The first two are measured as deployed, without
 * source maps, and with NODE_OPTIONS=--enable-source-maps for comparison. The variants take turns,
 * one import each per round, so that a slow spell of a shared machine does not favour any.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = join(ROOT, "node_modules", ".bin", "node");
const RUNS = 15;
/** Lambda's heap limits for a 128 MB function, as in bench/scenarios/scale.ts. */
const LAMBDA_128MB = ["--max-semi-space-size=6", "--max-old-space-size=116"];
const PROBE =
  "const t=performance.now();import(process.argv[1]).then(m=>{const ms=performance.now()-t;const rss=process.resourceUsage().maxRSS/1024;if(typeof m.handler!=='function')throw new Error('no handler');process.stdout.write(JSON.stringify({ms,rss}))})";

interface Variant {
  name: string;
  build: { sdk: SdkMode; split: boolean; floor?: true };
  sourceMaps: boolean;
}

const VARIANTS: readonly Variant[] = [
  // As deployed: serverless.yml sets no NODE_OPTIONS.
  { name: "SDK bundled", build: { sdk: "bundled", split: true }, sourceMaps: false },
  // What NODE_OPTIONS=--enable-source-maps would cost at a cold start.
  { name: "SDK bundled, --enable-source-maps", build: { sdk: "bundled", split: true }, sourceMaps: true },
  { name: "SDK from the runtime", build: { sdk: "external", split: true }, sourceMaps: false },
  {
    name: "SDK from the runtime, --enable-source-maps",
    build: { sdk: "external", split: true },
    sourceMaps: true,
  },
  // The same code as one file, as the artifact was built before it was split into chunks.
  { name: "SDK bundled, one file", build: { sdk: "bundled", split: false }, sourceMaps: false },
  // The floor: a handler that only constructs the Organizations and DynamoDB clients, bundled the same way.
  {
    name: "floor: the two clients alone",
    build: { sdk: "bundled", split: false, floor: true },
    sourceMaps: false,
  },
];

/** The floor's bundle: bench/floor-handler.ts through the artifact's own esbuild options. */
async function buildFloor(outDir: string): Promise<BuildResult> {
  const result = await build(
    artifactBuildOptions({
      entry: join(ROOT, "bench/floor-handler.ts"),
      entryName: "floor",
      outdir: outDir,
      split: false,
    }),
  );
  writeFileSync(join(outDir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  const files = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith(".js"));
  const sizes = files.map(([, output]) => output.bytes);
  return {
    outDir,
    bundlePath: join(outDir, "floor.js"),
    bundleBytes: sizes.reduce((sum, size) => sum + size, 0),
    largestFileBytes: Math.max(...sizes),
    sourceMapBytes: 0,
    configPath: "",
    configHash: "",
    metafile: result.metafile,
  };
}

/** One cold import of the artifact in a fresh node process: milliseconds, and peak RSS in MB. */
function keyOf(build: Variant["build"]): string {
  return build.floor ? "floor" : `${build.sdk}/${build.split}`;
}

function importOnce(built: BuildResult, sourceMaps: boolean): { ms: number; rss: number } {
  const out = execFileSync(NODE, [...LAMBDA_128MB, "-e", PROBE, built.bundlePath], {
    cwd: built.outDir,
    encoding: "utf8",
    // As the function's environment would set it; nothing inherited from the benchmark's.
    env: { ...process.env, NODE_OPTIONS: sourceMaps ? "--enable-source-maps" : "" },
  });
  return JSON.parse(out) as { ms: number; rss: number };
}

export const scenario: Scenario = {
  name: "cold-init",
  async run() {
    const dirs: string[] = [];
    try {
      const builds = new Map<string, BuildResult>();
      for (const { build } of VARIANTS) {
        const key = keyOf(build);
        if (builds.has(key)) continue;
        const outDir = mkdtempSync(join(tmpdir(), "janitor-cold-init-"));
        dirs.push(outDir);
        if (build.floor) {
          builds.set(key, await buildFloor(outDir));
          continue;
        }
        builds.set(
          key,
          await buildBundle({
            configPath: join(ROOT, "config/janitor.yaml"),
            outDir,
            sdk: build.sdk,
            split: build.split,
          }),
        );
        if (build.sdk === "external") symlinkSync(join(ROOT, "node_modules"), join(outDir, "node_modules"));
      }
      const built = (variant: Variant) => {
        const found = builds.get(keyOf(variant.build));
        if (!found) throw new Error(`no build for ${variant.name}`);
        return found;
      };
      // Round robin: a slow spell of this shared machine falls on every variant alike.
      const samples = VARIANTS.map(() => ({ times: [] as number[], peaks: [] as number[] }));
      for (let round = 0; round < RUNS; round += 1) {
        VARIANTS.forEach((variant, i) => {
          const { ms, rss } = importOnce(built(variant), variant.sourceMaps);
          samples[i]?.times.push(ms);
          samples[i]?.peaks.push(rss);
        });
      }
      const floor = median(samples[VARIANTS.findIndex((variant) => variant.build.floor)]?.times ?? []);
      return VARIANTS.map((variant, i) => {
        const { times, peaks } = samples[i] ?? { times: [], peaks: [] };
        return {
          scenario: `cold-init (medians of ${RUNS}, variants interleaved)`,
          variant: variant.name,
          metrics: {
            bundleKB: Math.round(built(variant).bundleBytes / 1024),
            largestFileKB: Math.round(built(variant).largestFileBytes / 1024),
            initMsMedian: median(times),
            initMsMin: Math.min(...times),
            // Against the floor's median: the janitor's import over the two clients' alone.
            ofFloor: Number((median(times) / floor).toFixed(2)),
            peakRssMB: median(peaks),
            runs: RUNS,
          },
        };
      });
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  },
};
