import { z } from "zod";
import { globProblem, matchesGlob } from "../core/glob.js";
import type { RuleKind } from "./index.js";
import { actionTypesOption, describeScope, inActionScope } from "./stale.js";

/** An email glob as accepted everywhere in the config (rules and exemptions). */
export const emailGlobSchema = z.string().superRefine((pattern, ctx) => {
  const problem = globProblem(pattern);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

const globList = z.array(emailGlobSchema).min(1, { error: "must not be empty (leave it out instead)" });

const emailOptions = z
  .strictObject({
    /** The target must match at least one of these, when given. */
    allow: globList.optional(),
    /** The target must match none of these. */
    deny: globList.optional(),
    /** Scope; an account is invited as often as it is asked to approve features, and only one may be meant. */
    actionTypes: actionTypesOption.optional(),
  })
  .superRefine(
    (options, ctx) => {
      if (options.allow === undefined && options.deny === undefined) {
        ctx.addIssue({ code: "custom", message: "needs allow, deny or both" });
      }
    },
    // Report the missing lists alongside any other problem of the same rule, not after it is fixed.
    { when: (payload) => typeof payload.value === "object" && payload.value !== null },
  );
export type EmailOptions = z.infer<typeof emailOptions>;

export const email: RuleKind<EmailOptions, "email"> = {
  kind: "email",
  summary: "invitations to email addresses outside the allowed patterns or inside denied ones",
  options: emailOptions,
  evaluate(handshake, options) {
    const target = handshake.target;
    if (target?.type !== "EMAIL" || !inActionScope(options.actionTypes, handshake)) {
      return { verdict: "not-applicable" };
    }
    const denied = options.deny?.find((pattern) => matchesGlob(pattern, target.value));
    if (denied !== undefined)
      return { verdict: "match", reason: `target email matches denied pattern '${denied}'` };
    if (options.allow !== undefined && !options.allow.some((pattern) => matchesGlob(pattern, target.value))) {
      return {
        verdict: "match",
        reason: `target email matches no allowed pattern (${options.allow.join(", ")})`,
      };
    }
    return { verdict: "pass" };
  },
  describe(options) {
    const parts = [
      options.deny && `matching any of ${options.deny.join(", ")}`,
      options.allow && `matching none of ${options.allow.join(", ")}`,
    ].filter((part) => part !== undefined);
    return `${describeScope(options.actionTypes)} to email targets ${parts.join(", or ")}`;
  },
};
