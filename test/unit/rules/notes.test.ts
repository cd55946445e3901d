import { RE2JS } from "re2js";
import { beforeAll, describe, expect, test, vi } from "vitest";
import type { Handshake } from "../../../src/domain/handshake.js";
import { type NotesOptionsInput, notes } from "../../../src/rules/notes.js";

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

// The rule's RE2 engine is loaded before any config naming it is parsed (loadConfig does so).
beforeAll(() => notes.load?.());

describe("notes rule", () => {
  test.each<{
    name: string;
    options: NotesOptionsInput;
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
      name: "covers only invitations when unscoped",
      options: { require: ticket },
      handshake: handshake({ action: "ENABLE_ALL_FEATURES" }),
      expected: { verdict: "not-applicable" },
    },
    {
      name: "covers another action type once it is named",
      options: { require: ticket, actionTypes: ["INVITE", "ENABLE_ALL_FEATURES"] },
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
    expect(notes.evaluate(handshake, notes.options.parse(options), { now })).toEqual(expected);
  });

  // JavaScript's backtracking RegExp took 32 s on 29 characters for the first and did not finish in
  // 60 s on 69 for the second; RE2 semantics make every pattern linear in the notes' length.
  test.each([
    { pattern: "^(a+)+$", text: `${"a".repeat(5_000)}!` },
    { pattern: "^(CHG-[0-9]+|[A-Za-z ]+)+$", text: `${"CHG-1 Welcome aboard ".repeat(200)}!` },
    { pattern: "(x+x+)+y", text: "x".repeat(5_000) },
  ])(
    "returns a verdict for the pathological pattern $pattern",
    ({ pattern, text }) => {
      const options = notes.options.parse({ require: pattern });

      const verdict = notes.evaluate(handshake({ notes: text }), options, { now });

      expect(verdict).toEqual({ verdict: "match", reason: noMatch(pattern) });
    },
    30_000,
  );

  test("compiles its pattern once for all the handshakes it judges", () => {
    const options = notes.options.parse({ require: ticket });
    const compile = vi.spyOn(RE2JS, "compile");
    try {
      for (let i = 0; i < 1_000; i += 1) notes.evaluate(handshake({ notes: `note ${i}` }), options, { now });

      expect(compile.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      compile.mockRestore();
    }
  });

  test.each([
    { notes: "Alice joins", verdict: "pass" },
    { notes: "alice joins", verdict: "match" },
    { notes: "p{Lu} joins", verdict: "match" },
    { notes: "Émile joins", verdict: "pass" },
  ])(
    "reads \\p{Lu} as an upper-case letter, as RE2 does: '$notes' gives $verdict",
    ({ notes: text, verdict }) => {
      const options = notes.options.parse({ require: "^\\p{Lu}" });

      expect(notes.evaluate(handshake({ notes: text }), options, { now }).verdict).toBe(verdict);
    },
  );

  test.each([
    { pattern: "(?=CHG)", why: "lookahead" },
    { pattern: "(CHG)\\1", why: "a backreference" },
    { pattern: "a{2000}", why: "a repeat count over 1000" },
    { pattern: "CHG-[", why: "an unclosed class" },
  ])("rejects $why, which RE2 cannot compile, naming the field", ({ pattern }) => {
    const result = notes.options.safeParse({ require: pattern });

    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({
        path: ["require"],
        message: expect.stringMatching(/^is not a valid RE2 pattern \(.+\)$/),
      }),
    ]);
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
