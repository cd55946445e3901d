import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/config.js";
import { goneChanges, judge, ledgerId, pageChanges } from "../../src/policy/ledger.js";
import { simulate } from "../../src/policy/simulate.js";
import type { KnownHandshake, LedgerRecord } from "../../src/ports/ledger.js";
import { completeness } from "../../src/report/population-section.js";
import { handshake } from "../support/fakes.js";

const config = parseConfig(
  JSON.stringify({
    version: 1,
    rules: [
      { id: "stale", type: "stale", olderThanDays: 7 },
      { id: "outside-email", type: "email", allow: ["*@example.com"], graceHours: 24 },
    ],
    exemptions: [{ email: "*@partner.example", reason: "onboarding" }],
  }),
  "test.json",
);
const now = new Date("2026-12-01T00:00:00Z");
const context = { runId: "run-1", now, config, configHash: "abc" };

describe("the ledger's verdict", () => {
  it.each([
    { name: "an allowed open invitation", target: "a@example.com", state: "OPEN", verdict: "compliant" },
    {
      name: "an outside one, under a rule with grace",
      target: "a@gmail.com",
      state: "OPEN",
      verdict: "selected",
    },
    { name: "an exempted one", target: "a@partner.example", state: "OPEN", verdict: "exempted" },
    // Judged as of its request: eleven days old now, but a stale rule would not have selected it then.
    {
      name: "an old allowed one first seen accepted",
      target: "a@example.com",
      state: "ACCEPTED",
      verdict: "compliant",
    },
  ])("$name is $verdict", ({ target, state, verdict }) => {
    // A day old, but for the one first seen closed (eleven days old now).
    const requestedAt = new Date(state === "OPEN" ? "2026-11-30T00:00:00Z" : "2026-11-20T00:00:00Z");
    const seen = handshake({ state, requestedAt, target: { type: "EMAIL", value: target } });

    expect(judge(seen, context).verdict).toBe(verdict);
  });

  it("names the rule and whether it marks or cancels", () => {
    expect(judge(handshake({ target: { type: "EMAIL", value: "x@gmail.com" } }), context)).toEqual({
      verdict: "selected",
      ruleId: "stale",
      selection: "cancel",
      configHash: "abc",
    });
  });
});

describe("the ledger's changes", () => {
  it("enters a new handshake with what it has, flagging what it lacks, and never drops it", () => {
    const bare = { id: "", state: "LIMBO", action: "TELEPORT" };

    const [change] = pageChanges([bare], new Map(), context);

    expect(change?.entry).toMatchObject({
      handshakeId: ledgerId(bare),
      kind: "SEEN",
      state: "LIMBO",
      action: "TELEPORT",
      flags: [
        "id missing",
        "parties missing",
        "unknown action TELEPORT",
        "unknown state LIMBO",
        "requestedAt missing",
      ],
    });
    expect(ledgerId(bare)).toMatch(/^unidentified-[0-9a-f]{16}$/);
  });

  it("writes nothing for a handshake whose state is what the ledger holds", () => {
    const same = handshake();
    const known = new Map<string, KnownHandshake>([[same.id, { state: "OPEN", gone: false }]]);

    expect(pageChanges([same], known, context)).toEqual([]);
  });

  it("flags a selected handshake accepted before the janitor acted as escaped, and a compliant one not", () => {
    const outsider = handshake({ state: "ACCEPTED" });
    const insider = handshake({ state: "ACCEPTED" });
    const known = new Map<string, KnownHandshake>([
      [outsider.id, { state: "OPEN", verdict: "selected", ruleId: "outside-email", gone: false }],
      [insider.id, { state: "OPEN", verdict: "compliant", gone: false }],
    ]);

    const changes = pageChanges([outsider, insider], known, context);

    expect(changes.map((c) => [c.entry.kind, c.entry.previousState, c.entry.state, c.entry.escaped])).toEqual(
      [
        ["STATE", "OPEN", "ACCEPTED", true],
        ["STATE", "OPEN", "ACCEPTED", undefined],
      ],
    );
  });

  it("flags a handshake first seen accepted that a rule would have selected as escaped", () => {
    const change = pageChanges(
      [handshake({ state: "ACCEPTED", target: { type: "EMAIL", value: "x@gmail.com" } })],
      new Map(),
      context,
    )[0];

    expect(change?.entry).toMatchObject({
      kind: "SEEN",
      verdict: "selected",
      ruleId: "outside-email",
      escaped: true,
    });
  });

  it("enters as gone what the ledger had as listed and a full listing lacks, once", () => {
    const listed = new Map<string, KnownHandshake>([
      ["h-aaaaaaaaaa", { state: "ACCEPTED", gone: false }],
      ["h-bbbbbbbbbb", { state: "OPEN", gone: false }],
    ]);

    const changes = goneChanges(listed, new Set(["h-bbbbbbbbbb"]), context);

    expect(changes.map((c) => [c.entry.handshakeId, c.entry.kind, c.entry.state])).toEqual([
      ["h-aaaaaaaaaa", "GONE", "ACCEPTED"],
    ]);
  });
});

describe("the report's completeness statement", () => {
  const sweepAt = (startedAt: string, overrides: Record<string, unknown> = {}) =>
    ({ runId: startedAt, trigger: "scheduled", status: "COMPLETED", startedAt, ...overrides }) as never;
  const since = new Date("2026-01-01T00:00:00Z");
  const until = new Date("2026-04-01T00:00:00Z");
  const coverage = { at: "2025-06-01T00:00:05.000Z", runId: "2025-06-01T00:00:00.000Z" };

  it("names every interval over 30 days without a full listing; real-time, failed and running runs do not count", () => {
    const lines = completeness(
      [
        sweepAt("2026-01-02T00:00:00.000Z"),
        sweepAt("2026-02-20T00:00:00.000Z", { trigger: "event" }),
        sweepAt("2026-02-21T00:00:00.000Z", { status: "FAILED" }),
        sweepAt("2026-02-22T00:00:00.000Z", { status: "RUNNING" }),
        sweepAt("2026-03-15T00:00:00.000Z"),
      ],
      since,
      until,
      { coverage },
    );

    expect(lines).toEqual([
      `The ledger covers the organization from ${coverage.at}, its first full listing (run ${coverage.runId}).`,
      "No full listing before the period is on record.",
      "Intervals longer than 30 days without a full listing, in which handshakes opened and closed may be missing: 2026-01-02T00:00:00.000Z to 2026-03-15T00:00:00.000Z.",
    ]);
  });

  it("counts from the last full listing before the period", () => {
    const before = sweepAt("2025-11-20T00:00:00.000Z");
    const runs = [
      sweepAt("2026-01-10T00:00:00.000Z"),
      sweepAt("2026-02-05T00:00:00.000Z"),
      sweepAt("2026-03-03T00:00:00.000Z"),
    ];

    const lines = completeness(runs, since, until, { coverage, before });

    expect(lines).toEqual([
      `The ledger covers the organization from ${coverage.at}, its first full listing (run ${coverage.runId}).`,
      "The last full listing before the period: 2025-11-20T00:00:00.000Z (run 2025-11-20T00:00:00.000Z).",
      "Intervals longer than 30 days without a full listing, in which handshakes opened and closed may be missing: 2025-11-20T00:00:00.000Z to 2026-01-10T00:00:00.000Z.",
    ]);
    // The same period with a listing closer before it: no interval is too long.
    const recent = sweepAt("2025-12-20T00:00:00.000Z");
    expect(completeness(runs, since, until, { coverage, before: recent }).at(-1)).toMatch(/^No interval/);
  });

  it("counts no listing before the ledger covered the organization, and the one that started it", () => {
    const late = { at: "2026-02-01T00:00:03.000Z", runId: "2026-02-01T00:00:00.000Z" };
    const runs = [
      sweepAt("2026-01-05T00:00:00.000Z"),
      sweepAt("2026-02-01T00:00:00.000Z"),
      sweepAt("2026-02-25T00:00:00.000Z"),
      sweepAt("2026-03-20T00:00:00.000Z"),
    ];

    expect(completeness(runs, since, until, { coverage: late })).toEqual([
      `The ledger covers the organization from ${late.at}, its first full listing (run ${late.runId}).`,
      "Intervals longer than 30 days without a full listing, in which handshakes opened and closed may be missing: 2026-01-01T00:00:00.000Z to 2026-02-01T00:00:00.000Z.",
    ]);
  });

  it("says when the ledger records no full listing at all", () => {
    expect(completeness([sweepAt("2026-01-02T00:00:00.000Z")], since, until)).toEqual([
      "The ledger records no full listing of the organization: it may miss handshakes of the whole period.",
    ]);
  });
});

describe("simulate", () => {
  const record = (overrides: Partial<LedgerRecord>): LedgerRecord => ({
    handshakeId: "h-aaaaaaaaaa",
    action: "INVITE",
    state: "ACCEPTED",
    firstSeenState: "OPEN",
    target: "a@example.com",
    targetType: "EMAIL",
    requestedAt: "2026-11-01T00:00:00.000Z",
    firstSeenAt: "2026-11-03T00:00:00.000Z",
    firstSeenRun: "run-0",
    changedAt: "2026-11-03T00:00:00.000Z",
    changedRun: "run-0",
    verdict: "compliant",
    configHash: "old",
    ...overrides,
  });
  const stale = (days: number) =>
    parseConfig(
      JSON.stringify({ version: 1, rules: [{ id: "stale", type: "stale", olderThanDays: days }] }),
      "new.json",
    );

  it("ages a handshake from its request to when it was first seen, not to now", () => {
    // Two days old when first seen: a one-day stale rule would have selected it, a three-day one not.
    expect(simulate([record({})], stale(1), "new").map((d) => [d.change, d.would.ruleId])).toEqual([
      ["newly selected", "stale"],
    ]);
    expect(simulate([record({})], stale(3), "new")).toEqual([]);
  });

  it("names a handshake no longer selected, and one selected by a different rule", () => {
    const selected = record({ verdict: "selected", ruleId: "outside-email", selection: "cancel" });

    expect(simulate([selected], stale(3), "new").map((d) => d.change)).toEqual(["no longer selected"]);
    expect(simulate([selected], stale(1), "new").map((d) => d.change)).toEqual(["different rule"]);
  });
});
