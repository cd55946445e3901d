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
});
