import { array, type Schema, strictObject } from "../domain/check.js";
import { actionTypesOption } from "./scope.js";

/**
 * The options of a rule that judges a target against an allow list and a deny list, either or
 * both, with the optional action scope. Shared by the email and account rules, which differ only
 * in what an entry of a list is.
 */
export function allowDenyOptions(entry: Schema<string>) {
  const list = array(entry, { min: [1, "must not be empty (leave it out instead)"] });
  return strictObject({
    /** The target must match at least one of these, when given. */
    allow: list.optional(),
    /** The target must match none of these. */
    deny: list.optional(),
    /** Scope, default [INVITE]: the same target also receives other kinds of handshake. */
    actionTypes: actionTypesOption,
  }).check(
    (options, report) => {
      if (options.allow === undefined && options.deny === undefined) {
        report.issue({ code: "custom", message: "needs allow, deny or both" });
      }
    },
    // Report the missing lists alongside any other problem of the same rule, not after it is fixed.
    { when: (value) => typeof value === "object" && value !== null },
  );
}
