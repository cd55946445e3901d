import type { Handshake } from "../domain/handshake.js";
import { account } from "./account.js";
import type { RuleContext, RuleKind, RuleVerdict } from "./contract.js";
import { email } from "./email.js";
import { notes } from "./notes.js";
import { stale } from "./stale.js";

/** The registry. A new rule kind is one file, one entry here and its table-driven test. */
export const RULE_KINDS = [stale, email, account, notes] as const;

export type RuleKindName = (typeof RULE_KINDS)[number]["kind"];

type RuleConfigOf<R> = R extends RuleKind<infer O, infer K> ? { id: string; type: K; options: O } : never;

/** A validated rule as the config holds it: its id, its kind and the options that kind parsed. */
export type RuleConfig = RuleConfigOf<(typeof RULE_KINDS)[number]>;

export const RULE_KIND_NAMES: readonly RuleKindName[] = RULE_KINDS.map((k) => k.kind);

// Widened once, here: the config only ever pairs a kind with options its own schema produced, so
// calling a kind with `unknown` options is safe by construction.
const KINDS: readonly RuleKind<unknown>[] = RULE_KINDS;

export function findRuleKind(type: string): RuleKind<unknown> | undefined {
  return KINDS.find((k) => k.kind === type);
}

/** Loads what the named kinds need before their options are parsed (RuleKind.load); unknown names are the schema's to report. */
export async function loadRuleKinds(types: Iterable<unknown>): Promise<void> {
  const named = new Set([...types].filter((type): type is string => typeof type === "string"));
  await Promise.all([...named].map((type) => findRuleKind(type)?.load?.()));
}

function kindOf(rule: RuleConfig): RuleKind<unknown> {
  const kind = findRuleKind(rule.type);
  if (kind === undefined) throw new Error(`rule '${rule.id}' has unregistered type '${rule.type}'`);
  return kind;
}

export function evaluateRule(rule: RuleConfig, handshake: Handshake, ctx: RuleContext): RuleVerdict {
  return kindOf(rule).evaluate(handshake, rule.options, ctx);
}

export function describeRule(rule: RuleConfig): string {
  return kindOf(rule).describe(rule.options);
}

/**
 * What a rule's `graceHours` adds to its description, for `config check` and the report's config
 * in force: nothing without one (or with a stored value that is not a positive number).
 */
export function describeGrace(graceHours: unknown): string {
  if (typeof graceHours !== "number" || !(graceHours > 0)) return "";
  return `; grace ${graceHours} h: marked first, canceled ${graceHours} h later if it still matches`;
}
