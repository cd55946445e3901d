import { describe, expect, test } from "vitest";
import { stringify } from "yaml";
import { type JanitorConfig, parseConfig } from "../../src/config/config.js";
import type { Handshake } from "../../src/domain/handshake.js";
import { createPlanner, plan, validateSelection } from "../../src/policy/plan.js";
import type { RuleVerdict } from "../../src/rules/contract.js";
import { evaluateRule } from "../../src/rules/index.js";

const DAY_MS = 86_400_000;
const now = new Date("2026-03-01T12:00:00Z");
const daysAgo = (days: number) => new Date(now.getTime() - days * DAY_MS);

const rules = [
  { id: "stale-invitations", type: "stale", olderThanDays: 7, actionTypes: ["INVITE"] },
  { id: "outside-email", type: "email", allow: ["*@example.com"], deny: ["*@gmail.com"] },
  { id: "unknown-account", type: "account", allow: ["111122223333"] },
];

function configOf(overrides: Record<string, unknown> = {}): JanitorConfig {
  return parseConfig(stringify({ version: 1, dryRun: false, rules, ...overrides }), "test.yaml");
}

let serial = 0;
/** A fresh, young, allowed invitation unless told otherwise: no rule matches it. */
function handshake(overrides: Partial<Handshake> = {}): Handshake {
  serial += 1;
  return {
    id: `h-${String(serial).padStart(10, "0")}`,
    state: "OPEN",
    action: "INVITE",
    requestedAt: daysAgo(1),
    target: { type: "EMAIL", value: "alice@example.com" },
    ...overrides,
  };
}
const emailTo = (value: string) => ({ type: "EMAIL", value });
const accountTarget = (value: string) => ({ type: "ACCOUNT", value });

function reasonOf(config: JanitorConfig, ruleId: string, h: Handshake): string {
  const rule = config.rules.find((r) => r.id === ruleId);
  if (!rule) throw new Error(`no rule ${ruleId}`);
  const verdict: RuleVerdict = evaluateRule(rule, h, { now });
  if (verdict.verdict !== "match") throw new Error(`rule ${ruleId} does not match`);
  return verdict.reason;
}

describe("plan", () => {
  test("names the first matching rule in config order and lists every match", () => {
    const config = configOf();
    const h = handshake({ requestedAt: daysAgo(10), target: emailTo("bob@gmail.com") });

    const result = plan({ handshakes: [h], config, now });

    expect(result.decisions).toEqual([
      {
        kind: "cancel",
        handshake: h,
        ruleId: "stale-invitations",
        matchedRules: ["stale-invitations", "outside-email"],
        reason: reasonOf(config, "stale-invitations", h),
      },
    ]);
    expect(result.selected).toBe(1);
  });

  test("produces no decision for a handshake no rule matches", () => {
    const result = plan({ handshakes: [handshake()], config: configOf(), now });

    expect(result.decisions).toEqual([]);
    expect(result).toMatchObject({ listed: 1, candidates: 1, selected: 0, blocked: false });
  });

  test.each([
    { state: "OPEN", candidate: true },
    { state: "REQUESTED", candidate: true },
    { state: "ACCEPTED", candidate: false },
    { state: "DECLINED", candidate: false },
    { state: "CANCELED", candidate: false },
    { state: "EXPIRED", candidate: false },
    { state: "SOMETHING_NEW", candidate: false },
  ])("treats a $state handshake as a candidate: $candidate", ({ state, candidate }) => {
    const h = handshake({ state, target: emailTo("bob@gmail.com") });

    const result = plan({ handshakes: [h], config: configOf(), now });

    expect(result.listed).toBe(1);
    expect(result.candidates).toBe(candidate ? 1 : 0);
    expect(result.decisions.map((d) => d.handshake.id)).toEqual(candidate ? [h.id] : []);
  });

  test("keeps decisions in listing order", () => {
    const handshakes = [
      handshake({ target: accountTarget("999988887777") }),
      handshake(),
      handshake({ target: emailTo("bob@gmail.com") }),
      handshake({ requestedAt: daysAgo(30) }),
    ];

    const result = plan({ handshakes, config: configOf(), now });

    const matching = [handshakes[0], handshakes[2], handshakes[3]].map((h) => h?.id);
    expect(result.decisions.map((d) => d.handshake.id)).toEqual(matching);
  });

  describe("exemptions", () => {
    const gmail = handshake({ id: "h-0123456789abcdef", target: emailTo("bob@gmail.com") });
    const partner = handshake({ target: emailTo("carol@Partner.Example") });
    const vendor = handshake({ target: accountTarget("222222222222") });

    test.each([
      { by: "handshake id", exemption: { handshakeId: gmail.id, reason: "approved" }, h: gmail },
      { by: "email glob", exemption: { email: "*@partner.example", reason: "onboarding" }, h: partner },
      { by: "account id", exemption: { accountId: "222222222222", reason: "vendor" }, h: vendor },
      {
        by: "an exemption whose until day is today",
        exemption: { accountId: "222222222222", reason: "vendor", until: now.toISOString().slice(0, 10) },
        h: vendor,
      },
    ])("protect a matched handshake by $by", ({ exemption, h }) => {
      const config = configOf({ exemptions: [exemption] });

      const result = plan({ handshakes: [h], config, now });

      const [only] = result.decisions;
      expect(result.decisions).toHaveLength(1);
      expect(only).toMatchObject({ kind: "exempted", exemption: config.exemptions[0] });
      expect(only?.reason).toBe(`${reasonOf(config, only?.ruleId ?? "", h)}; exempted: ${exemption.reason}`);
      expect(result.selected).toBe(0);
    });

    test("do not protect an address that only a confusable spelling puts under the glob", () => {
      const kelvin = handshake({ target: emailTo("bob@\u212Aontoso.com") });
      const config = configOf({ exemptions: [{ email: "*@kontoso.com", reason: "partner" }] });

      const result = plan({ handshakes: [kelvin], config, now });

      expect(result.decisions.map((d) => d.kind)).toEqual(["cancel"]);
    });

    test("do not protect once expired", () => {
      const yesterday = daysAgo(1).toISOString().slice(0, 10);
      const config = configOf({
        exemptions: [{ accountId: "222222222222", reason: "vendor", until: yesterday }],
      });

      const result = plan({ handshakes: [vendor], config, now });

      expect(result.decisions.map((d) => d.kind)).toEqual(["cancel"]);
    });

    test("apply the first active one in config order", () => {
      const config = configOf({
        exemptions: [
          { email: "*@partner.example", reason: "expired deal", until: "2026-01-01" },
          { email: "carol@*", reason: "carol is fine" },
          { email: "*@partner.example", reason: "onboarding" },
        ],
      });

      const [decision] = plan({ handshakes: [partner], config, now }).decisions;

      expect(decision?.kind === "exempted" && decision.exemption).toEqual(config.exemptions[1]);
    });

    test("produce nothing for a handshake no rule matches", () => {
      const config = configOf({ exemptions: [{ email: "*@example.com", reason: "ours" }] });

      expect(plan({ handshakes: [handshake()], config, now }).decisions).toEqual([]);
    });

    test("do not count towards the cap", () => {
      const config = configOf({
        maxCancellationsPerRun: 1,
        exemptions: [{ accountId: "222222222222", reason: "x" }],
      });

      const result = plan({ handshakes: [vendor, gmail], config, now });

      expect(result).toMatchObject({ selected: 1, limit: 1, blocked: false });
    });
  });

  describe("narrowing", () => {
    const both = handshake({ requestedAt: daysAgo(10), target: emailTo("bob@gmail.com") });
    const staleOnly = handshake({ requestedAt: daysAgo(10) });

    test("evaluates only the selected rules, keeping config order", () => {
      const config = configOf({ rules: [...rules, { id: "too-old", type: "stale", olderThanDays: 5 }] });

      const result = plan({
        handshakes: [both, staleOnly],
        config,
        now,
        only: { ruleIds: ["too-old", "outside-email"] },
      });

      expect(result.decisions.map((d) => [d.handshake.id, d.ruleId, d.matchedRules])).toEqual([
        [both.id, "outside-email", ["outside-email", "too-old"]],
        [staleOnly.id, "too-old", ["too-old"]],
      ]);
    });

    test("considers only the selected handshakes as candidates", () => {
      const result = plan({
        handshakes: [both, staleOnly],
        config: configOf(),
        now,
        only: { handshakeIds: [staleOnly.id] },
      });

      expect(result).toMatchObject({ listed: 2, candidates: 1 });
      expect(result.decisions.map((d) => d.handshake.id)).toEqual([staleOnly.id]);
    });

    test("treats absent lists as no narrowing", () => {
      const config = configOf();
      const unnarrowed = plan({ handshakes: [both, staleOnly], config, now });

      const narrowed = plan({ handshakes: [both, staleOnly], config, now, only: {} });

      expect(narrowed).toEqual(unnarrowed);
      expect(narrowed.decisions).toHaveLength(2);
    });

    // Fail closed: an empty list that slipped past validation selects nothing, never everything.
    test.each([
      { only: { ruleIds: [] }, candidates: 2 },
      { only: { handshakeIds: [] }, candidates: 0 },
      { only: { ruleIds: [], handshakeIds: [] }, candidates: 0 },
    ])("treats $only as selecting nothing", ({ only, candidates }) => {
      const result = plan({ handshakes: [both, staleOnly], config: configOf(), now, only });

      expect(result).toMatchObject({ listed: 2, candidates, selected: 0 });
      expect(result.decisions).toEqual([]);
    });
  });

  describe("a rule that throws", () => {
    // An unreadable requestedAt makes the stale rule throw; the gmail target makes the email rule match.
    const broken = handshake({ requestedAt: new Date(Number.NaN), target: emailTo("bob@gmail.com") });

    test("fails the handshake even when another rule matched, and never cancels it", () => {
      const result = plan({ handshakes: [broken], config: configOf(), now });

      expect(result.decisions).toEqual([
        {
          kind: "failed",
          handshake: broken,
          ruleId: "stale-invitations",
          matchedRules: ["outside-email"],
          reason: expect.stringContaining("stale-invitations"),
          error: expect.stringContaining("invalid requestedAt"),
        },
      ]);
      expect(result.selected).toBe(0);
    });

    test("fails the handshake even when an exemption covers it", () => {
      const config = configOf({ exemptions: [{ email: "*@gmail.com", reason: "x" }] });

      expect(plan({ handshakes: [broken], config, now }).decisions.map((d) => d.kind)).toEqual(["failed"]);
    });

    test("leaves the other handshakes' decisions alone", () => {
      const fine = handshake({ target: emailTo("eve@gmail.com") });

      const result = plan({ handshakes: [broken, fine], config: configOf(), now });

      expect(result.decisions.map((d) => [d.handshake.id, d.kind])).toEqual([
        [broken.id, "failed"],
        [fine.id, "cancel"],
      ]);
    });
  });

  test.each([
    { limit: 3, matches: 3, blocked: false },
    { limit: 2, matches: 3, blocked: true },
  ])("with $matches matches and a cap of $limit is blocked: $blocked", ({ limit, matches, blocked }) => {
    const handshakes = Array.from({ length: matches }, () => handshake({ target: emailTo("bob@gmail.com") }));

    const result = plan({ handshakes, config: configOf({ maxCancellationsPerRun: limit }), now });

    expect(result).toMatchObject({ selected: matches, limit, blocked });
    expect(result.decisions).toHaveLength(matches);
  });
});

describe("createPlanner", () => {
  test("planning page by page decides exactly as planning the whole listing at once", () => {
    const listing = [
      handshake(),
      handshake({ requestedAt: daysAgo(9) }),
      handshake({ target: emailTo("x@gmail.com") }),
      handshake({ state: "ACCEPTED", requestedAt: daysAgo(30) }),
      handshake({ target: accountTarget("999988887777"), action: "INVITE" }),
      handshake({ target: emailTo("y@gmail.com"), requestedAt: daysAgo(20) }),
      handshake(),
    ];
    for (const cap of [25, 2]) {
      const config = configOf({ maxCancellationsPerRun: cap });
      const whole = plan({ handshakes: listing, config, now });
      const planner = createPlanner({ config, now });
      for (const page of [listing.slice(0, 3), [], listing.slice(3, 4), listing.slice(4)]) planner.add(page);

      const paged = planner.finish();

      expect(paged).toEqual(whole);
      expect(paged.listed).toBe(listing.length);
      expect(paged.blocked).toBe(cap === 2);
    }
  });
});

describe("validateSelection", () => {
  const config = configOf();
  const known = rules.map((r) => r.id).join(", ");
  const handshakeProblem = "must be a handshake id: h- followed by 8 to 32 lower-case letters or digits";

  test("accepts known rule ids and well-formed handshake ids", () => {
    expect(
      validateSelection(config, { ruleIds: [rules[0]?.id ?? ""], handshakeIds: ["h-0123456789abcdef"] }),
    ).toEqual([]);
  });

  test.each([
    {
      only: { ruleIds: [] },
      problem: { field: "rules", value: [], problem: "must not be empty (leave it out to apply every rule)" },
    },
    {
      only: { handshakeIds: [] },
      problem: {
        field: "handshakeIds",
        value: [],
        problem: "must not be empty (leave it out to select every handshake)",
      },
    },
    {
      only: { ruleIds: [""] },
      problem: { field: "rules", index: 0, value: "", problem: "must not be empty" },
    },
  ])("reports the empty selection $only", ({ only, problem }) => {
    expect(validateSelection(config, only)).toEqual([problem]);
  });

  test("accepts an absent selection", () => {
    expect(validateSelection(config, {})).toEqual([]);
  });

  test("reports every unknown rule id and malformed handshake id with its place in the list", () => {
    const problems = validateSelection(config, {
      ruleIds: ["stale", "outside-email", "x"],
      handshakeIds: ["h-SHOUT123", "h-1"],
    });

    expect(problems).toEqual([
      { field: "rules", index: 0, value: "stale", problem: `unknown rule id 'stale' (known: ${known})` },
      { field: "rules", index: 2, value: "x", problem: `unknown rule id 'x' (known: ${known})` },
      { field: "handshakeIds", index: 0, value: "h-SHOUT123", problem: `'h-SHOUT123' ${handshakeProblem}` },
      { field: "handshakeIds", index: 1, value: "h-1", problem: `'h-1' ${handshakeProblem}` },
    ]);
  });
});
