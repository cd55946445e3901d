import { type Exemption, isExemptionActive, type JanitorConfig } from "../config/config.js";
import { vouchesFor } from "../domain/glob.js";
import {
  CANDIDATE_STATES,
  HANDSHAKE_ID_PATTERN,
  HANDSHAKE_ID_PROBLEM,
  type Handshake,
} from "../domain/handshake.js";
import type { OpenMark } from "../ports/records.js";
import { evaluateRule, type RuleConfig } from "../rules/index.js";
import type { Decision } from "./decision.js";
import { applyGrace, closeMarkOf } from "./grace.js";

export type { Decision } from "./decision.js";

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
  /** Open marks by handshake id (src/policy/grace.ts); none: no grace period is running. */
  marks?: ReadonlyMap<string, OpenMark>;
}

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

/** The decision on one handshake as if it were a candidate; undefined when no rule matched. */
export function decide(handshake: Handshake, rules: readonly RuleConfig[], config: JanitorConfig, now: Date) {
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
  // A mark of a rule this run does not evaluate (--rule) is left alone, and so is its handshake.
  const selects = (list: readonly string[] | undefined, value: string) =>
    list === undefined || list.length === 0 || list.includes(value);
  const allMarks = input.marks ?? new Map<string, OpenMark>();
  const marks = new Map(
    [...allMarks].filter(
      ([, mark]) => selects(only?.handshakeIds, mark.handshakeId) && selects(only?.ruleIds, mark.ruleId),
    ),
  );
  const graceHoursOf = (ruleId: string) => config.rules.find((rule) => rule.id === ruleId)?.graceHours ?? 0;
  return {
    add(handshakes) {
      listed += handshakes.length;
      for (const handshake of handshakes) {
        const mark = marks.get(handshake.id);
        marks.delete(handshake.id);
        if (!isCandidate(handshake, only?.handshakeIds)) {
          const close = mark === undefined ? undefined : closeMarkOf(mark, handshake);
          if (close !== undefined) decisions.push(close);
          continue;
        }
        candidates += 1;
        if (mark === undefined && allMarks.has(handshake.id)) continue;
        const decision = applyGrace(decide(handshake, rules, config, now), handshake, {
          now,
          graceHoursOf,
          ...(mark ? { mark } : {}),
        });
        if (decision !== undefined) decisions.push(decision);
      }
    },
    finish() {
      // Marks whose handshake the listing no longer has: the service dropped it long after it closed.
      for (const mark of marks.values()) {
        const close = closeMarkOf(mark, undefined);
        if (close !== undefined) decisions.push(close);
      }
      marks.clear();
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

/**
 * One problem with a selection, for the entry point to word: the CLI says `--rule: …`, the
 * handler `event.rules[0]: …`. `index` is the offending id's place in its list; absent when the
 * list itself is the problem.
 */
export interface SelectionProblem {
  field: "rules" | "handshakeIds";
  index?: number;
  value: string | readonly string[];
  problem: string;
}

/** Problems with a `--rule` / `--handshake` (or event) selection; empty when it is usable. */
export function validateSelection(config: JanitorConfig, only: Selection): SelectionProblem[] {
  const known = config.rules.map((rule) => rule.id);
  const problems: SelectionProblem[] = [];
  if (only.ruleIds?.length === 0) {
    problems.push({
      field: "rules",
      value: [],
      problem: "must not be empty (leave it out to apply every rule)",
    });
  }
  if (only.handshakeIds?.length === 0) {
    problems.push({
      field: "handshakeIds",
      value: [],
      problem: "must not be empty (leave it out to select every handshake)",
    });
  }
  for (const [index, id] of (only.ruleIds ?? []).entries()) {
    if (id.length === 0) problems.push({ field: "rules", index, value: id, problem: "must not be empty" });
    else if (!known.includes(id)) {
      problems.push({
        field: "rules",
        index,
        value: id,
        problem: `unknown rule id '${id}' (known: ${known.join(", ")})`,
      });
    }
  }
  for (const [index, id] of (only.handshakeIds ?? []).entries()) {
    if (!HANDSHAKE_ID_PATTERN.test(id)) {
      problems.push({ field: "handshakeIds", index, value: id, problem: `'${id}' ${HANDSHAKE_ID_PROBLEM}` });
    }
  }
  return problems;
}
