import type { RE2JS } from "re2js";
import { type Infer, type InferInput, maxLength, minLength, strictObject, string } from "../domain/check.js";
import type { RuleKind } from "./contract.js";
import { actionTypesOption, describeScope, inActionScope } from "./scope.js";

/**
 * Patterns are RE2's (re2js, a pure-JavaScript port): matching takes time linear in the text and
 * cannot backtrack, so no pattern in a config can stall a run. JavaScript's RegExp took 32 s for
 * `^(a+)+$` on 29 characters. RE2 also gives patterns one meaning: `\p{Lu}` is an upper-case
 * letter, where RegExp without the u flag read it as the literal text `p{Lu}`.
 */
let engine: typeof RE2JS | undefined;

/**
 * RE2 is some 190 KB of code that a cold start would otherwise parse whether or not any pattern is
 * configured; it is loaded when a config with a notes rule or an approval note's pattern is loaded
 * (loadConfig calls this, for a notes rule through `load`).
 */
export async function loadPatternEngine(): Promise<void> {
  engine ??= (await import("re2js")).RE2JS;
}

function loadedEngine(): typeof RE2JS {
  // A programming error, not a bad pattern: no pattern is checked or matched before its engine loads.
  if (engine === undefined) throw new Error("the RE2 pattern engine is not loaded (loadPatternEngine)");
  return engine;
}

function compile(source: string): RE2JS {
  return loadedEngine().compile(source);
}

function patternProblem(source: string): string | undefined {
  const re2 = loadedEngine();
  try {
    re2.compile(source);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return `is not a valid RE2 pattern (${message.replace(/^error parsing regexp: /, "")})`;
  }
}

// The planner evaluates thousands of handshakes against one config: each options object (one per
// rule per parsed config) compiles its pattern once. Keyed weakly, so a dropped config frees it.
const compiled = new WeakMap<NotesOptions, RE2JS>();

function patternOf(options: NotesOptions): RE2JS {
  let pattern = compiled.get(options);
  if (pattern === undefined) {
    pattern = compile(options.require);
    compiled.set(options, pattern);
  }
  return pattern;
}

/** An RE2 pattern as a config writes it; also the ticket pattern an approval's note must match. */
export const re2PatternSchema = string()
  .check(minLength(1))
  // NOTES hold at most 1024 characters; a longer pattern is a mistake, and a cost at every load.
  .check(maxLength(1024))
  .check((source, report) => {
    const problem = patternProblem(source);
    if (problem !== undefined) report.issue({ code: "custom", message: problem });
  });

/** Whether an RE2 pattern (already validated by re2PatternSchema) occurs anywhere in the text. */
export function containsPattern(source: string, text: string): boolean {
  return compile(source).test(text);
}

const notesOptions = strictObject({
  /**
   * An RE2 pattern searched for anywhere in the notes (unanchored, case-sensitive, no flags):
   * "CHG-[0-9]+" accepts "Per CHG-1234, welcome". Anchor with ^…$ to demand the whole text.
   */
  require: re2PatternSchema,
  /** Scope, default [INVITE]: only invitations carry NOTES. */
  actionTypes: actionTypesOption,
});
export type NotesOptions = Infer<typeof notesOptions>;
/** The options as a config writes them (actionTypes may be left out). */
export type NotesOptionsInput = InferInput<typeof notesOptions>;

export const notes: RuleKind<NotesOptions, "notes"> = {
  kind: "notes",
  summary: "handshakes whose notes lack a required pattern, such as a change ticket",
  options: notesOptions,
  evaluate(handshake, options) {
    if (!inActionScope(options.actionTypes, handshake)) return { verdict: "not-applicable" };
    if (handshake.notes === undefined || handshake.notes.length === 0) {
      return { verdict: "match", reason: `carries no notes; notes must match /${options.require}/` };
    }
    if (patternOf(options).test(handshake.notes)) return { verdict: "pass" };
    return { verdict: "match", reason: `notes do not match /${options.require}/` };
  },
  describe(options) {
    return `${describeScope(options.actionTypes)} whose notes do not contain a match for /${options.require}/ (RE2)`;
  },
  load: loadPatternEngine,
};
