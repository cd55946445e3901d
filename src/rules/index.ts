import type { z } from "zod";
import type { Handshake } from "../core/handshake.js";
import { account } from "./account.js";
import { email } from "./email.js";
import { notes } from "./notes.js";
import { stale } from "./stale.js";

/** cdk-nag's tri-state: a rule either does not concern a handshake, clears it, or matches it. */
export type RuleVerdict =
  | { verdict: "not-applicable" }
  | { verdict: "pass" }
  | { verdict: "match"; reason: string };

export interface RuleContext {
  now: Date;
}

/**
 * One rule kind. `options` is a strict schema of the rule's own fields (everything but `id` and
 * `type`); `evaluate` and `describe` are pure and receive options that schema produced.
 */
export interface RuleKind<O, K extends string = string> {
  kind: K;
  summary: string;
  options: z.ZodType<O>;
  evaluate(handshake: Handshake, options: O, ctx: RuleContext): RuleVerdict;
  describe(options: O): string;
}

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
