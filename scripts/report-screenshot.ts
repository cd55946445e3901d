import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createAuditStore } from "../src/aws/audit-store.js";
import { ensureAuditTable } from "../src/aws/audit-table.js";
import { main } from "../src/cli/main.js";
import { startDynamoDbLocal } from "../src/local/dynamodb-local.js";
import { localDynamoDbClient } from "../src/local/stack-env.js";
import { seedTrail } from "../test/support/audit-trail.js";
import { launchOfflineChromium } from "./chromium.js";

/**
 * Regenerates docs/report.png, the screenshot of `audit report` the README shows:
 *
 *   npx tsx scripts/report-screenshot.ts [--out docs/report.png]
 *
 * A demo-like trail (runs every 30 hours through March 2026, written through the audit store as
 * the sweep writes it) goes into DynamoDB Local; the real `audit report` command renders it, and
 * headless Chromium photographs the top of the page. Everything stays on 127.0.0.1, and the page
 * is refused any request but its own file, so the picture shows what an offline reader sees.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SINCE = "2026-03-01";
// A day-only --until is exclusive: through March 31.
const UNTIL = "2026-04-01";
const VIEWPORT = { width: 1280, height: 1500 };

async function screenshot(outPath: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "report-screenshot-"));
  const db = await startDynamoDbLocal();
  const client = localDynamoDbClient(db.endpoint);
  const saved = { ...process.env };
  try {
    const tableName = "handshake-janitor-demo";
    await ensureAuditTable(client, tableName);
    const trail = await seedTrail(createAuditStore({ client, tableName }), {
      prefix: "demo",
      runs: 22,
      start: new Date("2026-03-02T06:00:00.000Z"),
      everyHours: 30,
    });

    // The command as users run it, pointed at DynamoDB Local through the SDK's own variable.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_REGION: "us-east-1",
      AUDIT_TABLE_NAME: tableName,
    });
    const html = join(work, "report.html");
    const code = await main(["audit", "report", "--since", SINCE, "--until", UNTIL, "--out", html], (text) =>
      process.stderr.write(`${text}\n`),
    );
    if (code !== 0) throw new Error(`audit report exited ${code}`);

    const context = await launchOfflineChromium(join(work, "profile"), VIEWPORT);
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
      mkdirSync(dirname(outPath), { recursive: true });
      await page.screenshot({ path: outPath, fullPage: false });
    } finally {
      await context.close();
    }
    process.stderr.write(
      `wrote ${outPath}: ${trail.runs.length} runs, ${trail.actions.length} actions, ${SINCE}..${UNTIL}\n`,
    );
  } finally {
    process.env = saved;
    client.destroy();
    await db.stop();
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
