import { z } from "zod";
import type { Handshake } from "../core/handshake.js";
import type { RuleKind } from "./index.js";

/** ActionType values in the Organizations model today; others are accepted, see `actionTypesOption`. */
export const KNOWN_ACTION_TYPES: readonly string[] = [
  "INVITE",
  "ENABLE_ALL_FEATURES",
  "APPROVE_ALL_FEATURES",
  "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
  "TRANSFER_RESPONSIBILITY",
];

/** The scope of a rule that names none: judging any other action type has to be asked for. */
export const DEFAULT_ACTION_TYPES: readonly string[] = ["INVITE"];

/**
 * The scope every rule kind takes, default [INVITE]. Feature requests (ENABLE_ALL_FEATURES,
 * APPROVE_ALL_FEATURES), TRANSFER_RESPONSIBILITY and service-linked-role requests reach the same
 * targets, and an unscoped notes rule once canceled all of them: other action types are judged
 * only when named. Not an enum: the service adds action types (TRANSFER_RESPONSIBILITY came late),
 * so an unfamiliar upper-case value is accepted and only warned about by `config check`.
 */
export const actionTypesOption = z
  .array(
    z.string().regex(/^[A-Z][A-Z0-9_]*$/, { error: "must be an action type in upper case, such as INVITE" }),
  )
  .min(1, { error: "must not be empty (leave it out for the default, INVITE)" })
  .default(() => [...DEFAULT_ACTION_TYPES]);

/** Options built by hand rather than by the schema still fail closed to the default scope. */
export function inActionScope(actionTypes: readonly string[] | undefined, handshake: Handshake): boolean {
  return (actionTypes ?? DEFAULT_ACTION_TYPES).includes(handshake.action);
}

export function describeScope(actionTypes: readonly string[] | undefined): string {
  return `${(actionTypes ?? DEFAULT_ACTION_TYPES).join(" or ")} handshakes`;
}

const staleOptions = z.strictObject({
  olderThanDays: z.number().gt(0),
  actionTypes: actionTypesOption,
});
export type StaleOptions = z.output<typeof staleOptions>;
/** The options as a config writes them (actionTypes may be left out). */
export type StaleOptionsInput = z.input<typeof staleOptions>;

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
