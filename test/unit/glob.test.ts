import { describe, expect, test } from "vitest";
import { globProblem, matchesGlob } from "../../src/core/glob.js";

describe("matchesGlob", () => {
  test.each([
    { pattern: "alice@example.com", value: "alice@example.com", matches: true },
    { pattern: "alice@example.com", value: "ALICE@Example.COM", matches: true },
    { pattern: "*@example.com", value: "alice@example.com", matches: true },
    { pattern: "*@EXAMPLE.com", value: "alice@example.COM", matches: true },
    { pattern: "*@example.com", value: "alice@example.com.evil.test", matches: false },
    { pattern: "*@example.com", value: "alice@notexample.com", matches: false },
    { pattern: "alice@*", value: "mallory.alice@example.com", matches: false },
    { pattern: "*@*.example.com", value: "bob@eu.example.com", matches: true },
    { pattern: "*@*.example.com", value: "bob@a.b.example.com", matches: true },
    { pattern: "*@*.example.com", value: "bob@example.com", matches: false },
    { pattern: "*@gmail.com", value: "@gmail.com", matches: true },
    { pattern: "*", value: "", matches: true },
    { pattern: "**", value: "anything@at.all", matches: true },
    { pattern: "a*a", value: "a", matches: false },
    { pattern: "a*b*c", value: "abc", matches: true },
    { pattern: "a*b*c", value: "aXbYc", matches: true },
    { pattern: "a*b*c", value: "acb", matches: false },
    { pattern: "a*b*b", value: "ab", matches: false },
    { pattern: "a*b*b", value: "abb", matches: true },
  ])("'$pattern' against '$value' is $matches", ({ pattern, value, matches }) => {
    expect(matchesGlob(pattern, value)).toBe(matches);
  });

  // Each pattern holds a regex metacharacter that would widen the match if it leaked into a RegExp.
  test.each([
    { pattern: "a.b@example.com", literal: "a.b@example.com", other: "axb@example.com" },
    { pattern: "a+b@example.com", literal: "a+b@example.com", other: "aab@example.com" },
    { pattern: "(a|b)@example.com", literal: "(a|b)@example.com", other: "a@example.com" },
    { pattern: "a?@example.com", literal: "a?@example.com", other: "@example.com" },
    { pattern: "[ab]@example.com", literal: "[ab]@example.com", other: "a@example.com" },
    { pattern: "^a$@example.com", literal: "^a$@example.com", other: "a@example.com" },
    { pattern: "a\\d@example.com", literal: "a\\d@example.com", other: "a1@example.com" },
    { pattern: "*@example.com|*", literal: "x@example.com|y", other: "x@evil.test" },
  ])("treats the metacharacters of '$pattern' literally", ({ pattern, literal, other }) => {
    expect(matchesGlob(pattern, literal)).toBe(true);
    expect(matchesGlob(pattern, other)).toBe(false);
  });
});

describe("globProblem", () => {
  test.each([
    { pattern: "*@example.com", problem: undefined },
    { pattern: "alice@example.com", problem: undefined },
    { pattern: "", problem: "must not be empty" },
    { pattern: "* @example.com", problem: "must not contain spaces" },
    { pattern: "example.com", problem: "must contain '@', as in '*@example.com'" },
  ])("'$pattern' gives $problem", ({ pattern, problem }) => {
    expect(globProblem(pattern)).toBe(problem);
  });
});
