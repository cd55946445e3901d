import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuildResult, buildBundle, type SdkMode } from "../../scripts/build.js";
import { type BenchRow, median, type Scenario } from "../lib.js";

/**
 * Cold initialisation of the deployed handler: a fresh `node` process imports the artifact's
 * index.js (and through it the chunks it loads), as the Lambda runtime does at a cold start, and
 * reports how long the import took and the process's peak RSS right after it. Two artifacts: the
 * AWS SDK inside it, and the SDK left to the runtime (simulated by a node_modules link next to the
 * bundle, to this repository's node_modules: ES modules ignore NODE_PATH). Each is measured as
 * deployed, without source maps, and with NODE_OPTIONS=--enable-source-maps for comparison.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = join(ROOT, "node_modules", ".bin", "node");
const RUNS = 9;
/** Lambda's heap limits for a 128 MB function, as in bench/scenarios/scale.ts. */
const LAMBDA_128MB = ["--max-semi-space-size=6", "--max-old-space-size=116"];
const PROBE =
  "const t=performance.now();import(process.argv[1]).then(m=>{const ms=performance.now()-t;const rss=process.resourceUsage().maxRSS/1024;if(typeof m.handler!=='function')throw new Error('no handler');process.stdout.write(JSON.stringify({ms,rss}))})";

function measure(built: BuildResult, sourceMaps: boolean): BenchRow["metrics"] {
  const times: number[] = [];
  const peaks: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const out = execFileSync(NODE, [...LAMBDA_128MB, "-e", PROBE, built.bundlePath], {
      cwd: built.outDir,
      encoding: "utf8",
      // As the function's environment would set it; nothing inherited from the benchmark's.
      env: { ...process.env, NODE_OPTIONS: sourceMaps ? "--enable-source-maps" : "" },
    });
    const { ms, rss } = JSON.parse(out) as { ms: number; rss: number };
    times.push(ms);
    peaks.push(rss);
  }
  return {
    bundleKB: Math.round(built.bundleBytes / 1024),
    largestFileKB: Math.round(built.largestFileBytes / 1024),
    initMsMedian: median(times),
    initMsMin: Math.min(...times),
    peakRssMB: median(peaks),
    runs: RUNS,
  };
}

export const scenario: Scenario = {
  name: "cold-init",
  async run() {
    const rows: BenchRow[] = [];
    for (const sdk of ["bundled", "external"] satisfies SdkMode[]) {
      const label = sdk === "external" ? "SDK from the runtime" : "SDK bundled";
      const outDir = mkdtempSync(join(tmpdir(), "janitor-cold-init-"));
      try {
        const built = await buildBundle({ configPath: join(ROOT, "config/janitor.yaml"), outDir, sdk });
        if (sdk === "external") symlinkSync(join(ROOT, "node_modules"), join(outDir, "node_modules"));
        // As deployed: serverless.yml sets no NODE_OPTIONS.
        rows.push({ scenario: "cold-init", variant: label, metrics: measure(built, false) });
        // What NODE_OPTIONS=--enable-source-maps would cost at a cold start.
        rows.push({
          scenario: "cold-init",
          variant: `${label}, --enable-source-maps`,
          metrics: measure(built, true),
        });
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
    }
    // The same code as one file, as the artifact was built before it was split into chunks.
    const outDir = mkdtempSync(join(tmpdir(), "janitor-cold-init-"));
    try {
      const built = await buildBundle({
        configPath: join(ROOT, "config/janitor.yaml"),
        outDir,
        split: false,
      });
      rows.push({ scenario: "cold-init", variant: "SDK bundled, one file", metrics: measure(built, false) });
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
    return rows;
  },
};
