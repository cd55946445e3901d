import { beforeAll, describe, expect, test } from "vitest";
import type { Handshake, HandshakeTarget } from "../../../src/domain/handshake.js";
import {
  describeRule,
  evaluateRule,
  findRuleKind,
  loadRuleKinds,
  RULE_KIND_NAMES,
  RULE_KINDS,
  type RuleConfig,
} from "../../../src/rules/index.js";

// A notes rule's options are checked by its RE2 engine, which loadConfig loads; these tests load it.
beforeAll(() => loadRuleKinds(RULE_KIND_NAMES));

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
    const rule: RuleConfig = {
      id: "gmail",
      type: "email",
      options: RULE_KINDS[1].options.parse({ deny: ["*@gmail.com"] }),
    };
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

describe("every rule kind's scope", () => {
  const now = new Date("2026-03-01T00:00:00Z");
  // For each kind, options and a target it matches on an invitation.
  const cases: { kind: string; options: Record<string, unknown>; target: HandshakeTarget }[] = [
    { kind: "stale", options: { olderThanDays: 7 }, target: { type: "EMAIL", value: "a@example.com" } },
    { kind: "email", options: { deny: ["*@gmail.com"] }, target: { type: "EMAIL", value: "bob@gmail.com" } },
    {
      kind: "account",
      options: { allow: ["111122223333"] },
      target: { type: "ACCOUNT", value: "999988887777" },
    },
    { kind: "notes", options: { require: "CHG-[0-9]+" }, target: { type: "ACCOUNT", value: "999988887777" } },
  ];
  const handshake = (action: string, target: HandshakeTarget): Handshake => ({
    id: "h-00000001",
    state: "OPEN",
    action,
    requestedAt: new Date("2026-01-01T00:00:00Z"),
    target,
  });

  test("covers every registered kind", () => {
    expect(cases.map((c) => c.kind)).toEqual([...RULE_KIND_NAMES]);
  });

  test.each(cases)("$kind defaults to INVITE when actionTypes is left out", ({ kind, options }) => {
    expect(findRuleKind(kind)?.options.parse(options)).toMatchObject({ actionTypes: ["INVITE"] });
  });

  // A notes rule without actionTypes (the README's own example) canceled all four of these.
  test.each(
    cases.flatMap((c) =>
      [
        "ENABLE_ALL_FEATURES",
        "APPROVE_ALL_FEATURES",
        "TRANSFER_RESPONSIBILITY",
        "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
      ].map((action) => ({ ...c, action })),
    ),
  )("$kind without actionTypes leaves $action handshakes alone", ({ kind, options, target, action }) => {
    const rule = findRuleKind(kind);
    if (rule === undefined) throw new Error(`no kind ${kind}`);
    const parsed = rule.options.parse(options);

    expect(rule.evaluate(handshake(action, target), parsed, { now })).toEqual({ verdict: "not-applicable" });
    expect(rule.evaluate(handshake("INVITE", target), parsed, { now }).verdict).toBe("match");
  });
});
