import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { ensureAuditTable } from "../../src/aws/audit-table.js";
import { createClients } from "../../src/aws/clients.js";
import { DEMO_CONFIG } from "../../src/cli/demo.js";
import { startDynamoDbLocal } from "../../src/local/dynamodb-local.js";
import { startOrganizationsEmulator } from "../../src/local/org-emulator.js";
import { largeOrganization } from "../../src/local/sample-org.js";
import { type BenchRow, median, type Scenario } from "../lib.js";

/**
 * An organization of 10,000 handshakes (largeOrganization), listed and evaluated by the demo's
 * rules. The measured process is bench/scale-child.ts, bundled by esbuild and run by plain node as
 * Lambda runs the artifact, so that its peak RSS can be held against a 128 MB function:
 *
 * - "list + plan": all 500 pages listed, then the pure planner, whose CPU time is taken alone;
 * - "handler dry run": one dry-run invocation of the Lambda handler, a DRY_RUN audit item written
 *   to DynamoDB Local for every decision.
 *
 * The emulator answers without added latency or throttling: the wall times are the janitor's own
 * work plus local round trips, not what a real, throttled Organizations would take.
 */
export const SCALE_SETUP = { handshakes: 10_000, runs: 3 };

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const OUT = join(ROOT, ".bench", "scale");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const RESULT_PREFIX = "SCALE_RESULT ";

/**
 * The heap limits Lambda's Node.js bootstrap derives from a 128 MB memory size (a tenth for the
 * new space, half of that per semi-space, the rest old space). Without them V8 sizes its heap for
 * this machine's memory and collects later, so the peak is higher than in the function.
 */
const LAMBDA_128MB = ["--max-semi-space-size=6", "--max-old-space-size=116"];

interface Variant {
  name: string;
  mode: "plan" | "handler";
  nodeFlags: string[];
}
const VARIANTS: readonly Variant[] = [
  { name: "list + plan, node's default heap sizing", mode: "plan", nodeFlags: [] },
  { name: "list + plan, Lambda 128 MB heap limits", mode: "plan", nodeFlags: LAMBDA_128MB },
  { name: "handler dry run + audit, Lambda 128 MB heap limits", mode: "handler", nodeFlags: LAMBDA_128MB },
];

async function bundle(): Promise<string> {
  const outfile = join(OUT, "scale-child.mjs");
  await build({
    entryPoints: [join(ROOT, "bench", "scale-child.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    // As scripts/build.ts bundles the deployed handler: the SDK's tree-shakable ES builds, minified.
    mainFields: ["module", "main"],
    minify: true,
    keepNames: true,
    // Some dependencies are CommonJS and call require(); an ES module bundle has none of its own.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: "error",
  });
  return outfile;
}

function runChild(
  script: string,
  variant: Variant,
  env: Record<string, string>,
): Promise<Record<string, number>> {
  const { mode } = variant;
  return new Promise((resolve, reject) => {
    execFile(
      NODE,
      [...variant.nodeFlags, script, mode],
      { cwd: OUT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`scale child (${mode}) failed: ${error.message}\n${stderr}`));
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

export const scenario: Scenario = {
  name: "scale",
  async run() {
    mkdirSync(OUT, { recursive: true });
    // The demo's rules with no cap to speak of: every decision gets its DRY_RUN item written.
    const configPath = join(OUT, "janitor.yaml");
    writeFileSync(
      configPath,
      readFileSync(DEMO_CONFIG, "utf8").replace(
        /maxCancellationsPerRun: \d+/,
        "maxCancellationsPerRun: 100000",
      ),
    );
    const [script, org, db] = await Promise.all([
      bundle(),
      startOrganizationsEmulator({ handshakes: largeOrganization(new Date(), SCALE_SETUP.handshakes) }),
      startDynamoDbLocal(),
    ]);
    try {
      const tableName = "bench-scale-audit";
      const env = {
        AWS_ENDPOINT_URL_ORGANIZATIONS: org.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        AWS_REGION: "us-east-1",
        AUDIT_TABLE_NAME: tableName,
        JANITOR_CONFIG: configPath,
        POWERTOOLS_LOG_LEVEL: "ERROR",
        POWERTOOLS_METRICS_DISABLED: "true",
      };
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const clients = createClients();
        await ensureAuditTable(clients.dynamodb, tableName);
        clients.dynamodb.destroy();
        clients.organizations.destroy();
      } finally {
        process.env = saved;
      }

      const rows: BenchRow[] = [];
      for (const variant of VARIANTS) {
        const runs: Record<string, number>[] = [];
        for (let run = 0; run < SCALE_SETUP.runs; run += 1) {
          const measured = await runChild(script, variant, env);
          process.stderr.write(`  ${variant.name} #${run + 1}: ${JSON.stringify(measured)}\n`);
          runs.push(measured);
        }
        const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))];
        rows.push({
          scenario: `scale: ${SCALE_SETUP.handshakes.toLocaleString("en")} handshakes, demo rules, bundled and run by plain node (median of ${SCALE_SETUP.runs})`,
          variant: variant.name,
          metrics: Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k] ?? Number.NaN))])),
        });
      }
      return rows;
    } finally {
      await Promise.all([org.stop(), db.stop()]);
    }
  },
};
