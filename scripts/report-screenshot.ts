import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DEMO_CONFIG } from "../devtools/demo.js";
import { startDynamoDbLocal } from "../devtools/dynamodb-local.js";
import { startOrganizationsEmulator } from "../devtools/org-emulator/index.js";
import { sampleOrganization } from "../devtools/sample-org.js";
import { ensureLocalAuditTable, localStackEnv } from "../devtools/stack-env.js";
import { main } from "../src/cli/main.js";
import { launchOfflineChromium } from "./chromium.js";

/**
 * Regenerates docs/report.png, the screenshot of `audit report` the README shows:
 *
 *   npx tsx scripts/report-screenshot.ts [--out docs/report.png]
 *
 * What the demo does, through the commands users run: the local Organizations emulator with the
 * sample organization and DynamoDB Local, `run --dry-run` then `run` of examples/janitor.yaml,
 * then `audit report` over the day of those runs; headless Chromium photographs the page at
 * 1280 px. Everything stays on 127.0.0.1, and the page is refused any request but its own file,
 * so the picture shows what an offline reader sees.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TABLE = "handshake-janitor-demo";
const WIDTH = 1280;
/** The top of the report: header, totals, chart, by rule, the config in force, the runs. */
const MAX_HEIGHT = 2200;

function utcDay(time: Date): string {
  return time.toISOString().slice(0, 10);
}

async function screenshot(outPath: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "report-screenshot-"));
  const started = new Date();
  const [organizations, dynamodb] = await Promise.all([
    startOrganizationsEmulator({ handshakes: sampleOrganization(started) }),
    startDynamoDbLocal(),
  ]);
  const say = (text: string) => process.stderr.write(`${text}\n`);
  // The SDK's own endpoint variables and the dummy keys, as the demo's CLI would read them.
  const env = localStackEnv({ organizations: organizations.endpoint, dynamodb: dynamodb.endpoint }, TABLE);
  try {
    await ensureLocalAuditTable(dynamodb.endpoint, TABLE);

    const cli = async (argv: string[]) => {
      const code = await main(argv, { out: say, err: (text) => process.stderr.write(text), env });
      // 0: every match final. Anything else is not the demo the README describes.
      if (code !== 0) throw new Error(`${argv.slice(0, 2).join(" ")} exited ${code}`);
    };
    await cli(["run", "--config", DEMO_CONFIG, "--dry-run", "--actor", "demo"]);
    await cli(["run", "--config", DEMO_CONFIG, "--actor", "demo"]);

    // Whole UTC days: from the day the runs started to the midnight after they ended (exclusive).
    const until = new Date(`${utcDay(new Date())}T00:00:00Z`);
    until.setUTCDate(until.getUTCDate() + 1);
    const html = join(work, "report.html");
    await cli(["audit", "report", "--since", utcDay(started), "--until", utcDay(until), "--out", html]);

    const context = await launchOfflineChromium(join(work, "profile"), { width: WIDTH, height: 900 });
    try {
      const page = await context.newPage();
      const url = pathToFileURL(html).href;
      const others: string[] = [];
      await page.route("**/*", (route) => {
        if (route.request().url() === url) return route.continue();
        others.push(route.request().url());
        return route.abort();
      });
      await page.goto(url, { waitUntil: "load" });
      if (others.length > 0) throw new Error(`the report asked for ${others.join(", ")}`);
      const height = Math.min(
        MAX_HEIGHT,
        Number(await page.evaluate("document.documentElement.scrollHeight")),
      );
      mkdirSync(dirname(outPath), { recursive: true });
      await page.screenshot({ path: outPath, fullPage: true, clip: { x: 0, y: 0, width: WIDTH, height } });
    } finally {
      await context.close();
    }
    say(`wrote ${outPath}: ${WIDTH}x${MAX_HEIGHT} at most`);
  } finally {
    await Promise.all([organizations.stop(), dynamodb.stop()]);
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const flag = process.argv.indexOf("--out");
  const out = resolve(flag >= 0 ? (process.argv[flag + 1] ?? "") : join(ROOT, "docs/report.png"));
  screenshot(out).catch((error: unknown) => {
    process.stderr.write(
      `report-screenshot failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exitCode = 1;
  });
}
