import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { parse, stringify } from "yaml";
import {
  configHash,
  exemptionEnd,
  isExemptionActive,
  type JanitorConfig,
  loadConfig,
  parseConfig,
} from "../../src/config/config.js";
import { configWarnings, describeConfig } from "../../src/config/describe.js";
import { ConfigError } from "../../src/domain/errors.js";
import { describeRule, loadRuleKinds, RULE_KIND_NAMES, type RuleConfig } from "../../src/rules/index.js";
import { notes } from "../../src/rules/notes.js";

// A notes rule's options are checked by its RE2 engine, which loadConfig loads; parseConfig does not.
beforeAll(() => loadRuleKinds(RULE_KIND_NAMES));

const SOURCE = "janitor.yaml";
const now = new Date("2026-03-01T12:00:00Z");

const staleRule = { id: "stale-invitations", type: "stale", olderThanDays: 7, actionTypes: ["INVITE"] };
const emailRule = { id: "outside-email", type: "email", allow: ["*@example.com"], deny: ["*@gmail.com"] };
const accountRule = { id: "unknown-account", type: "account", allow: ["111122223333"] };

/** A valid config document with `changes` laid over it; `undefined` removes a key. */
function doc(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = { version: 1, dryRun: false, rules: [staleRule], ...changes };
  return Object.fromEntries(Object.entries(base).filter(([, value]) => value !== undefined));
}

function issuesOf(text: string, source = SOURCE): readonly string[] {
  try {
    parseConfig(text, source);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error("expected the config to be rejected");
}

describe("parseConfig accepts", () => {
  test("a minimal config and fills the defaults", () => {
    const config = parseConfig(stringify({ version: 1, rules: [staleRule] }), SOURCE);

    expect(config.dryRun).toBe(true);
    expect(config.maxCancellationsPerRun).toBe(25);
    expect(config.exemptions).toEqual([]);
    const { id, type, ...options } = staleRule;
    expect(config.rules).toEqual([{ id, type, options }]);
  });

  test("a safety cap above 10,000 that says why, and one of exactly 10,000 without", () => {
    const high = parseConfig(
      stringify(doc({ maxCancellationsPerRun: 50_000, maxCancellationsReason: "initial clean-up, CHG-77" })),
      SOURCE,
    );
    const edge = parseConfig(stringify(doc({ maxCancellationsPerRun: 10_000 })), SOURCE);

    expect(high).toMatchObject({
      maxCancellationsPerRun: 50_000,
      maxCancellationsReason: "initial clean-up, CHG-77",
    });
    expect(describeConfig(high, now)).toContain("maxCancellationsPerRun: 50000 (initial clean-up, CHG-77)");
    expect(edge.maxCancellationsPerRun).toBe(10_000);
  });

  test("JSON in a .json source, giving the same config as YAML", () => {
    const data = doc({
      rules: [staleRule, emailRule],
      exemptions: [{ accountId: "222222222222", reason: "vendor" }],
    });

    expect(parseConfig(JSON.stringify(data), "janitor.json")).toEqual(parseConfig(stringify(data), SOURCE));
  });

  test("every registered rule kind", () => {
    const rules = [staleRule, emailRule, accountRule, { id: "ticket", type: "notes", require: "CHG-[0-9]+" }];

    const config = parseConfig(stringify(doc({ rules })), SOURCE);

    expect(config.rules.map((rule) => rule.type)).toEqual([...RULE_KIND_NAMES]);
  });

  test("an exemption date, a date-time with offset and a YAML 1.1 timestamp", () => {
    const text = [
      "%YAML 1.1",
      "---",
      stringify(doc()),
      "exemptions:",
      "  - { email: '*@partner.example', reason: onboarding, until: '2027-06-30' }",
      "  - { accountId: '222222222222', reason: vendor, until: '2027-06-30T12:00:00+02:00' }",
      "  - { handshakeId: h-0123456789abcdef, reason: approved, until: 2027-06-30 }",
    ].join("\n");

    const config = parseConfig(text, SOURCE);

    expect(config.exemptions.map((e) => e.until)).toEqual([
      "2027-06-30",
      "2027-06-30T10:00:00.000Z",
      "2027-06-30",
    ]);
  });
});

describe("parseConfig rejects", () => {
  test.each([
    {
      name: "a threshold that is not positive",
      data: doc({ rules: [staleRule, { id: "b", type: "stale", olderThanDays: 0 }] }),
      issue: "janitor.yaml: rules[1].olderThanDays: must be greater than 0",
    },
    {
      name: "an unknown option key",
      data: doc({ rules: [{ ...staleRule, colour: "red" }] }),
      issue: "janitor.yaml: rules[0].colour: unknown key",
    },
    {
      name: "an unknown rule type, naming the known ones",
      data: doc({ rules: [staleRule, emailRule, { id: "beam-me-up", type: "teleport" }] }),
      issue: `janitor.yaml: rules[2].type: unknown rule type 'teleport' (known: ${RULE_KIND_NAMES.join(", ")})`,
    },
    {
      name: "a duplicate rule id, naming the first",
      data: doc({ rules: [staleRule, emailRule, accountRule, { ...emailRule, id: staleRule.id }] }),
      issue: `janitor.yaml: rules[3].id: duplicate id '${staleRule.id}' (first at rules[0])`,
    },
    {
      name: "a rule id that is not kebab-case",
      data: doc({ rules: [{ ...staleRule, id: "Stale_Invites" }] }),
      issue:
        "janitor.yaml: rules[0].id: must be kebab-case: lower-case letters, digits and '-', not starting with '-'",
    },
    {
      name: "a rule without a type",
      data: doc({ rules: [{ id: "x", olderThanDays: 7 }] }),
      issue: `janitor.yaml: rules[0].type: is required (one of ${RULE_KIND_NAMES.join(", ")})`,
    },
    {
      name: "a notes pattern RE2 cannot compile (a lookahead), naming the field",
      data: doc({
        rules: [staleRule, emailRule, accountRule, { id: "ticket", type: "notes", require: "(?=CHG)" }],
      }),
      issue:
        "janitor.yaml: rules[3].require: is not a valid RE2 pattern (invalid or unsupported Perl syntax: `(?=`)",
    },
    {
      name: "a safety cap above 10,000 without a reason",
      data: doc({ maxCancellationsPerRun: 10_001 }),
      issue:
        "janitor.yaml: maxCancellationsPerRun: is above 10000, where the cap protects nothing; lower it, or say why in maxCancellationsReason",
    },
    {
      name: "an empty reason for a high safety cap",
      data: doc({ maxCancellationsPerRun: 50_000, maxCancellationsReason: " " }),
      issue: "janitor.yaml: maxCancellationsReason: must not be empty",
    },
    {
      name: "a rule that is not a mapping",
      data: doc({ rules: ["stale"] }),
      issue: `janitor.yaml: rules[0]: must be a mapping with id, type and the rule's options, got "stale"`,
    },
    {
      name: "a rule kind's own cross-field check, at the rule's path",
      data: doc({ rules: [{ id: "mail", type: "email" }] }),
      issue: "janitor.yaml: rules[0]: needs allow, deny or both",
    },
    {
      name: "an unquoted account id",
      data: doc({ rules: [{ ...accountRule, allow: [111122223333] }] }),
      issue:
        "janitor.yaml: rules[0].allow[0]: must be a quoted string of 12 digits (unquoted, YAML reads it as a number)",
    },
    {
      name: "no rules",
      data: doc({ rules: [] }),
      issue: "janitor.yaml: rules: must list at least one rule",
    },
    {
      name: "a missing version",
      data: doc({ version: undefined }),
      issue: "janitor.yaml: version: is required",
    },
    {
      name: "another version",
      data: doc({ version: 2 }),
      issue: "janitor.yaml: version: must be 1",
    },
    {
      name: "a dryRun that is not a boolean",
      data: doc({ dryRun: "no" }),
      issue: 'janitor.yaml: dryRun: must be true or false, got "no"',
    },
    {
      name: "a cap of zero",
      data: doc({ maxCancellationsPerRun: 0 }),
      issue: "janitor.yaml: maxCancellationsPerRun: must be greater than 0",
    },
    {
      name: "a fractional cap",
      data: doc({ maxCancellationsPerRun: 2.5 }),
      issue: "janitor.yaml: maxCancellationsPerRun: must be a whole number, got 2.5",
    },
    {
      name: "an unknown top-level key",
      data: doc({ dryrun: true }),
      issue: "janitor.yaml: dryrun: unknown key",
    },
    {
      name: "an exemption without a target",
      data: doc({ exemptions: [{ reason: "because" }] }),
      issue: "janitor.yaml: exemptions[0]: needs one of handshakeId, email or accountId",
    },
    {
      name: "an exemption with two targets",
      data: doc({ exemptions: [{ email: "*@partner.example", accountId: "222222222222", reason: "both" }] }),
      issue:
        "janitor.yaml: exemptions[0]: names email and accountId; an exemption names exactly one (write one exemption per target)",
    },
    {
      name: "an exemption without a reason",
      data: doc({ exemptions: [{ accountId: "222222222222" }] }),
      issue: "janitor.yaml: exemptions[0].reason: is required",
    },
    {
      name: "an exemption with a blank reason",
      data: doc({ exemptions: [{ accountId: "222222222222", reason: "  " }] }),
      issue: "janitor.yaml: exemptions[0].reason: must not be empty",
    },
    {
      name: "a malformed handshake id",
      data: doc({ exemptions: [{ handshakeId: "h-XYZ", reason: "typo" }] }),
      issue:
        "janitor.yaml: exemptions[0].handshakeId: must be a handshake id: h- followed by 8 to 32 lower-case letters or digits",
    },
    {
      name: "an impossible until date",
      data: doc({ exemptions: [{ accountId: "222222222222", reason: "x", until: "2026-02-30" }] }),
      issue:
        "janitor.yaml: exemptions[0].until: must be a date (YYYY-MM-DD) or an ISO-8601 date-time with a time zone",
    },
    {
      name: "an until date-time without a time zone",
      data: doc({ exemptions: [{ accountId: "222222222222", reason: "x", until: "2026-02-03T10:00:00" }] }),
      issue:
        "janitor.yaml: exemptions[0].until: must be a date (YYYY-MM-DD) or an ISO-8601 date-time with a time zone",
    },
    {
      name: "an exemption email that is not a glob of an address",
      data: doc({ exemptions: [{ email: "partner.example", reason: "x" }] }),
      issue: "janitor.yaml: exemptions[0].email: must contain '@', as in '*@partner.example'",
    },
  ])("$name", ({ data, issue }) => {
    expect(issuesOf(stringify(data))).toEqual([issue]);
  });

  test("reports every problem at once, one line each", () => {
    const data = doc({
      maxCancellationsPerRun: -1,
      rules: [
        { ...staleRule, olderThanDays: 0 },
        { id: "t", type: "teleport" },
      ],
      exemptions: [{ reason: "no target" }],
    });

    expect(issuesOf(stringify(data))).toEqual([
      "janitor.yaml: maxCancellationsPerRun: must be greater than 0",
      "janitor.yaml: rules[0].olderThanDays: must be greater than 0",
      `janitor.yaml: rules[1].type: unknown rule type 'teleport' (known: ${RULE_KIND_NAMES.join(", ")})`,
      "janitor.yaml: exemptions[0]: needs one of handshakeId, email or accountId",
    ]);
  });

  test("reports a duplicate id even when other rules are invalid too", () => {
    const data = doc({
      rules: [staleRule, { ...staleRule, olderThanDays: "soon" }, { ...emailRule, id: staleRule.id }],
    });

    expect(issuesOf(stringify(data))).toEqual([
      "janitor.yaml: rules[1].id: duplicate id 'stale-invitations' (first at rules[0])",
      'janitor.yaml: rules[1].olderThanDays: must be a number, got "soon"',
      "janitor.yaml: rules[2].id: duplicate id 'stale-invitations' (first at rules[0])",
    ]);
  });

  test("broken YAML with its line and column", () => {
    const text = ["version: 1", "rules:", "  - id: a", "version: 2", ""].join("\n");

    const issues = issuesOf(text);

    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^janitor\.yaml: line 4, column 1: \S.*$/);
  });

  test("broken JSON with its line and column", () => {
    const text = ["{", '  "version": 1,', "}"].join("\n");

    const issues = issuesOf(text, "janitor.json");

    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^janitor\.json: line 3, column 1: \S.*$/);
  });

  test.each(["", "# only a comment\n"])("an empty file %j", (text) => {
    expect(issuesOf(text)).toEqual(["janitor.yaml: is empty; a config needs at least version and rules"]);
  });

  test("a document that is not a mapping", () => {
    expect(issuesOf("- version: 1\n")).toEqual(["janitor.yaml: must be a mapping, got a list"]);
  });
});

describe("loadConfig", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "janitor-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("reads the example config the demo uses", async () => {
    const config = await loadConfig("examples/janitor.yaml");

    expect(config.dryRun).toBe(false);
    expect(config.maxCancellationsPerRun).toBe(25);
    expect(config.rules.map((rule) => rule.id)).toEqual([
      "stale-invitations",
      "outside-email",
      "unknown-account",
      "ticket-required",
    ]);
    expect(config.exemptions.map((e) => e.email ?? e.accountId)).toEqual([
      "*@partner.example",
      "222222222222",
    ]);
    expect(configWarnings(config, now)).toEqual([]);
  });

  test("loads the engine of each rule kind the file names, and no other", async () => {
    const load = vi.spyOn(notes, "load");
    try {
      const withNotes = join(dir, "notes.yaml");
      const without = join(dir, "stale.yaml");
      await writeFile(
        withNotes,
        stringify(doc({ rules: [{ id: "t", type: "notes", require: "CHG-[0-9]+" }] })),
      );
      await writeFile(without, stringify(doc({ rules: [staleRule] })));

      await loadConfig(without);
      expect(load).not.toHaveBeenCalled();
      await loadConfig(withNotes);
      expect(load).toHaveBeenCalledTimes(1);
    } finally {
      load.mockRestore();
    }
  });

  test("names the file in every issue", async () => {
    const path = join(dir, "bad.yaml");
    await writeFile(path, stringify(doc({ rules: [{ ...staleRule, colour: "red" }] })));

    await expect(loadConfig(path)).rejects.toMatchObject({
      issues: [`${path}: rules[0].colour: unknown key`],
    });
  });

  test("reads JSON from a .json file", async () => {
    const path = join(dir, "janitor.json");
    await writeFile(path, JSON.stringify(doc()));

    expect((await loadConfig(path)).rules.map((rule) => rule.id)).toEqual([staleRule.id]);
  });

  test("reports a missing file as a config problem", async () => {
    const path = join(dir, "missing.yaml");

    const error = await loadConfig(path).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      `${path}: cannot read file (ENOENT: no such file or directory)`,
    ]);
  });
});

describe("exemption expiry", () => {
  const exemption = (until?: string) => ({
    accountId: "222222222222",
    reason: "vendor",
    ...(until ? { until } : {}),
  });

  test.each([
    { until: undefined, at: "2099-01-01T00:00:00.000Z", active: true },
    { until: "2026-03-01", at: "2026-03-01T23:59:59.999Z", active: true },
    { until: "2026-03-01", at: "2026-03-02T00:00:00.000Z", active: false },
    { until: "2026-03-01T10:00:00.000Z", at: "2026-03-01T10:00:00.000Z", active: true },
    { until: "2026-03-01T10:00:00.000Z", at: "2026-03-01T10:00:00.001Z", active: false },
  ])("until $until is active at $at: $active", ({ until, at, active }) => {
    expect(isExemptionActive(exemption(until), new Date(at))).toBe(active);
  });

  test("a date protects through the end of that day in UTC", () => {
    expect(exemptionEnd(exemption("2027-06-30"))?.toISOString()).toBe("2027-06-30T23:59:59.999Z");
  });
});

describe("configHash", () => {
  const parse = (data: Record<string, unknown>) => parseConfig(stringify(data), SOURCE);

  test("is 12 hex digits", () => {
    expect(configHash(parse(doc()))).toMatch(/^[0-9a-f]{12}$/);
  });

  test("ignores key order, formatting and spelled-out defaults", () => {
    const plain = parse({ version: 1, rules: [staleRule] });
    const reordered = parseConfig(
      `rules:\n  - { olderThanDays: 7, type: stale, actionTypes: [INVITE], id: stale-invitations }\n` +
        "exemptions: []\nmaxCancellationsPerRun: 25\ndryRun: true\nversion: 1\n",
      SOURCE,
    );

    expect(configHash(reordered)).toBe(configHash(plain));
  });

  test.each([
    { name: "dryRun", change: { dryRun: true } },
    { name: "the cap", change: { maxCancellationsPerRun: 3 } },
    { name: "a rule option", change: { rules: [{ ...staleRule, olderThanDays: 8 }] } },
    { name: "an exemption", change: { exemptions: [{ accountId: "222222222222", reason: "vendor" }] } },
  ])("changes with $name", ({ change }) => {
    expect(configHash(parse(doc(change)))).not.toBe(configHash(parse(doc())));
  });
});

describe("describeConfig with grace periods", () => {
  test("names each rule's graceHours, and none for a rule without one", () => {
    const graced = parseConfig(
      stringify(doc({ rules: [{ ...staleRule, graceHours: 36 }, emailRule] })),
      SOURCE,
    );
    const lines = describeConfig(graced, now).split("\n");
    const [stale, email] = graced.rules;

    expect(lines).toContain(
      `  ${stale?.id} [stale]: ${describeRule(stale as RuleConfig)}; grace 36 h: marked first, canceled 36 h later if it still matches`,
    );
    expect(lines.find((line) => line.startsWith(`  ${email?.id} [`))).not.toContain("grace");
  });
});

describe("describeConfig and configWarnings", () => {
  const config: JanitorConfig = parseConfig(
    stringify(
      doc({
        rules: [staleRule, emailRule, { ...accountRule, type: "stale", olderThanDays: 3, allow: undefined }],
        exemptions: [
          { email: "*@partner.example", reason: "onboarding", until: "2027-06-30" },
          { accountId: "222222222222", reason: "old deal", until: "2026-02-01" },
        ],
      }),
    ).replace("actionTypes:\n      - INVITE", "actionTypes:\n      - INVITES"),
    SOURCE,
  );

  test("prints settings, each rule with its description and each exemption", () => {
    const text = describeConfig(config, now);

    expect(text).toContain(`version: 1 (hash ${configHash(config)})`);
    expect(text).toContain("dryRun: false");
    expect(text).toContain("maxCancellationsPerRun: 25");
    for (const rule of config.rules)
      expect(text).toContain(`${rule.id} [${rule.type}]: ${describeRule(rule)}`);
    expect(text).toContain("email *@partner.example: onboarding (until 2027-06-30)");
    expect(text).toContain("account 222222222222: old deal (until 2026-02-01, EXPIRED)");
  });

  test("prints each rule's scope, INVITE when the rule names none", () => {
    const unscoped = parseConfig(
      stringify(doc({ rules: [{ id: "ticket-required", type: "notes", require: "CHG-[0-9]+" }] })),
      SOURCE,
    );

    const text = describeConfig(unscoped, now);

    expect(text).toContain("ticket-required [notes]: INVITE handshakes whose notes");
  });

  test("warns about email globs that match every address", () => {
    const broad = parseConfig(
      stringify(
        doc({
          rules: [{ id: "any-email", type: "email", allow: ["*@example.com", "*@*"], deny: ["*@*.*"] }],
          exemptions: [{ email: "**@**", reason: "everyone" }],
        }),
      ),
      SOURCE,
    );

    const warnings = configWarnings(broad, now);

    expect(warnings).toEqual([
      "rules[0].allow[1]: '*@*' matches every address: this allow list lets every email target through",
      "rules[0].deny[0]: '*@*.*' matches every address: every email invitation in scope is canceled",
      "exemptions[0].email: '**@**' matches every address: this exemption protects every email target",
    ]);
  });

  test("warns about no glob that leaves some address out", () => {
    const narrow = parseConfig(
      stringify(doc({ rules: [emailRule], exemptions: [{ email: "*@partner.example", reason: "p" }] })),
      SOURCE,
    );

    expect(configWarnings(narrow, now)).toEqual([]);
  });

  test("warns about expired exemptions and action types the service does not have", () => {
    expect(configWarnings(config, now, SOURCE)).toEqual([
      expect.stringMatching(/^janitor\.yaml: rules\[0\]\.actionTypes\[0\]: 'INVITES' is not an action type/),
      "janitor.yaml: exemptions[1].until: 2026-02-01 has passed; this exemption no longer protects anything",
    ]);
  });

  test("includes the warnings in the description", () => {
    const text = describeConfig(config, now);

    for (const warning of configWarnings(config, now)) expect(text).toContain(warning);
  });
});

describe("the YAML reader, loaded only for a config written in YAML", () => {
  test("parseConfig on YAML says the reader is not loaded, and loadConfig loads it", async () => {
    vi.resetModules();
    const fresh = await import("../../src/config/config.js");
    const yaml = "version: 1\nrules:\n  - id: stale\n    type: stale\n    olderThanDays: 7\n";
    expect(() => fresh.parseConfig(yaml, "fresh.yaml")).toThrow(/YAML reader is not loaded/);
    // JSON needs no reader.
    expect(fresh.parseConfig(JSON.stringify(parse(yaml)), "fresh.json").rules[0]?.id).toBe("stale");
    const dir = await mkdtemp(join(tmpdir(), "janitor-yaml-"));
    try {
      await writeFile(join(dir, "janitor.yaml"), yaml);
      expect((await fresh.loadConfig(join(dir, "janitor.yaml"))).rules[0]?.id).toBe("stale");
      expect(fresh.parseConfig(yaml, "fresh.yaml").rules[0]?.id).toBe("stale");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
