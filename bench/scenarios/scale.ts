import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { parse } from "yaml";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import { startDynamoDbLocal } from "../../devtools/dynamodb-local.js";
import { startOrganizationsEmulator } from "../../devtools/org-emulator/index.js";
import { largeOrganization } from "../../devtools/sample-org.js";
import { ensureLocalAuditTable, localStackEnv } from "../../devtools/stack-env.js";
import { artifactBuildOptions, BUNDLE_FILE, BUNDLED_CONFIG_FILE, buildBundle } from "../../scripts/build.js";
import { type BenchRow, median, type Scenario } from "../lib.js";

/**
 * An organization of 10,000 handshakes (largeOrganization), listed and evaluated by the demo's
 * rules, in processes run by plain node as Lambda runs the artifact, so that their peak RSS can be
 * held against a 128 MB function:
 *
 * - "list + plan": bench/scale-child.ts, bundled with the artifact's esbuild options
 *   (artifactBuildOptions), lists all 500 pages, then runs the pure planner, whose CPU time is
 *   taken alone;
 * - "handler dry run": the artifact itself, built by buildBundle as `serverless package` builds
 *   it; a small driver imports its index.js and invokes the handler once with `{ dryRun: true }`,
 *   a DRY_RUN audit item written to DynamoDB Local for every decision. It runs with the
 *   NODE_OPTIONS that serverless.yml deploys, and once more with --enable-source-maps toggled,
 *   so that what source maps cost stays in view;
 * - "handler run that cancels": the same artifact with the config's dryRun: false, so every
 *   selected handshake gets its intent, CancelHandshake and outcome, each run against an
 *   organization of its own;
 * - both handler runs once more inside a memory cgroup (where this machine has one to create):
 *   at 128 MB, and down to the smallest limit under which the kernel lets them complete.
 *
 * The emulator answers without added latency or throttling: the wall times are the janitor's own
 * work plus local round trips, not what a real, throttled Organizations would take.
 */
export const SCALE_SETUP = { handshakes: 10_000, runs: 3 };

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const OUT = join(ROOT, ".bench", "scale");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const RESULT_PREFIX = "SCALE_RESULT ";
const SOURCE_MAPS = "--enable-source-maps";

/**
 * The heap limits Lambda's Node.js bootstrap derives from a 128 MB memory size (a tenth for the
 * new space, half of that per semi-space, the rest old space). Without them V8 sizes its heap for
 * this machine's memory and collects later, so the peak is higher than in the function.
 */
const LAMBDA_128MB = ["--max-semi-space-size=6", "--max-old-space-size=116"];

/**
 * The deployed function's NODE_OPTIONS (serverless.yml, functions.sweep.environment), split into
 * flags; none when it sets none. The Lambda runtime hands it to node as the environment variable,
 * and so does the benchmark.
 */
function deployedNodeOptions(): string[] {
  const serverless = parse(readFileSync(join(ROOT, "serverless.yml"), "utf8")) as {
    functions?: { sweep?: { environment?: Record<string, unknown> } };
  };
  const value = serverless.functions?.sweep?.environment?.NODE_OPTIONS;
  if (value === undefined || value === null) return [];
  if (typeof value !== "string" || value.includes("${")) {
    throw new Error(
      `serverless.yml: NODE_OPTIONS of functions.sweep is not a plain string: ${String(value)}`,
    );
  }
  return value.split(/\s+/).filter((flag) => flag.length > 0);
}

/** Where this machine lets a process be held to a memory limit: cgroup v1's memory controller. */
const MEMORY_CGROUP_ROOT = "/sys/fs/cgroup/memory";
const CGROUP_LIMITS_MB = { lambda: 128, lowest: 48, step: 4 };

/** A memory cgroup with this limit, or undefined when this machine offers none to create. */
function memoryCgroup(limitMB: number): { dir: string; remove: () => void } | undefined {
  if (!existsSync(join(MEMORY_CGROUP_ROOT, "memory.limit_in_bytes"))) return undefined;
  const dir = join(MEMORY_CGROUP_ROOT, `handshake-janitor-bench-${process.pid}-${limitMB}`);
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, "memory.limit_in_bytes"), String(limitMB * 1024 * 1024));
  } catch {
    return undefined;
  }
  // A cgroup is removed with rmdir, once no process is left in it.
  return { dir, remove: () => rmdirSync(dir) };
}

/**
 * Invokes the artifact's handler once, as the Lambda runtime does after importing it: plain
 * JavaScript, so that nothing but the artifact is built. argv[2] is the artifact's index.js.
 */
const HANDLER_DRIVER = `import { pathToFileURL } from "node:url";
const { handler } = await import(pathToFileURL(process.argv[2]).href);
const context = {
  awsRequestId: "scale-" + process.pid + "-" + Date.now(),
  functionName: "handshake-janitor-bench-sweep",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:handshake-janitor-bench-sweep",
  memoryLimitInMB: "128",
  logGroupName: "/aws/lambda/handshake-janitor-bench-sweep",
  logStreamName: "bench",
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 900000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};
const started = performance.now();
// argv[3] "cancel": the config decides (the demo's says dryRun: false), so every selected handshake is canceled.
const summary = await handler(process.argv[3] === "cancel" ? {} : { dryRun: true }, context);
const measured = {
  listed: summary.listed,
  decisions: summary.actions.length,
  canceled: summary.counts.CANCELED ?? 0,
  wallS: (performance.now() - started) / 1000,
  summaryKB: Buffer.byteLength(JSON.stringify(summary)) / 1024,
};
// Peak resident set over the whole life of the process: what Lambda's memory limit is held against.
const peakRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write("\\n" + ${JSON.stringify(RESULT_PREFIX)} + JSON.stringify({ ...measured, peakRssMB }) + "\\n");
`;

interface Variant {
  name: string;
  mode: "plan" | "handler";
  /** The handler cancels what it selects, against an organization of its own for each run. */
  cancels?: boolean;
  /** A handler run as deployed (NODE_OPTIONS included), also measured under the kernel's limit. */
  asDeployed?: boolean;
  /** node's own arguments: the heap limits Lambda's bootstrap passes. */
  heapFlags: string[];
  /** NODE_OPTIONS, as the function's environment sets it. */
  nodeOptions: string[];
}

function variants(): Variant[] {
  const deployed = deployedNodeOptions();
  const withSourceMaps = deployed.includes(SOURCE_MAPS);
  const shown = deployed.length > 0 ? `, NODE_OPTIONS ${deployed.join(" ")}` : "";
  return [
    {
      name: `list + plan, node's default heap sizing${shown}`,
      mode: "plan",
      heapFlags: [],
      nodeOptions: deployed,
    },
    {
      name: `list + plan, Lambda 128 MB heap limits${shown}`,
      mode: "plan",
      heapFlags: LAMBDA_128MB,
      nodeOptions: deployed,
    },
    {
      name: `handler dry run + audit, Lambda 128 MB heap limits${shown}`,
      mode: "handler",
      asDeployed: true,
      heapFlags: LAMBDA_128MB,
      nodeOptions: deployed,
    },
    // Source maps toggled against the deployment, whichever way it has them.
    {
      name: `same, ${withSourceMaps ? "without" : "with"} ${SOURCE_MAPS}`,
      mode: "handler",
      heapFlags: LAMBDA_128MB,
      nodeOptions: withSourceMaps
        ? deployed.filter((flag) => flag !== SOURCE_MAPS)
        : [...deployed, SOURCE_MAPS],
    },
    {
      name: `handler run that cancels every selected handshake, Lambda 128 MB heap limits${shown}`,
      mode: "handler",
      cancels: true,
      asDeployed: true,
      heapFlags: LAMBDA_128MB,
      nodeOptions: deployed,
    },
  ];
}

/** A run that cancels needs the whole organization again: an emulator of its own, stopped after. */
async function withFreshOrganization<T>(run: (endpoint: string) => Promise<T>): Promise<T> {
  const org = await startOrganizationsEmulator({
    handshakes: largeOrganization(new Date(), SCALE_SETUP.handshakes),
  });
  try {
    return await run(org.endpoint);
  } finally {
    await org.stop();
  }
}

/** bench/scale-child.ts, built as the artifact is built; returns the script to run. */
async function buildPlanChild(): Promise<string> {
  const outdir = join(OUT, "plan");
  rmSync(outdir, { recursive: true, force: true });
  await build(
    artifactBuildOptions({ entry: join(ROOT, "bench", "scale-child.ts"), entryName: "scale-child", outdir }),
  );
  // As in the artifact: `.js` files that node loads as ES modules.
  writeFileSync(join(outdir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  return join(outdir, "scale-child.js");
}

function runChild(
  args: string[],
  variant: Variant,
  env: Record<string, string>,
  cgroup?: string,
): Promise<Record<string, number>> {
  const { mode } = variant;
  // In a cgroup: a shell moves itself into it, then becomes node, so node is held from its start.
  const [file, argv] = cgroup
    ? [
        "/bin/sh",
        ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, NODE, ...variant.heapFlags, ...args],
      ]
    : [NODE, [...variant.heapFlags, ...args]];
  return new Promise((resolve, reject) => {
    execFile(
      file,
      argv,
      {
        cwd: OUT,
        // NODE_OPTIONS set outright, so that none of the benchmark's own environment leaks in.
        env: { ...process.env, ...env, NODE_OPTIONS: variant.nodeOptions.join(" ") },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 300_000,
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            Object.assign(new Error(`scale child (${mode}) failed: ${error.message}\n${stderr}`), {
              signal: error.signal,
            }),
          );
          return;
        }
        const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
        if (!line) {
          reject(new Error(`scale child (${mode}) printed no result:\n${stdout.slice(-2000)}`));
          return;
        }
        resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as Record<string, number>);
      },
    );
  });
}

/**
 * A handler run held by the kernel to a memory limit, as a function's memory is: at 128 MB, then
 * the smallest limit it still completes in (bisection in 4 MB steps). The kernel charges what the
 * process allocates and the file pages it is first to read; pages of the node binary already
 * cached by other processes are not charged, so the charged peak is below the RSS. No row when
 * this machine offers no memory cgroup to create.
 */
async function underLimits(
  variant: Variant,
  measure: (cgroup: string) => Promise<Record<string, number>>,
): Promise<BenchRow | undefined> {
  const attempt = async (limitMB: number) => {
    const cgroup = memoryCgroup(limitMB);
    if (!cgroup) return undefined;
    try {
      // Killed by the kernel for want of memory is a result; any other failure is not.
      const measured = await measure(cgroup.dir).catch((error: { signal?: string }) => {
        if (error.signal === "SIGKILL") return undefined;
        throw error;
      });
      const charged =
        Number(readFileSync(join(cgroup.dir, "memory.max_usage_in_bytes"), "utf8")) / 1024 / 1024;
      process.stderr.write(
        `  ${variant.name} under ${limitMB} MB: ${measured ? "completed" : "killed"}, charged ${charged.toFixed(1)} MB\n`,
      );
      return { completed: measured !== undefined, chargedPeakMB: charged, peakRssMB: measured?.peakRssMB };
    } finally {
      cgroup.remove();
    }
  };
  const { lambda, lowest, step } = CGROUP_LIMITS_MB;
  const atLambda = await attempt(lambda);
  if (!atLambda) {
    process.stderr.write(
      "  no memory cgroup can be created here: the rows under a kernel limit are left out\n",
    );
    return undefined;
  }
  // Completes at `high`, not (or not tried) at `low`: halve the gap to one step.
  let [low, high] = [lowest - step, lambda];
  if (!atLambda.completed) high = Number.NaN;
  while (Number.isFinite(high) && high - low > step) {
    const mid = low + Math.floor((high - low) / 2 / step) * step;
    const result = await attempt(mid);
    if (result?.completed) high = mid;
    else low = mid;
  }
  return {
    scenario: `scale: handler runs held to a memory limit by the kernel (memory cgroup), limit ${lambda} MB, then the smallest that completes (${step} MB steps)`,
    variant: variant.name,
    metrics: {
      completedAt128: atLambda.completed ? 1 : 0,
      chargedPeakMB: atLambda.chargedPeakMB,
      peakRssMB: atLambda.peakRssMB ?? Number.NaN,
      smallestLimitMB: high,
    },
  };
}

export const scenario: Scenario = {
  name: "scale",
  async run() {
    mkdirSync(OUT, { recursive: true });
    const toRun = variants();
    // The demo's rules with no cap to speak of: every decision gets its DRY_RUN item written. A
    // cap above 10,000 must say why, as any config must.
    const configPath = join(OUT, "janitor.yaml");
    const demo = readFileSync(DEMO_CONFIG, "utf8");
    const uncapped = demo.replace(
      /^maxCancellationsPerRun: \d+.*$/m,
      'maxCancellationsPerRun: 100000\nmaxCancellationsReason: "benchmark: every one of 10,000 handshakes may be selected"',
    );
    if (uncapped === demo) throw new Error(`${DEMO_CONFIG} has no maxCancellationsPerRun line to raise`);
    writeFileSync(configPath, uncapped);
    const driver = join(OUT, "handler-driver.mjs");
    writeFileSync(driver, HANDLER_DRIVER);
    // Built before the servers start, so that a failed build leaves none running.
    const [planChild, artifact] = await Promise.all([
      buildPlanChild(),
      buildBundle({ configPath, outDir: join(OUT, "artifact") }),
    ]);
    const [org, db] = await Promise.all([
      startOrganizationsEmulator({ handshakes: largeOrganization(new Date(), SCALE_SETUP.handshakes) }),
      startDynamoDbLocal(),
    ]);
    const args: Record<Variant["mode"], string[]> = {
      plan: [planChild],
      handler: [driver, join(artifact.outDir, BUNDLE_FILE)],
    };
    try {
      const tableName = "bench-scale-audit";
      const env = {
        ...localStackEnv({ organizations: org.endpoint, dynamodb: db.endpoint }, tableName),
        // The copy inside the artifact, as serverless.yml points the function at it.
        JANITOR_CONFIG: join(artifact.outDir, BUNDLED_CONFIG_FILE),
        POWERTOOLS_LOG_LEVEL: "ERROR",
        POWERTOOLS_METRICS_DISABLED: "true",
      };
      await ensureLocalAuditTable(db.endpoint, tableName);

      // A cancelling run gets a table of its own as well as an organization: one the kernel killed
      // under a low limit leaves the organization's lease held in its table until it lapses.
      let cancellingRuns = 0;
      const freshTable = async () => {
        cancellingRuns += 1;
        const name = `${tableName}-cancel-${cancellingRuns}`;
        await ensureLocalAuditTable(db.endpoint, name);
        return name;
      };
      const measure = async (variant: Variant, cgroup?: string) =>
        variant.cancels
          ? withFreshOrganization(async (endpoint) =>
              runChild(
                [...args.handler, "cancel"],
                variant,
                { ...env, AUDIT_TABLE_NAME: await freshTable(), AWS_ENDPOINT_URL_ORGANIZATIONS: endpoint },
                cgroup,
              ),
            )
          : runChild(args[variant.mode], variant, env, cgroup);
      const rows: BenchRow[] = [];
      for (const variant of toRun) {
        const runs: Record<string, number>[] = [];
        for (let run = 0; run < SCALE_SETUP.runs; run += 1) {
          const measured = await measure(variant);
          process.stderr.write(`  ${variant.name} #${run + 1}: ${JSON.stringify(measured)}\n`);
          runs.push(measured);
        }
        const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))];
        rows.push({
          scenario: `scale: ${SCALE_SETUP.handshakes.toLocaleString("en")} handshakes, demo rules, built as the artifact and run by plain node (median of ${SCALE_SETUP.runs})`,
          variant: variant.name,
          metrics: Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k] ?? Number.NaN))])),
        });
      }
      // The deployed configuration's handler runs, dry and cancelling, under the kernel's limit.
      for (const variant of toRun.filter((v) => v.asDeployed)) {
        const row = await underLimits(variant, (cgroup) => measure(variant, cgroup));
        if (row) rows.push(row);
      }
      return rows;
    } finally {
      await Promise.all([org.stop(), db.stop()]);
    }
  },
};
