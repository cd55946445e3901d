import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { canonicalConfigJson, configHash, loadConfig, parseConfig } from "../../src/config/config.js";
import { OUTCOMES } from "../../src/domain/outcomes.js";
import type { AuditAction, RunRecord } from "../../src/ports/records.js";
import { renderReport } from "../../src/report/html.js";
import { offlineBrowser } from "../support/browser.js";
import { localDynamoDbClient, runCli, type Stack, stackEnv, startStack } from "../support/stack.js";

const SCREEN = 1280;
let dir: string;
let browser: BrowserContext;
let closeBrowser: (() => Promise<void>) | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "report-layout-"));
  const offline = await offlineBrowser(dir);
  browser = offline.context;
  closeBrowser = offline.close;
}, 60_000);

afterAll(async () => {
  await closeBrowser?.();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Everything that makes a page unreadable or unprintable, measured in the page as laid out: wider
 * than the viewport, a table or a cell whose content spills out of it, an id or a timestamp on
 * more than one line (an outcome or a status counts as one token too). Answers one line per problem, and how many tokens it measured. (Page-side
 * code as text: this project's TypeScript has no DOM library.)
 */
const LAYOUT_PROBLEMS = `(() => {
  const problems = [];
  const root = document.documentElement;
  const width = root.clientWidth;
  if (root.scrollWidth > width) problems.push("page is " + root.scrollWidth + "px wide in a " + width + "px viewport");
  for (const table of document.querySelectorAll("table")) {
    const box = table.getBoundingClientRect();
    if (box.right > width + 0.5) problems.push("#" + table.id + " ends at " + box.right + "px of " + width + "px");
    if (table.scrollWidth > table.clientWidth) {
      problems.push("#" + table.id + " scrolls: " + table.scrollWidth + "px in " + table.clientWidth + "px");
    }
  }
  const cells = document.querySelectorAll("td, th");
  for (const cell of cells) {
    if (cell.scrollWidth > cell.clientWidth + 1) {
      problems.push("#" + cell.closest("table").id + ": a cell's content is " + cell.scrollWidth + "px in " +
        cell.clientWidth + "px: " + cell.textContent.slice(0, 60));
    }
  }
  const tokens = document.querySelectorAll(".id:not(.long), .ts, .word, .nw");
  for (const token of tokens) {
    const range = document.createRange();
    range.selectNodeContents(token);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (lines.size !== 1) problems.push("'" + token.textContent + "' is on " + lines.size + " lines");
    // Into the cell's padding is already too far: the next column's text starts there.
    const cell = token.closest("td, th");
    const contentRight = cell ? cell.getBoundingClientRect().right - parseFloat(getComputedStyle(cell).paddingRight) : Infinity;
    if (range.getBoundingClientRect().right > contentRight + 0.5) {
      problems.push("'" + token.textContent + "' spills out of its cell");
    }
  }
  return { problems, tokens: tokens.length, cells: cells.length };
})()`;

function layoutProblems(page: Page): Promise<{ problems: string[]; tokens: number; cells: number }> {
  return page.evaluate(LAYOUT_PROBLEMS);
}

/** The printable width of the page the report's own @page rule asks for, in CSS px (96 per inch). */
const PRINTABLE_WIDTH = `(() => {
  const mm = (value) => {
    const match = /^([0-9.]+)mm$/.exec(value.trim());
    if (!match) throw new Error("@page: expected a length in mm, got '" + value + "'");
    return (Number(match[1]) * 96) / 25.4;
  };
  const rules = [...document.styleSheets].flatMap((sheet) => [...sheet.cssRules]);
  const pageRule = rules.find((rule) => rule instanceof CSSPageRule);
  if (!pageRule) throw new Error("no @page rule");
  const size = pageRule.style.getPropertyValue("size").trim();
  if (size.toLowerCase() !== "a4") throw new Error("@page size is '" + size + "', not A4");
  return mm("210mm") - mm(pageRule.style.marginLeft) - mm(pageRule.style.marginRight);
})()`;

function printableWidth(page: Page): Promise<number> {
  return page.evaluate(PRINTABLE_WIDTH);
}

async function open(html: string, name: string, width: number): Promise<Page> {
  const file = join(dir, name);
  writeFileSync(file, html);
  const page = await browser.newPage();
  await page.setViewportSize({ width, height: 900 });
  const url = pathToFileURL(file).href;
  const others: string[] = [];
  page.on("request", (request) => {
    if (request.url() !== url) others.push(request.url());
  });
  await page.goto(url);
  expect(others).toEqual([]);
  return page;
}

/** Checks the page at 1280 px on screen, then in print media at the A4 width, and prints it. */
async function expectLayoutFits(page: Page, actions: number): Promise<void> {
  const screen = await layoutProblems(page);
  expect(screen.problems).toEqual([]);
  // Each action has its timestamp and two ids, all measured.
  expect(screen.tokens).toBeGreaterThanOrEqual(3 * actions);

  await page.emulateMedia({ media: "print" });
  const printable = await printableWidth(page);
  expect(printable).toBeGreaterThan(700);
  expect(printable).toBeLessThan(794);
  await page.setViewportSize({ width: Math.floor(printable), height: 1100 });
  const print = await layoutProblems(page);
  expect(print.problems).toEqual([]);
  const printStyles = await page.evaluate(`({
    thead: getComputedStyle(document.querySelector("#actions thead")).display,
    row: getComputedStyle(document.querySelector("#actions tbody tr")).breakInside,
  })`);
  // The header repeats on every printed page, and no row is cut between two pages.
  expect(printStyles).toEqual({ thead: "table-header-group", row: "avoid" });
  const pdf = await page.pdf({ format: "A4" });
  expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
}

// ---------------------------------------------------------------------------------------------
// Hostile data: what real trails hold at their worst

const ACTORS = [
  "arn:aws:sts::111122223333:assumed-role/OrgAdmins/alice.smith", // 60 characters
  "events.amazonaws.com",
  "b@cli",
];
const LONG_EMAIL = `${"first.middle.last-name.with-a-long-suffix.".repeat(1)}and-more+tag@${"sub.".repeat(12)}partner-company.example.co.uk`;
const LONG_REASON = `${"x".repeat(240)} requested 412.3 days ago, older than 7 days; notes do not match /CHG-[0-9]+/ <script>alert(1)</script> & "quotes"`;

/** Runs in the hostile trail. */
const HOSTILE_RUNS = 12;
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
/**
 * An action's run, outcome, target kind (3), action kind (5) and rule (2) each cycle with its index,
 * so the trail's rows repeat after this many: more would only lay out again what the check met.
 */
const EVERY_COMBINATION = [HOSTILE_RUNS, OUTCOMES.length, 3, 5, 2].reduce((a, b) => (a * b) / gcd(a, b));

function hostileTrail(count: number): { actions: AuditAction[]; runs: RunRecord[] } {
  const runs: RunRecord[] = [];
  const actions: AuditAction[] = [];
  const start = Date.UTC(2026, 8, 1, 6);
  for (let r = 0; r < HOSTILE_RUNS; r += 1) {
    runs.push({
      runId: randomUUID(),
      trigger: r % 2 ? "manual" : "scheduled",
      actor: ACTORS[r % ACTORS.length] ?? "",
      status: r % 3 ? "COMPLETED" : "PARTIAL",
      dryRun: r % 4 === 0,
      startedAt: new Date(start + r * 7 * 86_400_000).toISOString(),
      endedAt: new Date(start + r * 7 * 86_400_000 + 93_400).toISOString(),
      counts: Object.fromEntries(OUTCOMES.map((o, i) => [o, 1000 + i])),
      listed: 20_000,
      candidates: 900,
      matched: 400,
      configVersion: 1,
      configHash: "0123456789ab",
      note: `CHG-${"9".repeat(30)} ${"requested by the security team ".repeat(8)}`,
      ...(r === 5 ? { error: `AccessDeniedException: ${"z".repeat(300)}` } : {}),
    });
  }
  for (let i = 0; i < count; i += 1) {
    const run = runs[i % runs.length] as RunRecord;
    const outcome = OUTCOMES[i % OUTCOMES.length] ?? "CANCELED";
    actions.push({
      runId: run.runId,
      handshakeId: `h-${i.toString(36).padStart(32, "q")}`,
      ruleId: i % 2 ? "a-rule-id-of-some-thirty-characters" : "stale-invitations",
      matchedRules: ["a-rule-id-of-some-thirty-characters", "stale-invitations", "outside-email"],
      outcome,
      dryRun: outcome === "DRY_RUN",
      at: new Date(Date.parse(run.startedAt) + i * 61_001).toISOString(),
      trigger: run.trigger,
      actor: run.actor,
      action: i % 5 ? "INVITE" : "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
      target: i % 3 ? LONG_EMAIL : "123456789012",
      targetType: i % 3 ? "EMAIL" : "ACCOUNT",
      reason: LONG_REASON,
      attempts: 1,
      ...(outcome === "FAILED" ? { error: `ThrottlingException: Rate exceeded\n${"w".repeat(200)}` } : {}),
    });
  }
  return { runs, actions };
}

describe("audit report layout in Chromium", () => {
  it("fits 1280 px and an A4 page with hostile data: no cut column, ids and timestamps on one line", async () => {
    const { actions, runs } = hostileTrail(EVERY_COMBINATION);
    const config = parseConfig(
      `version: 1
rules:
  - id: ${"a-rule-id-of-some-thirty-characters"}
    type: email
    deny: ["*@gmail.com", "${"*@very-long-subdomain.".repeat(4)}example.com"]
exemptions:
  - email: "${LONG_EMAIL}"
    reason: "${"a very long reason ".repeat(20)}<b>bold</b>"
`,
      "hostile.yaml",
    );
    const html = renderReport({
      since: new Date("2026-09-01T00:00:00Z"),
      until: new Date("2026-12-01T00:00:00Z"),
      generatedAt: new Date(),
      tableName: "handshake-janitor-audit",
      actions,
      runs: runs.map((run, i) => (i % 2 ? { ...run, configHash: configHash(config) } : run)),
      configs: new Map([[configHash(config), { json: canonicalConfigJson(config) }]]),
    });
    const page = await open(html, "hostile.html", SCREEN);
    try {
      expect(await page.locator("#actions tbody tr").count()).toBe(actions.length);
      await expectLayoutFits(page, actions.length);
    } finally {
      await page.close();
    }
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// The real thing: the demo's sample organization, a dry run and a live run of its config

describe("audit report of a dry run and a live run", () => {
  let stack: Stack;
  let env: Record<string, string>;
  let client: DynamoDBClient;
  let tableName: string;

  beforeAll(async () => {
    stack = await startStack(sampleOrganization(new Date()));
    tableName = await stack.newTable();
    env = stackEnv(stack.org, stack.db, tableName);
    client = localDynamoDbClient(stack.db.endpoint);
  }, 120_000);

  afterAll(async () => {
    client?.destroy();
    await stack?.stop();
  });

  it("counts the dry run apart, shows the config in force and fits the page", async () => {
    const dry = await runCli(["run", "--config", DEMO_CONFIG, "--dry-run", "--json", "--actor", "demo"], env);
    expect(dry.code, dry.stderr).toBe(0);
    const live = await runCli(["run", "--config", DEMO_CONFIG, "--json", "--actor", "demo"], env);
    expect(live.code, live.stderr).toBe(0);
    const dryCounts = JSON.parse(dry.stdout).counts as Record<string, number>;
    const liveCounts = JSON.parse(live.stdout).counts as Record<string, number>;
    expect(dryCounts.DRY_RUN).toBeGreaterThan(0);
    expect(liveCounts.CANCELED).toBe(dryCounts.DRY_RUN);

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const out = join(dir, "demo.html");
    const report = await runCli(["audit", "report", "--since", since, "--out", out], env);
    expect(report.code, report.stderr).toBe(0);
    const html = readFileSync(out, "utf8");
    const page = await open(html, "demo-view.html", SCREEN);
    try {
      const rows = (id: string) =>
        page
          .locator(`#${id} tbody tr`)
          .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
      const headers = (id: string) => page.locator(`#${id} thead th`).allTextContents();
      const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

      // Live: the live run's outcomes only, per rule; its totals are the live run's counts.
      expect(await headers("by-rule")).not.toContain("DRY_RUN");
      const liveTotal = (await rows("by-rule")).reduce((n, row) => n + Number(row.at(-1)), 0);
      expect(liveTotal).toBe(sum(liveCounts));
      expect(await page.textContent('#totals-live [data-outcome="CANCELED"] b')).toBe(
        String(liveCounts.CANCELED),
      );
      // Dry: the dry run's outcomes only.
      expect(await headers("by-rule-dry")).not.toContain("CANCELED");
      const dryTotal = (await rows("by-rule-dry")).reduce((n, row) => n + Number(row.at(-1)), 0);
      expect(dryTotal).toBe(sum(dryCounts));
      expect(await page.textContent('#totals-dry [data-outcome="DRY_RUN"] b')).toBe(
        String(dryCounts.DRY_RUN),
      );

      // The config both runs applied, as the file says it.
      const config = await loadConfig(DEMO_CONFIG);
      const hash = configHash(config);
      const section = page.locator(`section.config[data-hash="${hash}"]`);
      expect(await section.count()).toBe(1);
      expect(await page.locator("section.config").count()).toBe(1);
      const ruleIds = await page.locator(`#config-${hash}-rules tbody tr td:nth-child(2)`).allTextContents();
      expect(ruleIds).toEqual(config.rules.map((rule) => rule.id));
      const reasons = await page
        .locator(`#config-${hash}-exemptions tbody tr td:nth-child(2)`)
        .allTextContents();
      expect(reasons).toEqual(config.exemptions.map((e) => e.reason));
      expect(await section.textContent()).toContain(`hashes to ${hash}`);

      await expectLayoutFits(page, sum(liveCounts) + sum(dryCounts));
    } finally {
      await page.close();
    }
  }, 180_000);

  it("keeps a config once, off every index, and reads it back by hash", async () => {
    const store = createAuditStore({ client, tableName });
    await store.recordConfig("abcdef012345", '{"first":true}');
    await store.recordConfig("abcdef012345", '{"second":true}');

    expect(await store.getConfig("abcdef012345")).toBe('{"first":true}');
    expect(await store.getConfig("000000000000")).toBeUndefined();
    const raw = await client.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: "CONFIG#abcdef012345" }, sk: { S: "CONFIG" } },
      }),
    );
    expect(Object.keys(raw.Item ?? {}).sort()).toEqual([
      "config",
      "configHash",
      "itemType",
      "pk",
      "recordedAt",
      "sk",
    ]);
  });

  it("leaves out an action recorded exactly at --until, and says the end is exclusive", async () => {
    const store = createAuditStore({ client, tableName });
    const since = "2025-01-01T00:00:00.000Z";
    const until = "2025-01-02T00:00:00.000Z";
    for (const [runId, at] of [
      ["edge-since", since],
      ["edge-until", until],
    ] as const) {
      await store.startRun({
        runId,
        trigger: "cli",
        actor: "edge",
        status: "RUNNING",
        dryRun: false,
        startedAt: at,
        counts: {},
        listed: 1,
        candidates: 1,
        matched: 1,
        configVersion: 1,
        configHash: "edge00000000",
      });
      await store.recordAction({
        runId,
        handshakeId: `h-${runId.replace("-", "")}00`,
        ruleId: "stale-invitations",
        matchedRules: ["stale-invitations"],
        outcome: "EXEMPTED",
        dryRun: false,
        at,
        trigger: "cli",
        actor: "edge",
        action: "INVITE",
        target: "someone@example.com",
        targetType: "EMAIL",
        reason: "edge of the period",
        attempts: 0,
      });
    }
    // Every period is [since, until): the store already leaves the item at `until` out, and the
    // next period, starting there, holds it.
    const read = async (from: string, to: string) => {
      const stored: string[] = [];
      for await (const action of store.queryActions({ since: new Date(from), until: new Date(to) })) {
        stored.push(action.runId);
      }
      return stored.sort();
    };
    expect(await read(since, until)).toEqual(["edge-since"]);
    expect(await read(until, "2025-01-03T00:00:00.000Z")).toEqual(["edge-until"]);

    const out = join(dir, "edge.html");
    const result = await runCli(
      ["audit", "report", "--since", "2025-01-01", "--until", "2025-01-02", "--out", out],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("1 actions, 1 runs");
    const html = readFileSync(out, "utf8");
    expect(html).toContain(`from <b>${since}</b> (inclusive) to <b>${until}</b> (exclusive)`);
    expect(html).toContain("edge-since");
    expect(html).not.toContain("edge-until");
    expect(html).toContain("config not on record (runs before configs were stored)");
  }, 60_000);
});
