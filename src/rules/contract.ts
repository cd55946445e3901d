import type { Schema } from "../domain/check.js";
import type { Handshake } from "../domain/handshake.js";

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
  options: Schema<O, unknown>;
  evaluate(handshake: Handshake, options: O, ctx: RuleContext): RuleVerdict;
  describe(options: O): string;
  /**
   * Loads what `options` and `evaluate` need before a config naming the kind is parsed: a kind
   * whose engine is large loads it here, only when a config uses it (loadConfig calls this).
   */
  load?(): Promise<void>;
}
