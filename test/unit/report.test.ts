import { describe, expect, it } from "vitest";
import type { AuditAction } from "../../src/core/ports.js";
import { daysBetween, escapeHtml, renderReport } from "../../src/report/html.js";

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
    const html = renderReport({
      since: new Date("2026-03-01T00:00:00Z"),
      until: new Date("2026-04-01T00:00:00Z"),
      generatedAt: new Date("2026-04-01T00:00:00Z"),
      tableName: "audit",
      actions: [action],
      runs: [],
    });
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
    expect(html).toContain('<div class="card UNREADABLE" data-outcome="UNREADABLE"><b>1</b>UNREADABLE</div>');
    expect(html).toContain('<div class="card CANCELED" data-outcome="CANCELED"><b>1</b>CANCELED</div>');
    // The chart counts only what was read in full: one cancellation, on the 10th.
    expect(html.match(/<rect class="bar"/g)).toHaveLength(1);
    expect(html).toContain("2 items could not be read in full");
  });
});
