import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchRow, median, type Scenario } from "../lib.js";

/**
 * Cold initialisation of the deployed handler: a fresh `node` process imports the bundle, as the
 * Lambda runtime does at a cold start, and reports how long the import took. Two bundles: the AWS
 * SDK inside it, and the SDK left to the runtime (simulated by a node_modules link next to the
 * bundle, to this repository's node_modules: ES modules ignore NODE_PATH).
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RUNS = 9;
const PROBE =
  "const t=performance.now();import(process.argv[1]).then(m=>{if(typeof m.handler!=='function')throw new Error('no handler');process.stdout.write(String(performance.now()-t))})";

function build(outDir: string, runtimeSdk: boolean): void {
  const args = [join(ROOT, "scripts/build.ts"), "--config", "config/janitor.yaml", "--outdir", outDir];
  if (runtimeSdk) args.push("--runtime-sdk");
  execFileSync(join(ROOT, "node_modules/.bin/tsx"), args, { cwd: ROOT, stdio: "ignore" });
}

function measure(outDir: string, sourceMaps = true): BenchRow["metrics"] {
  const bundle = join(outDir, "index.js");
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const out = execFileSync(
      process.execPath,
      [...(sourceMaps ? ["--enable-source-maps"] : []), "-e", PROBE, bundle],
      {
        cwd: outDir,
        encoding: "utf8",
      },
    );
    samples.push(Number(out));
  }
  return {
    bundleKB: Math.round(statSync(bundle).size / 1024),
    initMsMedian: median(samples),
    initMsMin: Math.min(...samples),
    runs: RUNS,
  };
}

export const scenario: Scenario = {
  name: "cold-init",
  async run() {
    const rows: BenchRow[] = [];
    for (const runtimeSdk of [false, true]) {
      const outDir = mkdtempSync(join(tmpdir(), "janitor-cold-init-"));
      try {
        build(outDir, runtimeSdk);
        if (runtimeSdk) symlinkSync(join(ROOT, "node_modules"), join(outDir, "node_modules"));
        rows.push({
          scenario: "cold-init",
          variant: runtimeSdk ? "SDK from the runtime" : "SDK bundled",
          metrics: measure(outDir),
        });
        // What NODE_OPTIONS=--enable-source-maps (set in serverless.yml) costs at a cold start.
        rows.push({
          scenario: "cold-init",
          variant: `${runtimeSdk ? "SDK from the runtime" : "SDK bundled"}, no --enable-source-maps`,
          metrics: measure(outDir, false),
        });
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
    }
    return rows;
  },
};
