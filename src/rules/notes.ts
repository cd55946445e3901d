import { z } from "zod";
import type { RuleKind } from "./index.js";
import { actionTypesOption, describeScope, inActionScope } from "./stale.js";

function regexProblem(source: string): string | undefined {
  try {
    new RegExp(source);
    return undefined;
  } catch (error) {
    return `is not a valid regular expression (${error instanceof Error ? error.message : String(error)})`;
  }
}

const notesOptions = z.strictObject({
  /**
   * A JavaScript regular expression searched for anywhere in the notes (unanchored, case-sensitive,
   * no flags): "CHG-[0-9]+" accepts "Per CHG-1234, welcome". Anchor with ^…$ to demand the whole text.
   */
  require: z
    .string()
    .min(1)
    .superRefine((source, ctx) => {
      const problem = regexProblem(source);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    }),
  /**
   * Optional scope, default every action type. Only invitations carry NOTES, so an unscoped notes
   * rule also matches every other handshake (enabling all features, say); scope it to INVITE.
   */
  actionTypes: actionTypesOption.optional(),
});
export type NotesOptions = z.infer<typeof notesOptions>;

export const notes: RuleKind<NotesOptions, "notes"> = {
  kind: "notes",
  summary: "handshakes whose notes lack a required pattern, such as a change ticket",
  options: notesOptions,
  evaluate(handshake, options) {
    if (!inActionScope(options.actionTypes, handshake)) return { verdict: "not-applicable" };
    if (handshake.notes === undefined || handshake.notes.length === 0) {
      return { verdict: "match", reason: `carries no notes; notes must match /${options.require}/` };
    }
    if (new RegExp(options.require).test(handshake.notes)) return { verdict: "pass" };
    return { verdict: "match", reason: `notes do not match /${options.require}/` };
  },
  describe(options) {
    return `${describeScope(options.actionTypes)} whose notes do not contain a match for /${options.require}/`;
  },
};
