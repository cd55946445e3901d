import { array, matches, string } from "../domain/check.js";
import type { Handshake } from "../domain/handshake.js";

/** The scope of a rule that names none: judging any other action type has to be asked for. */
export const DEFAULT_ACTION_TYPES: readonly string[] = ["INVITE"];

/**
 * The scope every rule kind takes, default [INVITE]. Feature requests (ENABLE_ALL_FEATURES,
 * APPROVE_ALL_FEATURES), TRANSFER_RESPONSIBILITY and service-linked-role requests reach the same
 * targets, and an unscoped notes rule once canceled all of them: other action types are judged
 * only when named. Not an enum: the service adds action types (TRANSFER_RESPONSIBILITY came late),
 * so an unfamiliar upper-case value is accepted and only warned about by `config check`.
 */
export const actionTypesOption = array(
  string().check(matches(/^[A-Z][A-Z0-9_]*$/, "must be an action type in upper case, such as INVITE")),
  { min: [1, "must not be empty (leave it out for the default, INVITE)"] },
).default(() => [...DEFAULT_ACTION_TYPES]);

/** Options built by hand rather than by the schema still fail closed to the default scope. */
export function inActionScope(actionTypes: readonly string[] | undefined, handshake: Handshake): boolean {
  return (actionTypes ?? DEFAULT_ACTION_TYPES).includes(handshake.action);
}

export function describeScope(actionTypes: readonly string[] | undefined): string {
  return `${(actionTypes ?? DEFAULT_ACTION_TYPES).join(" or ")} handshakes`;
}
