import { greaterThan, type Infer, type InferInput, number, strictObject } from "../domain/check.js";
import type { RuleKind } from "./contract.js";
import { actionTypesOption, describeScope, inActionScope } from "./scope.js";

const staleOptions = strictObject({
  olderThanDays: number().check(greaterThan(0)),
  actionTypes: actionTypesOption,
});
export type StaleOptions = Infer<typeof staleOptions>;
/** The options as a config writes them (actionTypes may be left out). */
export type StaleOptionsInput = InferInput<typeof staleOptions>;

const DAY_MS = 86_400_000;

export const stale: RuleKind<StaleOptions, "stale"> = {
  kind: "stale",
  summary: "handshakes requested longer ago than a number of days",
  options: staleOptions,
  evaluate(handshake, options, { now }) {
    if (!inActionScope(options.actionTypes, handshake) || handshake.requestedAt === undefined) {
      return { verdict: "not-applicable" };
    }
    const requestedAt = handshake.requestedAt.getTime();
    // NaN would compare as "not younger" and match; an unreadable age must fail closed instead.
    if (Number.isNaN(requestedAt)) throw new Error(`handshake ${handshake.id} has an invalid requestedAt`);
    const ageDays = (now.getTime() - requestedAt) / DAY_MS;
    if (ageDays <= options.olderThanDays) return { verdict: "pass" };
    return {
      verdict: "match",
      reason: `requested ${ageDays.toFixed(1)} days ago, older than ${options.olderThanDays} days`,
    };
  },
  describe(options) {
    return `${describeScope(options.actionTypes)} requested more than ${options.olderThanDays} days ago`;
  },
};
