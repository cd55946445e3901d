import { type Infer, type InferInput, string } from "../domain/check.js";
import { emailKey, globProblem, matchesGlob, vouchesFor } from "../domain/glob.js";
import { allowDenyOptions } from "./allow-deny.js";
import type { RuleKind } from "./contract.js";
import { describeScope, inActionScope } from "./scope.js";

/** An email glob as accepted everywhere in the config (rules and exemptions). */
export const emailGlobSchema = string().check((pattern, report) => {
  const problem = globProblem(pattern);
  if (problem !== undefined) report.issue({ code: "custom", message: problem });
});

const emailOptions = allowDenyOptions(emailGlobSchema);
export type EmailOptions = Infer<typeof emailOptions>;
/** The options as a config writes them (actionTypes may be left out). */
export type EmailOptionsInput = InferInput<typeof emailOptions>;

export const email: RuleKind<EmailOptions, "email"> = {
  kind: "email",
  summary: "invitations to email addresses outside the allowed patterns or inside denied ones",
  options: emailOptions,
  evaluate(handshake, options) {
    const target = handshake.target;
    if (target?.type !== "EMAIL" || !inActionScope(options.actionTypes, handshake)) {
      return { verdict: "not-applicable" };
    }
    // Deny compares the normalised address, so no spelling escapes it; allow also needs the address
    // written plainly, so no look-alike passes (see src/domain/glob.ts).
    const address = emailKey(target.value);
    const denied = options.deny?.find((pattern) => matchesGlob(pattern, address));
    if (denied !== undefined)
      return { verdict: "match", reason: `target email matches denied pattern '${denied}'` };
    if (options.allow !== undefined && !options.allow.some((pattern) => vouchesFor(pattern, address))) {
      const allowed = options.allow.join(", ");
      if (!address.plain && options.allow.some((pattern) => matchesGlob(pattern, address))) {
        return {
          verdict: "match",
          reason: `target email is not plainly spelled (a non-ASCII local part, or a domain not in normal form), so no allowed pattern vouches for it (${allowed})`,
        };
      }
      return { verdict: "match", reason: `target email matches no allowed pattern (${allowed})` };
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
