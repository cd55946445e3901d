/**
 * The "list + plan" process of the scale benchmark (bench/scenarios/scale.ts): lists every
 * handshake of the organization and plans each page as it arrives, as the sweep does, and reports
 * the wall time and the planner's own time, wall and CPU, summed over the pages. It is bundled with the artifact's own esbuild options
 * (artifactBuildOptions in scripts/build.ts: split into chunks, minified, the same plugins and
 * banner) and run by plain node, so that its peak RSS is that of the janitor's code as deployed and
 * not a TypeScript loader's. (The "handler dry run" rows run the built artifact itself, through a
 * driver that the scenario writes.)
 *
 * Endpoints and config come from the environment, as for the CLI and the handler. The result is
 * the last line of stdout.
 */
import { createClients } from "../src/aws/clients.js";
import { createOrganizationsAdapter } from "../src/aws/organizations.js";
import { loadConfig } from "../src/config/config.js";
import { createPlanner } from "../src/policy/plan.js";

// bench/scenarios/scale.ts looks for this prefix (not imported from here: that would run this module).
const RESULT_PREFIX = "SCALE_RESULT ";

async function planOnly(): Promise<Record<string, number>> {
  const config = await loadConfig(process.env.JANITOR_CONFIG ?? "janitor.yaml");
  const clients = createClients();
  try {
    const started = performance.now();
    const planner = createPlanner({ config, now: new Date() });
    let planWallMs = 0;
    let planCpuMicros = 0;
    for await (const page of createOrganizationsAdapter({ client: clients.organizations }).listHandshakes()) {
      const [wall, cpu] = [performance.now(), process.cpuUsage()];
      planner.add(page);
      const used = process.cpuUsage(cpu);
      planWallMs += performance.now() - wall;
      planCpuMicros += used.user + used.system;
    }
    const decided = planner.finish();
    const wallMs = performance.now() - started;
    return {
      listed: decided.listed,
      decisions: decided.decisions.length,
      wallS: wallMs / 1000,
      listS: (wallMs - planWallMs) / 1000,
      planWallMs,
      planCpuMs: planCpuMicros / 1000,
    };
  } finally {
    clients.organizations.destroy();
    clients.dynamodb.destroy();
  }
}

const measured = await planOnly();
// Peak resident set over the whole life of the process: what Lambda's memory limit is held against.
const peakRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`\n${RESULT_PREFIX}${JSON.stringify({ ...measured, peakRssMB })}\n`);
