import { describe, expect, test } from "vitest";
import type { Handshake, HandshakeTarget } from "../../../src/domain/handshake.js";
import { type AccountOptionsInput, account } from "../../../src/rules/account.js";

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
const toAccount = (value: string) => handshake({ type: "ACCOUNT", value });

const allowed = "111122223333";
const denied = "444455556666";
const stranger = "999988887777";

describe("account rule", () => {
  test.each<{
    name: string;
    options: AccountOptionsInput;
    handshake: Handshake;
    expected: ReturnType<typeof account.evaluate>;
  }>([
    {
      name: "matches an account not on the allow list",
      options: { allow: [allowed] },
      handshake: toAccount(stranger),
      expected: { verdict: "match", reason: "target account is not on the allow list" },
    },
    {
      name: "matches an account on the deny list",
      options: { deny: [denied] },
      handshake: toAccount(denied),
      expected: { verdict: "match", reason: "target account is on the deny list" },
    },
    {
      name: "lets deny win over allow",
      options: { allow: [denied], deny: [denied] },
      handshake: toAccount(denied),
      expected: { verdict: "match", reason: "target account is on the deny list" },
    },
    {
      name: "passes an account on the allow list",
      options: { allow: [allowed], deny: [denied] },
      handshake: toAccount(allowed),
      expected: { verdict: "pass" },
    },
    {
      name: "passes any account not denied when there is no allow list",
      options: { deny: [denied] },
      handshake: toAccount(stranger),
      expected: { verdict: "pass" },
    },
    {
      name: "does not apply to an email target",
      options: { allow: [allowed] },
      handshake: handshake({ type: "EMAIL", value: "alice@example.com" }),
      expected: { verdict: "not-applicable" },
    },
    {
      name: "covers only invitations when unscoped",
      options: { allow: [allowed] },
      handshake: { ...toAccount(stranger), action: "APPROVE_ALL_FEATURES" },
      expected: { verdict: "not-applicable" },
    },
    {
      name: "does not apply outside its action scope",
      options: { allow: [allowed], actionTypes: ["INVITE"] },
      handshake: { ...toAccount(stranger), action: "ENABLE_ALL_FEATURES" },
      expected: { verdict: "not-applicable" },
    },
    {
      name: "applies inside its action scope",
      options: { allow: [allowed], actionTypes: ["INVITE"] },
      handshake: toAccount(stranger),
      expected: { verdict: "match", reason: "target account is not on the allow list" },
    },
    {
      name: "does not apply without a target",
      options: { allow: [allowed] },
      handshake: handshake(undefined),
      expected: { verdict: "not-applicable" },
    },
  ])("$name", ({ options, handshake, expected }) => {
    expect(account.evaluate(handshake, account.options.parse(options), { now })).toEqual(expected);
  });

  test.each([
    { options: {}, path: [] },
    { options: { allow: [] }, path: ["allow"] },
    { options: { allow: "111122223333" }, path: ["allow"] },
    { options: { allow: [111122223333] }, path: ["allow", 0] },
    { options: { deny: ["11112222333"] }, path: ["deny", 0] },
    { options: { deny: ["1111-2222-3333"] }, path: ["deny", 0] },
    { options: { allow: [allowed], accounts: [allowed] }, path: [] },
  ])("rejects options $options at $path", ({ options, path }) => {
    const result = account.options.safeParse(options);

    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path)).toEqual([path]);
  });

  test("explains why a number is refused as an account id", () => {
    const result = account.options.safeParse({ allow: [12345678901] });

    expect(result.error?.issues[0]?.message).toMatch(/quoted string of 12 digits/);
  });
});
