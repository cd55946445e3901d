import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalConfigJson, configHash, parseConfig } from "../../src/config/config.js";
import type { Outcome } from "../../src/domain/outcomes.js";
import type { AuditAction, RunRecord } from "../../src/ports/records.js";
import { daysBetween, escapeHtml, type ReportInput, renderReport } from "../../src/report/html.js";
import { describeRule, type RuleConfig } from "../../src/rules/index.js";
import { describeScope } from "../../src/rules/scope.js";

const action: AuditAction = {
  runId: "run-1",
  handshakeId: "h-1",
  ruleId: "outside-email",
  matchedRules: ["outside-email"],
  outcome: "CANCELED",
  dryRun: false,
  at: "2026-03-10T12:00:00.000Z",
  trigger: "cli",
  actor: "<img src=x onerror=alert(1)>",
  action: "INVITE",
  target: '"a, b"@gmail.com',
  targetType: "EMAIL",
  reason: "</td><script>alert(1)</script>",
  attempts: 1,
};

const run: RunRecord = {
  runId: "run-1",
  trigger: "cli",
  actor: "bob",
  status: "COMPLETED",
  dryRun: false,
  startedAt: "2026-03-10T11:59:00.000Z",
  endedAt: "2026-03-10T12:01:00.000Z",
  counts: { CANCELED: 1 },
  listed: 3,
  candidates: 2,
  matched: 1,
  configVersion: 1,
  configHash: "0123456789ab",
};

function input(overrides: Partial<ReportInput> = {}): ReportInput {
  return {
    since: new Date("2026-03-01T00:00:00Z"),
    until: new Date("2026-04-01T00:00:00Z"),
    generatedAt: new Date("2026-04-01T00:00:00Z"),
    tableName: "audit",
    actions: [action],
    runs: [],
    ...overrides,
  };
}

/** The cells of the table with this id, row by row, as text (the markup is the renderer's own). */
function tableRows(html: string, id: string): { headers: string[]; rows: string[][] } {
  const table = new RegExp(`<table id="${id}">([\\s\\S]*?)</table>`).exec(html)?.[1];
  if (table === undefined) throw new Error(`no table #${id}`);
  const text = (cell: string) => cell.replace(/<[^>]*>/g, "").trim();
  const headers = [...table.matchAll(/<th[^>]*>([\s\S]*?)<\/th>/g)].map((m) => text(m[1] ?? ""));
  const body = /<tbody>([\s\S]*)<\/tbody>/.exec(table)?.[1] ?? "";
  const rows = [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...(row[1] ?? "").matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => text(m[1] ?? "")),
  );
  return { headers, rows };
}

function bars(html: string): { day: string; x: number; width: number; count: number }[] {
  return [
    ...html.matchAll(
      /<rect class="bar" data-day="([^"]+)" data-count="(\d+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g,
    ),
  ].map((m) => ({ day: m[1] ?? "", count: Number(m[2]), x: Number(m[3]), width: Number(m[4]) }));
}

describe("escapeHtml", () => {
  it("escapes the five characters that can break out of text or an attribute", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  });
});

describe("daysBetween", () => {
  it("lists UTC days, an until at midnight ending the day before", () => {
    expect(daysBetween(new Date("2026-02-27T10:00:00Z"), new Date("2026-03-02T00:00:00Z"))).toEqual([
      "2026-02-27",
      "2026-02-28",
      "2026-03-01",
    ]);
  });
});

describe("renderReport", () => {
  it("contains no markup from audit values and fetches nothing", () => {
    const html = renderReport(input());
    expect(html).not.toMatch(/<script|<img|onerror=alert\(1\)>/);
    expect(html).not.toMatch(/<[^>]*\s(src|href)=|@import|url\(/);
    expect(html).toContain("default-src 'none'");
    expect(html.match(/<rect class="bar"/g)).toHaveLength(1);
  });

  it("lists items that could not be read in full flagged, escaped, apart from the outcome totals", () => {
    const flag = "trigger is not scheduled | manual | cli; reason <b>is</b> not a string";
    const html = renderReport({
      since: new Date("2026-03-01T00:00:00Z"),
      until: new Date("2026-04-01T00:00:00Z"),
      generatedAt: new Date("2026-04-01T00:00:00Z"),
      tableName: "audit",
      actions: [
        action,
        {
          runId: "run-2",
          handshakeId: "h-2",
          at: "2026-03-11T12:00:00.000Z",
          outcome: "CANCELED",
          actor: "<i>x</i>",
          unreadable: flag,
        },
      ],
      runs: [{ runId: "run-2", actor: "ops", unreadable: "status is not RUNNING | COMPLETED" }],
    });
    expect(html.match(/<tr class="unreadable"/g)).toHaveLength(2);
    expect(html).toContain(escapeHtml(flag));
    expect(html).not.toContain("<b>is</b>");
    expect(html).not.toContain("<i>x</i>");
    // The flagged CANCELED item is listed, not counted: the live totals hold the one read in full.
    expect(html).toContain('<div class="card CANCELED" data-outcome="CANCELED"><b>1</b>CANCELED</div>');
    // The chart counts only what was read in full: one cancellation, on the 10th.
    expect(html.match(/<rect class="bar"/g)).toHaveLength(1);
    expect(html).toContain("2 items could not be read in full");
  });

  it("never adds dry-run decisions to live outcomes, by rule or in the totals", () => {
    const live = Array.from({ length: 11 }, (_, i) => ({ ...action, handshakeId: `h-live${i}` }));
    const dry = Array.from({ length: 11 }, (_, i) => ({
      ...action,
      runId: "run-dry",
      handshakeId: `h-dry${i}`,
      outcome: "DRY_RUN" as Outcome,
      dryRun: true,
    }));
    const exemptedInDryRun = {
      ...dry[0],
      handshakeId: "h-dryx",
      outcome: "EXEMPTED" as Outcome,
    } as AuditAction;
    const html = renderReport(input({ actions: [...live, ...dry, exemptedInDryRun] }));

    const liveTable = tableRows(html, "by-rule");
    expect(liveTable.headers).toEqual(["rule", "CANCELED", "total"]);
    expect(liveTable.rows).toEqual([["outside-email", "11", "11"]]);
    const dryTable = tableRows(html, "by-rule-dry");
    expect(dryTable.headers).toEqual(["rule", "DRY_RUN", "EXEMPTED", "total"]);
    expect(dryTable.rows).toEqual([["outside-email", "11", "1", "12"]]);

    const card = (section: string, outcome: string) =>
      new RegExp(`<div class="cards" id="${section}">.*?data-outcome="${outcome}"><b>(\\d+)</b>`).exec(
        html,
      )?.[1];
    expect(card("totals-live", "ALL")).toBe("11");
    expect(card("totals-live", "CANCELED")).toBe("11");
    expect(card("totals-live", "DRY_RUN")).toBeUndefined();
    expect(card("totals-dry", "ALL")).toBe("12");
    expect(card("totals-dry", "DRY_RUN")).toBe("11");
    expect(card("totals-dry", "CANCELED")).toBeUndefined();
  });

  it("states the period as since inclusive, until exclusive, and counts exactly that", () => {
    const since = new Date("2026-03-01T00:00:00.000Z");
    const until = new Date("2026-04-01T00:00:00.000Z");
    const atSince = { ...action, handshakeId: "h-atsince", at: since.toISOString() };
    const atUntil = { ...action, handshakeId: "h-atuntil", at: until.toISOString() };
    const justBefore = { ...action, handshakeId: "h-justbefore", at: "2026-03-31T23:59:59.999Z" };
    const runAtUntil = { ...run, runId: "run-at-until", startedAt: until.toISOString() };
    // An altered time the store still found in the range is shown, not dropped.
    const unreadableTime = {
      ...action,
      handshakeId: "h-altered",
      outcome: "EXEMPTED" as Outcome,
      at: "2026-03-15Tgarbage",
    };
    const html = renderReport(
      input({
        since,
        until,
        actions: [atSince, atUntil, justBefore, unreadableTime],
        runs: [run, runAtUntil],
      }),
    );

    expect(html).toContain(
      "Period: from <b>2026-03-01T00:00:00.000Z</b> (inclusive) to <b>2026-04-01T00:00:00.000Z</b> (exclusive)",
    );
    const shown = tableRows(html, "actions").rows.map((row) => row[0]);
    expect(shown).toHaveLength(3);
    expect(shown.some((cell) => cell?.includes("h-altered"))).toBe(true);
    expect(shown.some((cell) => cell?.includes("h-atsince"))).toBe(true);
    expect(shown.some((cell) => cell?.includes("h-justbefore"))).toBe(true);
    expect(html).not.toContain("h-atuntil");
    expect(tableRows(html, "runs").rows).toHaveLength(1);
    expect(html).not.toContain("run-at-until");
    expect(bars(html).map((b) => b.day)).toEqual(["2026-03-01", "2026-03-31"]);
  });

  it("draws a day as a bar of bounded width, from one day to a year", () => {
    const start = Date.UTC(2026, 0, 1);
    for (const days of [1, 7, 31, 92, 366]) {
      const until = new Date(start + days * 86_400_000);
      // A cancellation on every day, two on the last: every bar drawn, the last the tallest.
      const actions = Array.from({ length: days + 1 }, (_, i) => ({
        ...action,
        handshakeId: `h-${i}`,
        at: new Date(start + Math.min(i, days - 1) * 86_400_000 + 3_600_000).toISOString(),
      }));
      const html = renderReport(input({ since: new Date(start), until, actions }));
      const drawn = bars(html);
      const viewBox = /viewBox="0 0 (\d+) (\d+)"/.exec(html);
      const width = Number(viewBox?.[1]);

      expect(drawn).toHaveLength(days);
      expect(drawn.at(-1)?.count).toBe(2);
      for (const [i, bar] of drawn.entries()) {
        expect(bar.width).toBeGreaterThan(0);
        // At most 28 units: a one-day chart is a bar, not three quarters of the page.
        expect(bar.width, `${days} days`).toBeLessThanOrEqual(28);
        expect(bar.x + bar.width).toBeLessThanOrEqual(width);
        const next = drawn[i + 1];
        if (next) expect(bar.x + bar.width, `${days} days, bar ${i}`).toBeLessThanOrEqual(next.x);
      }
      const labels = [...html.matchAll(/<text x="[\d.]+" y="\d+">(\d\d-\d\d)<\/text>/g)];
      expect(labels.length).toBeGreaterThanOrEqual(1);
      expect(labels.length, `${days} days`).toBeLessThanOrEqual(20);
    }
  });

  it("shows the rules and exemptions of each config in force, escaped, or says it is not on record", () => {
    const config = parseConfig(
      `version: 1
dryRun: false
rules:
  - id: stale-invitations
    type: stale
    olderThanDays: 7
    actionTypes: [INVITE]
  - id: outside-email
    type: email
    deny: ["*@gmail.com"]
exemptions:
  - email: "*@partner.example"
    reason: "<script>alert('x')</script> onboarding, CHG-2042"
    until: 2027-06-30
  - accountId: "222222222222"
    reason: audited vendor account
`,
      "janitor.yaml",
    );
    const hash = configHash(config);
    const json = canonicalConfigJson(config);
    const runs = [
      { ...run, configHash: hash },
      { ...run, runId: "run-old", configHash: "feedfacecafe" },
      { ...run, runId: "run-altered", configHash: "0000000000aa" },
    ];
    const html = renderReport(
      input({
        runs,
        configs: new Map([
          [hash, { json }],
          ["0000000000aa", { json }],
        ]),
      }),
    );

    expect(createHash("sha256").update(json).digest("hex").slice(0, 12)).toBe(hash);
    const rules = tableRows(html, `config-${hash}-rules`).rows;
    expect(rules).toEqual(
      config.rules.map((rule, i) => [
        String(i + 1),
        rule.id,
        rule.type,
        describeScope(rule.options.actionTypes),
        describeRule(rule),
      ]),
    );
    const exemptions = tableRows(html, `config-${hash}-exemptions`).rows;
    expect(exemptions).toEqual([
      [
        "email *@partner.example",
        escapeHtml("<script>alert('x')</script> onboarding, CHG-2042"),
        "2027-06-30 (through the end of that day, UTC)",
      ],
      ["account 222222222222", "audited vendor account", "no expiry"],
    ]);
    expect(html).not.toContain("<script>");
    const section = (h: string) =>
      new RegExp(`<section class="config" data-hash="${h}">([\\s\\S]*?)</section>`).exec(html)?.[1] ?? "";
    expect(section(hash)).toContain("dryRun: false · maxCancellationsPerRun: 25");
    expect(section("feedfacecafe")).toContain("config not on record (runs before configs were stored)");
    expect(section("0000000000aa")).toContain(`does not hash to 0000000000aa (it hashes to ${hash})`);
  });

  it("shows a rule's grace period in the config in force", () => {
    const config = parseConfig(
      "version: 1\nrules:\n  - id: stale-invitations\n    type: stale\n    olderThanDays: 7\n    graceHours: 48\n  - id: outside-email\n    type: email\n    deny: ['*@gmail.com']\n",
      "janitor.yaml",
    );
    const hash = configHash(config);
    const html = renderReport(
      input({
        runs: [{ ...run, configHash: hash }],
        configs: new Map([[hash, { json: canonicalConfigJson(config) }]]),
      }),
    );

    const [stale, email] = tableRows(html, `config-${hash}-rules`).rows;
    expect(stale?.[4]).toBe(
      `${describeRule(config.rules[0] as RuleConfig)}; grace 48 h: marked first, canceled 48 h later if it still matches`,
    );
    expect(email?.[4]).toBe(describeRule(config.rules[1] as RuleConfig));
  });
});
