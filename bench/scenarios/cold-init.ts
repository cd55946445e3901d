import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build as esbuild, type Metafile } from "esbuild";
import {
  artifactBuildOptions,
  BUNDLE_FILE,
  type BuildResult,
  buildBundle,
  REALTIME_FILE,
  type SdkMode,
} from "../../scripts/build.js";
import { median, type Scenario } from "../lib.js";

/**
 * Cold initialisation of the deployed handler: a fresh `node` process imports the artifact's
 * index.js (and through it the chunks it loads), as the Lambda runtime does at a cold start, and
 * reports how long the import took and the process's peak RSS right after it. Three artifacts: the
 * deployed one (the AWS SDK inside, split into chunks; its real-time handler, realtime.js, measured
 * beside the sweep's index.js), the SDK left to the runtime (simulated by
 * a node_modules link next to the bundle, to this repository's node_modules: ES modules ignore
 * NODE_PATH), and the deployed code as one file. The first two are measured as deployed, without
 * source maps, and with NODE_OPTIONS=--enable-source-maps for comparison. The floor is what no
 * handler of ours can beat: bench/floor-handler.ts, which only constructs the Organizations and
 * DynamoDB clients, built with the artifact's own esbuild options; `ofFloor` is the median of each
 * round's ratio to it, so that a slow spell weighs on both sides of a ratio alike, and `cpuOfFloor`
 * the same of the CPU time. `initCpuMs` is
 * the CPU time the import took (all of the process's threads), which other work on a shared
 * machine lengthens far less than the wall time. The variants take turns, one import each per
 * round, so that a slow spell of a shared machine does not favour any.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = join(ROOT, "node_modules", ".bin", "node");
const RUNS = 15;
/** Lambda's heap limits for a 128 MB function, as in bench/scenarios/scale.ts. */
const LAMBDA_128MB = ["--max-semi-space-size=6", "--max-old-space-size=116"];
const PROBE =
  "const c=process.cpuUsage();const t=performance.now();import(process.argv[1]).then(m=>{const ms=performance.now()-t;const u=process.cpuUsage(c);const cpu=(u.user+u.system)/1000;const rss=process.resourceUsage().maxRSS/1024;if(typeof m.handler!=='function')throw new Error('no handler');process.stdout.write(JSON.stringify({ms,cpu,rss}))})";

interface Variant {
  name: string;
  build: { sdk: SdkMode; split: boolean } | "floor";
  sourceMaps: boolean;
  /** The handler file imported, beside index.js; absent, index.js (the sweep). */
  file?: string;
}

const FLOOR: Variant = {
  name: "floor: the two clients alone",
  build: "floor",
  sourceMaps: false,
};

const VARIANTS: readonly Variant[] = [
  FLOOR,
  // As deployed: serverless.yml sets no NODE_OPTIONS.
  { name: "SDK bundled", build: { sdk: "bundled", split: true }, sourceMaps: false },
  // The real-time handler of the same artifact (serverless.yml, `realtime`).
  {
    name: "SDK bundled, real-time handler",
    build: { sdk: "bundled", split: true },
    sourceMaps: false,
    file: REALTIME_FILE,
  },
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
];

/** One cold import of the artifact in a fresh node process: milliseconds of wall and CPU time, and peak RSS in MB. */
function importOnce(
  built: BuildResult,
  sourceMaps: boolean,
  file = BUNDLE_FILE,
): { ms: number; cpu: number; rss: number } {
  const out = execFileSync(NODE, [...LAMBDA_128MB, "-e", PROBE, join(built.outDir, file)], {
    cwd: built.outDir,
    encoding: "utf8",
    // As the function's environment would set it; nothing inherited from the benchmark's.
    env: { ...process.env, NODE_OPTIONS: sourceMaps ? "--enable-source-maps" : "" },
  });
  return JSON.parse(out) as { ms: number; cpu: number; rss: number };
}

/** The output files an import of `entryFile` loads: it and its static imports, not what it loads later. */
function loadedFiles(metafile: Metafile, entryFile: string): string[] {
  const loaded = new Set<string>();
  const visit = (file: string) => {
    if (loaded.has(file)) return;
    loaded.add(file);
    for (const next of metafile.outputs[file]?.imports ?? []) {
      if (next.kind === "import-statement" && metafile.outputs[next.path]) visit(next.path);
    }
  };
  const entry = Object.keys(metafile.outputs).find((file) => file.endsWith(`/${entryFile}`));
  if (entry) visit(entry);
  return [...loaded];
}

/** The floor handler, built as the artifact is built (split, the SDK inside) into `outDir`. */
async function buildFloor(outDir: string): Promise<BuildResult> {
  const result = await esbuild(
    artifactBuildOptions({
      entry: join(ROOT, "bench/floor-handler.ts"),
      entryName: BUNDLE_FILE.replace(/\.js$/, ""),
      outdir: outDir,
    }),
  );
  writeFileSync(join(outDir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  // The floor is its index.js and what that imports: the janitor's entries are built beside it.
  const loaded = loadedFiles(result.metafile, BUNDLE_FILE);
  const sizes = loaded.map((file) => result.metafile.outputs[file]?.bytes ?? 0);
  return {
    outDir,
    bundlePath: join(outDir, BUNDLE_FILE),
    bundleBytes: sizes.reduce((a, b) => a + b, 0),
    largestFileBytes: Math.max(...sizes),
    sourceMapBytes: 0,
    configPath: "",
    configHash: "",
    metafile: result.metafile,
  };
}

export const scenario: Scenario = {
  name: "cold-init",
  async run() {
    const dirs: string[] = [];
    try {
      const builds = new Map<string, BuildResult>();
      const keyOf = ({ build }: Variant) => (build === "floor" ? build : `${build.sdk}/${build.split}`);
      for (const variant of VARIANTS) {
        const key = keyOf(variant);
        if (builds.has(key)) continue;
        const outDir = mkdtempSync(join(tmpdir(), "janitor-cold-init-"));
        dirs.push(outDir);
        const { build } = variant;
        if (build === "floor") {
          builds.set(key, await buildFloor(outDir));
          continue;
        }
        builds.set(
          key,
          await buildBundle({ configPath: join(ROOT, "config/janitor.yaml"), outDir, ...build }),
        );
        if (build.sdk === "external") symlinkSync(join(ROOT, "node_modules"), join(outDir, "node_modules"));
      }
      const built = (variant: Variant) => {
        const found = builds.get(keyOf(variant));
        if (!found) throw new Error(`no build for ${variant.name}`);
        return found;
      };
      // Round robin: a slow spell of this shared machine falls on every variant alike.
      const samples = VARIANTS.map(() => ({
        times: [] as number[],
        cpus: [] as number[],
        peaks: [] as number[],
      }));
      for (let round = 0; round < RUNS; round += 1) {
        VARIANTS.forEach((variant, i) => {
          const { ms, cpu, rss } = importOnce(built(variant), variant.sourceMaps, variant.file);
          samples[i]?.times.push(ms);
          samples[i]?.cpus.push(cpu);
          samples[i]?.peaks.push(rss);
        });
      }
      const floorTimes = samples[VARIANTS.indexOf(FLOOR)]?.times ?? [];
      const floorCpus = samples[VARIANTS.indexOf(FLOOR)]?.cpus ?? [];
      return VARIANTS.map((variant, i) => {
        const { times, cpus, peaks } = samples[i] ?? { times: [], cpus: [], peaks: [] };
        const ratios = times.map((ms, round) => ms / (floorTimes[round] ?? Number.NaN));
        const cpuRatios = cpus.map((ms, round) => ms / (floorCpus[round] ?? Number.NaN));
        return {
          scenario: `cold-init (medians of ${RUNS}, variants interleaved)`,
          variant: variant.name,
          metrics: {
            bundleKB: Math.round(built(variant).bundleBytes / 1024),
            largestFileKB: Math.round(built(variant).largestFileBytes / 1024),
            loadedKB: Math.round(
              loadedFiles(built(variant).metafile, variant.file ?? BUNDLE_FILE).reduce(
                (total, file) => total + (built(variant).metafile.outputs[file]?.bytes ?? 0),
                0,
              ) / 1024,
            ),
            initMsMedian: median(times),
            initMsMin: Math.min(...times),
            initCpuMsMedian: Number(median(cpus).toFixed(1)),
            ofFloor: Number(median(ratios).toFixed(2)),
            cpuOfFloor: Number(median(cpuRatios).toFixed(2)),
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
