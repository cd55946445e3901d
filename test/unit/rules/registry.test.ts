import { describe, expect, test } from "vitest";
import type { Handshake } from "../../../src/core/handshake.js";
import {
  describeRule,
  evaluateRule,
  findRuleKind,
  RULE_KIND_NAMES,
  RULE_KINDS,
  type RuleConfig,
} from "../../../src/rules/index.js";

describe("rule registry", () => {
  test("lists the kinds in the documented order", () => {
    expect(RULE_KIND_NAMES).toEqual(["stale", "email", "account", "notes"]);
  });

  test.each(RULE_KINDS.map((kind) => ({ kind })))("$kind.kind rejects unknown option keys", ({ kind }) => {
    const result = kind.options.safeParse({ surelyNotAnOption: true });

    expect(result.success).toBe(false);
    expect(result.error?.issues.some((issue) => issue.code === "unrecognized_keys")).toBe(true);
  });

  test("finds a kind by name and nothing for an unknown one", () => {
    expect(findRuleKind("stale")?.kind).toBe("stale");
    expect(findRuleKind("teleport")).toBeUndefined();
  });

  test("dispatches evaluation and description to the rule's kind", () => {
    const rule: RuleConfig = { id: "gmail", type: "email", options: { deny: ["*@gmail.com"] } };
    const handshake: Handshake = {
      id: "h-00000001",
      state: "OPEN",
      action: "INVITE",
      target: { type: "EMAIL", value: "bob@gmail.com" },
    };
    const now = new Date("2026-03-01T00:00:00Z");
    const kind = RULE_KINDS[1];

    expect(evaluateRule(rule, handshake, { now })).toEqual(kind.evaluate(handshake, rule.options, { now }));
    expect(describeRule(rule)).toBe(kind.describe(rule.options));
  });
});
