import { describe, expect, test } from "vitest";
import type { Handshake } from "../../../src/domain/handshake.js";
import { type StaleOptionsInput, stale } from "../../../src/rules/stale.js";

const DAY_MS = 86_400_000;
const now = new Date("2026-03-01T12:00:00Z");
const daysAgo = (days: number) => new Date(now.getTime() - days * DAY_MS);

function handshake(overrides: Partial<Handshake> = {}): Handshake {
  return {
    id: "h-00000001",
    state: "OPEN",
    action: "INVITE",
    requestedAt: daysAgo(1),
    target: { type: "EMAIL", value: "alice@example.com" },
    ...overrides,
  };
}

const reason = (age: number, threshold: number) =>
  `requested ${age.toFixed(1)} days ago, older than ${threshold} days`;

describe("stale rule", () => {
  test.each<{
    name: string;
    options: StaleOptionsInput;
    handshake: Handshake;
    expected: ReturnType<typeof stale.evaluate>;
  }>([
    {
      name: "matches a handshake older than the threshold",
      options: { olderThanDays: 7 },
      handshake: handshake({ requestedAt: daysAgo(9.2) }),
      expected: { verdict: "match", reason: reason(9.2, 7) },
    },
    {
      name: "matches one minute past the threshold",
      options: { olderThanDays: 7 },
      handshake: handshake({ requestedAt: new Date(daysAgo(7).getTime() - 60_000) }),
      expected: { verdict: "match", reason: reason(7 + 60_000 / DAY_MS, 7) },
    },
    {
      name: "passes a handshake exactly at the threshold",
      options: { olderThanDays: 7 },
      handshake: handshake({ requestedAt: daysAgo(7) }),
      expected: { verdict: "pass" },
    },
    {
      name: "passes a younger handshake",
      options: { olderThanDays: 7 },
      handshake: handshake({ requestedAt: daysAgo(3) }),
      expected: { verdict: "pass" },
    },
    {
      name: "passes a handshake requested in the future (clock skew)",
      options: { olderThanDays: 0.5 },
      handshake: handshake({ requestedAt: daysAgo(-1) }),
      expected: { verdict: "pass" },
    },
    {
      name: "accepts fractional thresholds",
      options: { olderThanDays: 0.5 },
      handshake: handshake({ requestedAt: daysAgo(0.75) }),
      expected: { verdict: "match", reason: reason(0.75, 0.5) },
    },
    {
      name: "covers only invitations when unscoped",
      options: { olderThanDays: 7 },
      handshake: handshake({ action: "ENABLE_ALL_FEATURES", requestedAt: daysAgo(10) }),
      expected: { verdict: "not-applicable" },
    },
    {
      name: "covers another action type once it is named",
      options: { olderThanDays: 7, actionTypes: ["ENABLE_ALL_FEATURES"] },
      handshake: handshake({ action: "ENABLE_ALL_FEATURES", requestedAt: daysAgo(10) }),
      expected: { verdict: "match", reason: reason(10, 7) },
    },
    {
      name: "matches an action type in scope",
      options: { olderThanDays: 7, actionTypes: ["ENABLE_ALL_FEATURES", "INVITE"] },
      handshake: handshake({ requestedAt: daysAgo(10) }),
      expected: { verdict: "match", reason: reason(10, 7) },
    },
    {
      name: "does not apply to an action type out of scope",
      options: { olderThanDays: 7, actionTypes: ["INVITE"] },
      handshake: handshake({ action: "ENABLE_ALL_FEATURES", requestedAt: daysAgo(10) }),
      expected: { verdict: "not-applicable" },
    },
    {
      name: "does not apply without a requested time",
      options: { olderThanDays: 7 },
      handshake: handshake({ requestedAt: undefined }),
      expected: { verdict: "not-applicable" },
    },
  ])("$name", ({ options, handshake, expected }) => {
    expect(stale.evaluate(handshake, stale.options.parse(options), { now })).toEqual(expected);
  });

  test("throws on an unreadable requested time, so the planner fails closed", () => {
    const broken = handshake({ requestedAt: new Date(Number.NaN) });

    const options = stale.options.parse({ olderThanDays: 7 });

    expect(() => stale.evaluate(broken, options, { now })).toThrow(/invalid requestedAt/);
  });

  test.each([
    { options: { olderThanDays: 0 }, path: ["olderThanDays"] },
    { options: { olderThanDays: -1 }, path: ["olderThanDays"] },
    { options: { olderThanDays: "7" }, path: ["olderThanDays"] },
    { options: {}, path: ["olderThanDays"] },
    { options: { olderThanDays: 7, actionTypes: [] }, path: ["actionTypes"] },
    { options: { olderThanDays: 7, actionTypes: "INVITE" }, path: ["actionTypes"] },
    { options: { olderThanDays: 7, actionTypes: ["invite"] }, path: ["actionTypes", 0] },
    { options: { olderThanDays: 7, olderThanHours: 3 }, path: [] },
  ])("rejects options $options at $path", ({ options, path }) => {
    const result = stale.options.safeParse(options);

    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path)).toEqual([path]);
  });

  test("describes its scope and threshold", () => {
    expect(stale.describe({ olderThanDays: 7, actionTypes: ["INVITE"] })).toBe(
      "INVITE handshakes requested more than 7 days ago",
    );
    expect(stale.describe(stale.options.parse({ olderThanDays: 3 }))).toBe(
      "INVITE handshakes requested more than 3 days ago",
    );
  });
});
