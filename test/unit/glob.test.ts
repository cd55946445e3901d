import { describe, expect, test } from "vitest";
import {
  emailKey,
  globProblem,
  matchesEveryAddress,
  matchesGlob,
  vouchesFor,
} from "../../src/domain/glob.js";

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
    { pattern: "*@bücher.example", problem: undefined },
    { pattern: "*@xn--bcher-kva.example", problem: undefined },
    {
      pattern: "*@\u212Aontoso.com",
      problem:
        "has the domain label '\u212Aontoso' (U+212A), which is not written in normal form; write 'kontoso'",
    },
    {
      pattern: "*@BÜCHER.example",
      problem: "has the domain label 'BÜCHER' (U+00DC), which is not written in normal form; write 'bücher'",
    },
    { pattern: "*@xn--bcher-kva.*", problem: undefined },
    { pattern: "*@bü%d.example", problem: "has 'bü%d', which is not a valid domain label" },
    {
      pattern: "*@bü*.example",
      problem: "has '*' in the non-ASCII domain label 'bü*'; write that label in full",
    },
    { pattern: "\u212Aim@example.com", problem: "must have a local part of ASCII characters" },
  ])("'$pattern' gives $problem", ({ pattern, problem }) => {
    expect(globProblem(pattern)).toBe(problem);
  });
});

// One comparable form for patterns and addresses: the local part NFKC-normalised and lower-cased,
// the domain in its ASCII (punycode) form without a trailing dot.
describe("normalised comparison", () => {
  test.each([
    { name: "a trailing dot", address: "bob@gmail.com." },
    { name: "upper case and a trailing dot", address: "BOB@GMAIL.COM." },
    { name: "full-width letters", address: "bob@\uFF47\uFF4D\uFF41\uFF49\uFF4C.com" },
    { name: "an ideographic full stop", address: "bob@gmail\u3002com" },
    { name: "a full-width local part", address: "\uFF42\uFF4F\uFF42@gmail.com" },
    { name: "a ligature in the local part", address: "bo\uFB01@gmail.com", pattern: "bofi@gmail.com" },
    { name: "the Kelvin sign in the local part", address: "\u212Aate@gmail.com", pattern: "kate@gmail.com" },
  ])("a deny glob catches $name", ({ address, pattern }) => {
    expect(matchesGlob(pattern ?? "bob@gmail.com", address)).toBe(true);
  });

  test.each([
    { name: "its Unicode spelling", address: "anna@bücher.example" },
    { name: "its punycode spelling", address: "anna@xn--bcher-kva.example" },
    { name: "its punycode spelling in capitals", address: "ANNA@XN--BCHER-KVA.EXAMPLE" },
  ])("an IDN glob matches a domain in $name", ({ address }) => {
    expect(matchesGlob("*@bücher.example", address)).toBe(true);
    expect(matchesGlob("*@xn--bcher-kva.example", address)).toBe(true);
    expect(vouchesFor("*@bücher.example", address)).toBe(true);
    expect(vouchesFor("*@xn--bcher-kva.example", address)).toBe(true);
  });

  test.each([
    {
      name: "the Kelvin sign for k in the domain",
      address: "bob@\u212Aontoso.com",
      pattern: "*@kontoso.com",
    },
    {
      name: "the Kelvin sign for K in the local part",
      address: "\u212Aim@kontoso.com",
      pattern: "*@kontoso.com",
    },
    { name: "full-width letters", address: "bob@\uFF4Bontoso.com", pattern: "*@kontoso.com" },
    { name: "an ideographic full stop", address: "bob@kontoso\u3002com", pattern: "*@kontoso.com" },
    { name: "a Unicode domain in capitals", address: "anna@BÜCHER.example", pattern: "*@bücher.example" },
    { name: "an empty label", address: "bob@kontoso..com", pattern: "*@kontoso*" },
    { name: "a second @", address: "eve@evil.test@kontoso.com", pattern: "*@kontoso.com" },
    { name: "a control character", address: "bob\u0000@kontoso.com", pattern: "*@kontoso.com" },
  ])("an allow glob does not vouch for a confusable spelling: $name", ({ address, pattern }) => {
    expect(emailKey(address).plain).toBe(false);
    expect(vouchesFor(pattern, address)).toBe(false);
    expect(vouchesFor("*@*", address)).toBe(false);
  });

  test.each([
    "bob@kontoso.com",
    "Bob.Smith+tag@Kontoso.COM",
    "bob@kontoso.com.",
    "anna@bücher.example",
    "x_y@xn--bcher-kva.example",
  ])("an allow glob vouches for the plain spelling %s", (address) => {
    expect(emailKey(address).plain).toBe(true);
  });

  test("a Cyrillic look-alike is another domain, neither caught by a deny nor vouched for by an allow", () => {
    const lookalike = "bob@ex\u0430mple.com";

    expect(matchesGlob("*@example.com", lookalike)).toBe(false);
    expect(vouchesFor("*@example.com", lookalike)).toBe(false);
  });
});

describe("matchesEveryAddress", () => {
  test.each(["*@*", "*@*.*", "**@**", "*@**", "*@*.**"])("is true for %s", (pattern) => {
    expect(matchesEveryAddress(pattern)).toBe(true);
  });

  test.each(["*@example.com", "*@*.com", "a*@*", "*@*.example.com", "*@*e*", "*.*@*"])(
    "is false for %s",
    (pattern) => {
      expect(matchesEveryAddress(pattern)).toBe(false);
    },
  );
});
