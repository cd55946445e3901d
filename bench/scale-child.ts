/**
 * The process the scale benchmark measures (bench/scenarios/scale.ts). It is bundled with esbuild
 * like the Lambda artifact and run by plain node, so that its peak RSS is the janitor's own and
 * not a TypeScript loader's. Modes:
 *
 * - `plan`: list every handshake of the organization and plan, as a dry run decides; reports the
 *   listing's wall time and the planner's CPU time on its own;
 * - `handler`: one dry-run invocation of the Lambda handler, the audit writes included.
 *
 * Endpoints, table and config come from the environment, as for the CLI and the handler. The
 * result is the last line of stdout, after the handler's own log lines.
 */
import type { Context } from "aws-lambda";
import { createClients } from "../src/aws/clients.js";
import { createOrganizationsAdapter } from "../src/aws/organizations.js";
import { loadConfig } from "../src/core/config.js";
import { plan } from "../src/core/plan.js";
import { handler } from "../src/handlers/sweep.js";

// bench/scenarios/scale.ts looks for this prefix (not imported from here: that would run this module).
const RESULT_PREFIX = "SCALE_RESULT ";

async function planOnly(): Promise<Record<string, number>> {
  const config = await loadConfig(process.env.JANITOR_CONFIG ?? "janitor.yaml");
  const clients = createClients();
  try {
    const started = performance.now();
    const handshakes = await createOrganizationsAdapter({ client: clients.organizations }).listHandshakes();
    const listed = performance.now();
    const cpu = process.cpuUsage();
    const decided = plan({ handshakes, config, now: new Date() });
    const planCpu = process.cpuUsage(cpu);
    const planned = performance.now();
    return {
      listed: decided.listed,
      decisions: decided.decisions.length,
      wallS: (planned - started) / 1000,
      listS: (listed - started) / 1000,
      planWallMs: planned - listed,
      planCpuMs: (planCpu.user + planCpu.system) / 1000,
    };
  } finally {
    clients.organizations.destroy();
    clients.dynamodb.destroy();
  }
}

async function handlerDryRun(): Promise<Record<string, number>> {
  const context = {
    awsRequestId: `scale-${process.pid}-${Date.now()}`,
    functionName: "handshake-janitor-bench-sweep",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:handshake-janitor-bench-sweep",
    memoryLimitInMB: "128",
    logGroupName: "/aws/lambda/handshake-janitor-bench-sweep",
    logStreamName: "bench",
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 900_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  } satisfies Context;
  const started = performance.now();
  const summary = await handler({ dryRun: true }, context);
  return {
    listed: summary.listed,
    decisions: summary.actions.length,
    wallS: (performance.now() - started) / 1000,
    summaryKB: Buffer.byteLength(JSON.stringify(summary)) / 1024,
  };
}

const mode = process.argv[2];
const measured = mode === "plan" ? await planOnly() : mode === "handler" ? await handlerDryRun() : undefined;
if (measured === undefined) throw new Error(`scale-child: unknown mode '${mode}' (known: plan, handler)`);
// Peak resident set over the whole life of the process: what Lambda's memory limit is held against.
const peakRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`\n${RESULT_PREFIX}${JSON.stringify({ ...measured, peakRssMB })}\n`);
