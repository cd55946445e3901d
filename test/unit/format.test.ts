import { describe, expect, it } from "vitest";
import { csvField, formatCsv, formatJsonLines, formatTable, visible } from "../../src/cli/format.js";
import { renderSummary } from "../../src/cli/render.js";
import type { RunSummary } from "../../src/sweep/sweep.js";

/** Every character a terminal acts on instead of showing, and the bidi controls that reorder text. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe("csvField", () => {
  it.each([
    ['=HYPERLINK("http://x.example")', `"'=HYPERLINK(""http://x.example"")"`],
    ["+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"],
    ["-2+3", "'-2+3"],
    ["@SUM(A1:A2)", "'@SUM(A1:A2)"],
    ["\t=1", "'\t=1"],
    ["\r=1", `"'\r=1"`],
    // Already starting with a quote before a trigger: one more, so a reader strips exactly one.
    ["'=1", "''=1"],
  ])("neutralises %j as %j", (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it.each([
    ["a plain text", "plain text", "plain text"],
    ["a negative number", -3, "-3"],
    ["a negative decimal as text", "-2.5", "-2.5"],
    ["a number in exponent form", -1e-7, "-1e-7"],
    ["an email", "alice@example.com", "alice@example.com"],
    ["a quote not before a trigger", "'quoted'", "'quoted'"],
    ["a trigger inside the text", "a=b+c-d@e", "a=b+c-d@e"],
  ])("leaves %s as it is", (_name, value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it("still quotes per RFC 4180", () => {
    expect(csvField('a, "b"\nc')).toBe('"a, ""b""\nc"');
  });

  it("neutralises every field of a CSV document, the header stays as is", () => {
    const csv = formatCsv([{ actor: "=1+2", reason: "-x", n: -1 }], ["actor", "reason", "n"]);
    expect(csv).toBe("actor,reason,n\r\n'=1+2,'-x,-1\r\n");
  });
});

describe("formatJsonLines", () => {
  it("keeps every value exact", () => {
    const row = { actor: "=1+2", reason: "\u001b[2J\u202e" };
    expect(JSON.parse(formatJsonLines([row]))).toEqual(row);
  });
});

describe("visible", () => {
  it.each([
    ["\u001b[2J", "\\x1b[2J"],
    ["\u0007", "\\x07"],
    ["\u0000", "\\x00"],
    ["\u007f", "\\x7f"],
    ["\u009b31m", "\\x9b31m"],
    ["\u0085", "\\x85"],
    ["abc\u202edef", "abc\\u202edef"],
    ["\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"],
    ["\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"],
  ])("shows %j as %j", (raw, shown) => {
    expect(visible(raw)).toBe(shown);
  });

  it("leaves printable text, accents and other scripts alone", () => {
    const text = "Zoë 東京 שלום café ✓";
    expect(visible(text)).toBe(text);
  });
});

describe("formatTable", () => {
  it("shows control characters and bidi overrides escaped, whitespace as one space", () => {
    const actor = "\u001b[2J\u001b]0;owned\u0007\u202eevil\u009b";
    const table = formatTable([{ actor, reason: "line one\nline two\tend" }], ["actor", "reason"]);
    expect(table).not.toMatch(RAW_CONTROL);
    expect(table).toContain("\\x1b[2J\\x1b]0;owned\\x07\\u202eevil\\x9b");
    expect(table).toContain("line one line two end");
  });
});

describe("renderSummary", () => {
  it("shows an actor, run id and error with control characters escaped", () => {
    const summary: RunSummary = {
      runId: "run-\u001b[31m",
      status: "FAILED",
      dryRun: true,
      trigger: "cli",
      actor: "\u001b[2J\u001b]0;owned\u0007",
      startedAt: "2026-03-10T12:00:00.000Z",
      endedAt: "2026-03-10T12:00:01.000Z",
      durationMs: 1000,
      listed: 1,
      candidates: 1,
      matched: 1,
      limit: 25,
      counts: { DRY_RUN: 1 },
      reconciled: 0,
      configHash: "sha256:abc",
      replayed: false,
      actions: [
        {
          handshakeId: "h-1",
          outcome: "DRY_RUN",
          ruleId: "outside-email",
          matchedRules: ["outside-email"],
          action: "INVITE",
          target: "\u202emoc.liamg@x",
          reason: "r",
          attempts: 0,
        },
      ],
      error: "denied\u001b[8m",
    };
    const text = renderSummary(summary);
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).toContain("cli by \\x1b[2J\\x1b]0;owned\\x07");
    expect(text).toContain("run run-\\x1b[31m");
    expect(text).toContain("error: denied\\x1b[8m");
    expect(text).toContain("\\u202emoc.liamg@x");
  });
});
