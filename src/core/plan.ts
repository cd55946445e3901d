import { evaluateRule, type RuleConfig } from "../rules/index.js";
import { type Exemption, isExemptionActive, type JanitorConfig } from "./config.js";
import { vouchesFor } from "./glob.js";
import { CANDIDATE_STATES, HANDSHAKE_ID_PATTERN, HANDSHAKE_ID_PROBLEM, type Handshake } from "./handshake.js";

/**
 * Narrowing from `--rule` / `--handshake` or a manual event. Absent (undefined) means no narrowing;
 * a list means exactly what it names, so an empty list selects nothing. It must never mean
 * "everything": `{"handshakeIds": []}` once ran a full live sweep. validateSelection reports an empty
 * list before a run; the planner still fails closed if one gets through.
 */
export interface Selection {
  ruleIds?: readonly string[] | undefined;
  handshakeIds?: readonly string[] | undefined;
}

export interface PlanInput {
  handshakes: Handshake[];
  config: JanitorConfig;
  now: Date;
  only?: Selection;
}

export type Decision =
  | { kind: "cancel"; handshake: Handshake; ruleId: string; matchedRules: string[]; reason: string }
  | {
      kind: "exempted";
      handshake: Handshake;
      ruleId: string;
      matchedRules: string[];
      /** The first matching rule's reason, then `; exempted: ` and the exemption's reason. */
      reason: string;
      exemption: Exemption;
    }
  | {
      /** A rule threw on this handshake: doubt, so it is never canceled. */
      kind: "failed";
      handshake: Handshake;
      /** The first rule that threw. */
      ruleId: string;
      /** The rules that did match, if any. */
      matchedRules: string[];
      reason: string;
      error: string;
    };

export interface Plan {
  listed: number;
  candidates: number;
  /** One per handshake some rule matched (or failed on), in listing order. */
  decisions: Decision[];
  /** Number of cancel decisions. */
  selected: number;
  limit: number;
  /** More selected than the limit: the run must cancel nothing. */
  blocked: boolean;
}

function exemptionCovers(exemption: Exemption, handshake: Handshake): boolean {
  const target = handshake.target;
  if (exemption.handshakeId !== undefined) return exemption.handshakeId === handshake.id;
  if (exemption.email !== undefined)
    // An exemption protects like an allow list: a look-alike spelling of a covered address is not covered.
    return target?.type === "EMAIL" && vouchesFor(exemption.email, target.value);
  if (exemption.accountId !== undefined)
    return target?.type === "ACCOUNT" && exemption.accountId === target.value;
  return false;
}

/** The first exemption, in config order, that covers the handshake and has not expired. */
export function findExemption(
  exemptions: readonly Exemption[],
  handshake: Handshake,
  now: Date,
): Exemption | undefined {
  return exemptions.find((e) => exemptionCovers(e, handshake) && isExemptionActive(e, now));
}

function selectedRules(rules: readonly RuleConfig[], ruleIds: readonly string[] | undefined): RuleConfig[] {
  if (ruleIds === undefined) return [...rules];
  return rules.filter((rule) => ruleIds.includes(rule.id));
}

function isCandidate(handshake: Handshake, handshakeIds: readonly string[] | undefined): boolean {
  if (!CANDIDATE_STATES.includes(handshake.state)) return false;
  return handshakeIds === undefined || handshakeIds.includes(handshake.id);
}

function decide(handshake: Handshake, rules: readonly RuleConfig[], config: JanitorConfig, now: Date) {
  const matches: { ruleId: string; reason: string }[] = [];
  const failures: { ruleId: string; error: string }[] = [];
  for (const rule of rules) {
    try {
      const verdict = evaluateRule(rule, handshake, { now });
      if (verdict.verdict === "match") matches.push({ ruleId: rule.id, reason: verdict.reason });
    } catch (error) {
      failures.push({ ruleId: rule.id, error: error instanceof Error ? error.message : String(error) });
    }
  }
  const matchedRules = matches.map((m) => m.ruleId);
  const failure = failures[0];
  if (failure !== undefined) {
    // Fail closed: a rule that throws is a reason to look, not to act, even when another matched.
    return {
      kind: "failed",
      handshake,
      ruleId: failure.ruleId,
      matchedRules,
      reason: `rule '${failure.ruleId}' failed: ${failure.error}`,
      error: failure.error,
    } satisfies Decision;
  }
  const first = matches[0];
  if (first === undefined) return undefined;
  const exemption = findExemption(config.exemptions, handshake, now);
  if (exemption !== undefined) {
    return {
      kind: "exempted",
      handshake,
      ruleId: first.ruleId,
      matchedRules,
      reason: `${first.reason}; exempted: ${exemption.reason}`,
      exemption,
    } satisfies Decision;
  }
  return {
    kind: "cancel",
    handshake,
    ruleId: first.ruleId,
    matchedRules,
    reason: first.reason,
  } satisfies Decision;
}

/** Plans page by page: each page is decided as it comes, and only its decisions are kept. */
export interface Planner {
  add(handshakes: readonly Handshake[]): void;
  /** The plan of everything added so far. */
  finish(): Plan;
}

export function createPlanner(input: Omit<PlanInput, "handshakes">): Planner {
  const { config, now, only } = input;
  const rules = selectedRules(config.rules, only?.ruleIds);
  const decisions: Decision[] = [];
  let listed = 0;
  let candidates = 0;
  return {
    add(handshakes) {
      listed += handshakes.length;
      for (const handshake of handshakes) {
        if (!isCandidate(handshake, only?.handshakeIds)) continue;
        candidates += 1;
        const decision = decide(handshake, rules, config, now);
        if (decision !== undefined) decisions.push(decision);
      }
    },
    finish() {
      const selected = decisions.filter((d) => d.kind === "cancel").length;
      const limit = config.maxCancellationsPerRun;
      return { listed, candidates, decisions, selected, limit, blocked: selected > limit };
    },
  };
}

/** Pure: which candidates the configured rules match, and what to do with each. */
export function plan(input: PlanInput): Plan {
  const planner = createPlanner(input);
  planner.add(input.handshakes);
  return planner.finish();
}

/** Problems with a `--rule` / `--handshake` selection, one line each; empty when it is usable. */
export function validateSelection(config: JanitorConfig, only: Selection): string[] {
  const known = config.rules.map((rule) => rule.id);
  const issues: string[] = [];
  if (only.ruleIds?.length === 0) issues.push("--rule: must not be empty (leave it out to apply every rule)");
  if (only.handshakeIds?.length === 0) {
    issues.push("--handshake: must not be empty (leave it out to select every handshake)");
  }
  for (const id of only.ruleIds ?? []) {
    if (id.length === 0) issues.push("--rule: must not be empty");
    else if (!known.includes(id)) issues.push(`--rule: unknown rule id '${id}' (known: ${known.join(", ")})`);
  }
  for (const id of only.handshakeIds ?? []) {
    if (!HANDSHAKE_ID_PATTERN.test(id)) issues.push(`--handshake: '${id}' ${HANDSHAKE_ID_PROBLEM}`);
  }
  return issues;
}
