import { describe, expect, test } from "vitest";
import type { Handshake, HandshakeTarget } from "../../../src/domain/handshake.js";
import { type EmailOptionsInput, email } from "../../../src/rules/email.js";

const now = new Date("2026-03-01T12:00:00Z");

function handshake(target: HandshakeTarget | undefined): Handshake {
  return {
    id: "h-00000001",
    state: "OPEN",
    action: "INVITE",
    requestedAt: now,
    ...(target ? { target } : {}),
  };
}
const to = (value: string) => handshake({ type: "EMAIL", value });

const allow = ["*@example.com", "*@*.example.com"];
const deny = ["*@gmail.com"];
const noAllowedPattern = (patterns: string[]) =>
  `target email matches no allowed pattern (${patterns.join(", ")})`;
const deniedBy = (pattern: string) => `target email matches denied pattern '${pattern}'`;
const notPlain = (patterns: string[]) =>
  `target email is not plainly spelled (a non-ASCII local part, or a domain not in normal form), so no allowed pattern vouches for it (${patterns.join(", ")})`;

describe("email rule", () => {
  test.each<{
    name: string;
    options: EmailOptionsInput;
    handshake: Handshake;
    expected: ReturnType<typeof email.evaluate>;
  }>([
    {
      name: "matches an address on a denied pattern",
      options: { allow, deny },
      handshake: to("bob@gmail.com"),
      expected: { verdict: "match", reason: deniedBy("*@gmail.com") },
    },
    {
      name: "matches a denied address whatever its case",
      options: { deny },
      handshake: to("Bob@GMail.COM"),
      expected: { verdict: "match", reason: deniedBy("*@gmail.com") },
    },
    {
      name: "matches a denied address written with capitals and a trailing dot",
      options: { deny },
      handshake: to("BOB@GMAIL.COM."),
      expected: { verdict: "match", reason: deniedBy("*@gmail.com") },
    },
    {
      name: "matches a denied address written in full-width letters",
      options: { deny },
      handshake: to("bob@\uFF47\uFF4D\uFF41\uFF49\uFF4C.com"),
      expected: { verdict: "match", reason: deniedBy("*@gmail.com") },
    },
    {
      name: "matches an address that only a confusable spelling puts on an allowed pattern",
      options: { allow: ["*@kontoso.com"] },
      handshake: to("bob@\u212Aontoso.com"),
      expected: { verdict: "match", reason: notPlain(["*@kontoso.com"]) },
    },
    {
      name: "passes an address on an allowed IDN pattern, spelled in punycode",
      options: { allow: ["*@bücher.example"] },
      handshake: to("anna@xn--bcher-kva.example"),
      expected: { verdict: "pass" },
    },
    {
      name: "matches an address outside every allowed pattern",
      options: { allow, deny },
      handshake: to("eve@evil.test"),
      expected: { verdict: "match", reason: noAllowedPattern(allow) },
    },
    {
      name: "lets deny win over allow",
      options: { allow: ["*@gmail.com"], deny: ["bob@gmail.com"] },
      handshake: to("bob@gmail.com"),
      expected: { verdict: "match", reason: deniedBy("bob@gmail.com") },
    },
    {
      name: "passes an address on an allowed pattern",
      options: { allow, deny },
      handshake: to("alice@example.com"),
      expected: { verdict: "pass" },
    },
    {
      name: "passes an address on an allowed subdomain pattern",
      options: { allow, deny },
      handshake: to("carol@eu.example.com"),
      expected: { verdict: "pass" },
    },
    {
      name: "passes any address not denied when there is no allow list",
      options: { deny },
      handshake: to("eve@evil.test"),
      expected: { verdict: "pass" },
    },
    {
      name: "does not apply to an account target",
      options: { allow, deny },
      handshake: handshake({ type: "ACCOUNT", value: "111122223333" }),
      expected: { verdict: "not-applicable" },
    },
    {
      name: "covers only invitations when unscoped",
      options: { deny },
      handshake: { ...to("someone@gmail.com"), action: "TRANSFER_RESPONSIBILITY" },
      expected: { verdict: "not-applicable" },
    },
    {
      name: "does not apply outside its action scope",
      options: { deny, actionTypes: ["INVITE"] },
      handshake: { ...to("someone@gmail.com"), action: "TRANSFER_RESPONSIBILITY" },
      expected: { verdict: "not-applicable" },
    },
    {
      name: "applies inside its action scope",
      options: { deny, actionTypes: ["INVITE"] },
      handshake: to("someone@gmail.com"),
      expected: { verdict: "match", reason: deniedBy("*@gmail.com") },
    },
    {
      name: "does not apply without a target",
      options: { allow, deny },
      handshake: handshake(undefined),
      expected: { verdict: "not-applicable" },
    },
  ])("$name", ({ options, handshake, expected }) => {
    expect(email.evaluate(handshake, email.options.parse(options), { now })).toEqual(expected);
  });

  test.each([
    { options: {}, path: [] },
    { options: { allow: [] }, path: ["allow"] },
    { options: { deny: "*@gmail.com" }, path: ["deny"] },
    { options: { allow: ["example.com"] }, path: ["allow", 0] },
    { options: { allow: ["*@example.com", "a b@example.com"] }, path: ["allow", 1] },
    { options: { deny, block: ["*@x.test"] }, path: [] },
  ])("rejects options $options at $path", ({ options, path }) => {
    const result = email.options.safeParse(options);

    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path)).toEqual([path]);
  });

  test("describes both lists", () => {
    expect(email.describe(email.options.parse({ allow: ["*@example.com"], deny }))).toBe(
      "INVITE handshakes to email targets matching any of *@gmail.com, or matching none of *@example.com",
    );
    expect(
      email.describe(email.options.parse({ deny, actionTypes: ["INVITE", "TRANSFER_RESPONSIBILITY"] })),
    ).toBe("INVITE or TRANSFER_RESPONSIBILITY handshakes to email targets matching any of *@gmail.com");
  });
});
