import { describe, expect, test } from "vitest";
import type { Handshake } from "../../../src/core/handshake.js";
import { type NotesOptions, notes } from "../../../src/rules/notes.js";

const now = new Date("2026-03-01T12:00:00Z");

function handshake(overrides: Partial<Handshake> = {}): Handshake {
  return {
    id: "h-00000001",
    state: "OPEN",
    action: "INVITE",
    requestedAt: now,
    target: { type: "EMAIL", value: "alice@example.com" },
    ...overrides,
  };
}

const ticket = "CHG-[0-9]+";
const noMatch = (pattern: string) => `notes do not match /${pattern}/`;
const noNotes = (pattern: string) => `carries no notes; notes must match /${pattern}/`;

describe("notes rule", () => {
  test.each<{
    name: string;
    options: NotesOptions;
    handshake: Handshake;
    expected: ReturnType<typeof notes.evaluate>;
  }>([
    {
      name: "passes notes that contain the pattern anywhere",
      options: { require: ticket },
      handshake: handshake({ notes: "Welcome aboard, per CHG-1234." }),
      expected: { verdict: "pass" },
    },
    {
      name: "matches notes without the pattern",
      options: { require: ticket },
      handshake: handshake({ notes: "Welcome aboard" }),
      expected: { verdict: "match", reason: noMatch(ticket) },
    },
    {
      name: "matches case-sensitively",
      options: { require: ticket },
      handshake: handshake({ notes: "per chg-1234" }),
      expected: { verdict: "match", reason: noMatch(ticket) },
    },
    {
      name: "honours anchors written in the pattern",
      options: { require: "^CHG-[0-9]+$" },
      handshake: handshake({ notes: "see CHG-1234" }),
      expected: { verdict: "match", reason: noMatch("^CHG-[0-9]+$") },
    },
    {
      name: "matches a handshake without notes",
      options: { require: ticket },
      handshake: handshake({ notes: undefined }),
      expected: { verdict: "match", reason: noNotes(ticket) },
    },
    {
      name: "matches empty notes",
      options: { require: ticket },
      handshake: handshake({ notes: "" }),
      expected: { verdict: "match", reason: noNotes(ticket) },
    },
    {
      name: "covers every action type when unscoped",
      options: { require: ticket },
      handshake: handshake({ action: "ENABLE_ALL_FEATURES" }),
      expected: { verdict: "match", reason: noNotes(ticket) },
    },
    {
      name: "does not apply to an action type out of scope",
      options: { require: ticket, actionTypes: ["INVITE"] },
      handshake: handshake({ action: "ENABLE_ALL_FEATURES" }),
      expected: { verdict: "not-applicable" },
    },
  ])("$name", ({ options, handshake, expected }) => {
    expect(notes.evaluate(handshake, options, { now })).toEqual(expected);
  });

  test.each([
    { options: {}, path: ["require"] },
    { options: { require: "" }, path: ["require"] },
    { options: { require: "CHG-[" }, path: ["require"] },
    { options: { require: "(unclosed" }, path: ["require"] },
    { options: { require: ticket, actionTypes: [] }, path: ["actionTypes"] },
    { options: { require: ticket, flags: "i" }, path: [] },
  ])("rejects options $options at $path", ({ options, path }) => {
    const result = notes.options.safeParse(options);

    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path)).toEqual([path]);
  });
});
