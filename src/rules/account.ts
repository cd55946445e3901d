import { type Infer, type InferInput, matches, string } from "../domain/check.js";
import { allowDenyOptions } from "./allow-deny.js";
import type { RuleKind } from "./contract.js";
import { describeScope, inActionScope } from "./scope.js";

/**
 * A 12-digit account id. Only a string is accepted: YAML reads unquoted digits as a number, which
 * silently drops a leading zero (012345678901 becomes 12345678901), so a number is refused.
 */
export const accountIdSchema = string((issue) =>
  typeof issue.input === "number"
    ? "must be a quoted string of 12 digits (unquoted, YAML reads it as a number)"
    : undefined,
).check(matches(/^\d{12}$/, "must be an account id of 12 digits"));

const accountOptions = allowDenyOptions(accountIdSchema);
export type AccountOptions = Infer<typeof accountOptions>;
/** The options as a config writes them (actionTypes may be left out). */
export type AccountOptionsInput = InferInput<typeof accountOptions>;

export const account: RuleKind<AccountOptions, "account"> = {
  kind: "account",
  summary: "invitations to account ids outside an allow list or on a deny list",
  options: accountOptions,
  evaluate(handshake, options) {
    const target = handshake.target;
    if (target?.type !== "ACCOUNT" || !inActionScope(options.actionTypes, handshake)) {
      return { verdict: "not-applicable" };
    }
    if (options.deny?.includes(target.value))
      return { verdict: "match", reason: "target account is on the deny list" };
    if (options.allow !== undefined && !options.allow.includes(target.value)) {
      return { verdict: "match", reason: "target account is not on the allow list" };
    }
    return { verdict: "pass" };
  },
  describe(options) {
    const parts = [
      options.deny && `in ${options.deny.join(", ")}`,
      options.allow && `not in ${options.allow.join(", ")}`,
    ].filter((part) => part !== undefined);
    return `${describeScope(options.actionTypes)} to account targets ${parts.join(", or ")}`;
  },
};
