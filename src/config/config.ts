import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { canonicalJson } from "../domain/canonical-json.js";
import {
  array,
  atMost,
  boolean,
  greaterThan,
  type Infer,
  type Issue,
  int,
  literal,
  matches,
  maxLength,
  minLength,
  number,
  oneOf,
  type Reporter,
  strictObject,
  string,
  trimmed,
  unknown,
} from "../domain/check.js";
import { ConfigError } from "../domain/errors.js";
import { HANDSHAKE_ID_PATTERN, HANDSHAKE_ID_PROBLEM } from "../domain/handshake.js";
import { accountIdSchema } from "../rules/account.js";
import { emailGlobSchema } from "../rules/email.js";
import { findRuleKind, loadRuleKinds, RULE_KIND_NAMES, type RuleConfig } from "../rules/index.js";
import { loadPatternEngine, re2PatternSchema } from "../rules/notes.js";
import { describeValue, errorMap, formatProblem, oneLine, problemsOf } from "./messages.js";
import { untilSchema } from "./until.js";

export { HANDSHAKE_ID_PATTERN, HANDSHAKE_ID_PROBLEM } from "../domain/handshake.js";
export { formatPath, formatProblem, type Problem } from "./messages.js";
export { exemptionEnd, isExemptionActive } from "./until.js";
export type { RuleConfig };

const RULE_ID_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
const DEFAULT_MAX_CANCELLATIONS = 25;
/** Above this, a safety cap protects nothing unless the config says why it is that high. */
const MAX_CANCELLATIONS_WITHOUT_REASON = 10_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

// ---------------------------------------------------------------------------------------------
// Rules: checked in two steps so that an unknown `type` is reported with the known ones instead of
// as a failed union, and each kind's own strict schema names the exact option that is wrong.

const ruleIdSchema = string().check(
  matches(RULE_ID_PATTERN, "must be kebab-case: lower-case letters, digits and '-', not starting with '-'"),
);

type Report = (path: PropertyKey[], message: string) => void;

/** A grace period longer than this is a typo more often than a plan (30 days). */
export const MAX_GRACE_HOURS = 24 * 30;

/**
 * `graceHours`, common to every rule kind: hours between marking a handshake and cancelling it.
 * Absent or 0: act at once. Kept out of each kind's options so every kind takes it the same way.
 */
const graceHoursSchema = number()
  .refine(Number.isFinite, "must be a finite number of hours")
  .refine((hours) => hours >= 0, "must be at least 0")
  .refine((hours) => hours <= MAX_GRACE_HOURS, `must be at most ${MAX_GRACE_HOURS} (30 days)`);

/**
 * Four eyes (docs/approval.md): `required`, and a run that would cancel records a plan for
 * someone else to approve instead; `none` (the default), and it cancels. Set for the whole config
 * and, overriding it, per rule.
 */
export const APPROVAL_MODES = ["required", "none"] as const;
export type ApprovalMode = (typeof APPROVAL_MODES)[number];
const approvalSchema = oneOf(APPROVAL_MODES);

/** Plans expire after this many hours unless the config says otherwise. */
export const DEFAULT_PLAN_EXPIRY_HOURS = 24;
/** A plan approved a month later judges a world that has moved on: a typo more often than a plan. */
export const MAX_PLAN_EXPIRY_HOURS = 24 * 30;

/**
 * A rule as the config holds it; `graceHours` is present only when it is greater than 0, and
 * `approval` only when the rule sets it.
 */
export type ConfiguredRule = RuleConfig & { graceHours?: number; approval?: ApprovalMode };

function checkRules(inputs: unknown[], reporter: Reporter): ConfiguredRule[] {
  const rules: ConfiguredRule[] = [];
  const firstIndexOf = new Map<string, number>();
  const report: Report = (path, message) => reporter.issue({ code: "custom", path: [...path], message });
  for (const [index, input] of inputs.entries()) {
    const rule = checkRule(input, index, firstIndexOf, report);
    if (rule !== undefined) rules.push(rule);
  }
  return rules;
}

function checkRule(
  input: unknown,
  index: number,
  firstIndexOf: Map<string, number>,
  report: Report,
): ConfiguredRule | undefined {
  const relay = (prefix: PropertyKey[], issues: readonly Issue[]) => {
    for (const problem of problemsOf(issues)) report([...prefix, ...problem.path], problem.message);
  };
  if (!isRecord(input)) {
    report([index], `must be a mapping with id, type and the rule's options, got ${describeValue(input)}`);
    return undefined;
  }
  const { id, type, graceHours, approval, ...options } = input;
  const graceResult = graceHoursSchema.optional().safeParse(graceHours, { messages: errorMap });
  if (!graceResult.success) relay([index, "graceHours"], graceResult.error.issues.slice(0, 1));
  const approvalResult = approvalSchema.optional().safeParse(approval, { messages: errorMap });
  if (!approvalResult.success) relay([index, "approval"], approvalResult.error.issues.slice(0, 1));

  const idResult = ruleIdSchema.safeParse(id, { messages: errorMap });
  if (!idResult.success) relay([index, "id"], idResult.error.issues);
  if (typeof id === "string") {
    const first = firstIndexOf.get(id);
    if (first === undefined) firstIndexOf.set(id, index);
    else report([index, "id"], `duplicate id '${id}' (first at rules[${first}])`);
  }

  const known = RULE_KIND_NAMES.join(", ");
  if (type === undefined) {
    report([index, "type"], `is required (one of ${known})`);
    return undefined;
  }
  if (typeof type !== "string") {
    report([index, "type"], `must be a string, got ${describeValue(type)}`);
    return undefined;
  }
  const kind = findRuleKind(type);
  if (kind === undefined) {
    report([index, "type"], `unknown rule type '${type}' (known: ${known})`);
    return undefined;
  }
  const optionsResult = kind.options.safeParse(options, { messages: errorMap });
  if (!optionsResult.success) {
    relay([index], optionsResult.error.issues);
    return undefined;
  }
  if (!idResult.success || !graceResult.success || !approvalResult.success) return undefined;
  // The kind was found by this very `type` and produced these options, so the pair is consistent.
  const rule = { id: idResult.data, type: kind.kind, options: optionsResult.data } as RuleConfig;
  // 0 is the default and left out, so a config that spells it out keeps its hash.
  return {
    ...rule,
    ...(graceResult.data ? { graceHours: graceResult.data } : {}),
    ...(approvalResult.data === undefined ? {} : { approval: approvalResult.data }),
  };
}

// ---------------------------------------------------------------------------------------------
// Exemptions

const EXEMPTION_TARGETS = ["handshakeId", "email", "accountId"] as const;

const exemptionSchema = strictObject({
  handshakeId: string().check(matches(HANDSHAKE_ID_PATTERN, HANDSHAKE_ID_PROBLEM)).optional(),
  /** An email glob, matched against EMAIL targets. */
  email: emailGlobSchema.optional(),
  accountId: accountIdSchema.optional(),
  /** Why the exemption exists; it is written to the audit trail with every EXEMPTED outcome. */
  reason: trimmed().check(minLength(1)),
  /** Last day (UTC, inclusive) or instant the exemption protects; absent means no expiry. */
  until: untilSchema.optional(),
}).check(
  (exemption, report) => {
    const named = EXEMPTION_TARGETS.filter((key) => exemption[key] !== undefined);
    if (named.length === 0)
      report.issue({ code: "custom", message: "needs one of handshakeId, email or accountId" });
    if (named.length > 1) {
      report.issue({
        code: "custom",
        message: `names ${named.join(" and ")}; an exemption names exactly one (write one exemption per target)`,
      });
    }
  },
  // Report a missing target alongside the exemption's other problems, not after they are fixed.
  { when: (value) => isRecord(value) },
);

// ---------------------------------------------------------------------------------------------
// The config

const configSchema = strictObject({
  version: literal(1),
  /** Default true: a config must say `dryRun: false` before anything is canceled. */
  dryRun: boolean().default(true),
  /** More cancel decisions than this in one run: cancel nothing, record BLOCKED. */
  maxCancellationsPerRun: int().check(greaterThan(0)).default(DEFAULT_MAX_CANCELLATIONS),
  /** Why the cap is above 10,000, where it would otherwise be refused; printed by `config check`. */
  maxCancellationsReason: trimmed().check(minLength(1)).check(maxLength(1024)).optional(),
  /** Evaluated in this order; the first matching rule is the one the audit names. */
  rules: array(unknown(), { min: [1, "must list at least one rule"] }).transform(checkRules),
  exemptions: array(exemptionSchema).default(() => []),
  /** The run's SNS digest (NOTIFY_TOPIC_ARN): showTargets prints target emails unmasked. */
  notify: strictObject({ showTargets: boolean().default(false) }).optional(),
  /**
   * Four eyes: `required` turns each cancellation into a plan someone else approves. No default
   * is written in, so a config that does not use it keeps its hash.
   */
  approval: approvalSchema.optional(),
  /** Hours a plan can be approved and applied; default DEFAULT_PLAN_EXPIRY_HOURS. */
  approvalExpiryHours: number().check(greaterThan(0)).check(atMost(MAX_PLAN_EXPIRY_HOURS)).optional(),
  /** An RE2 pattern an approval's or rejection's note must contain (a change ticket, say). */
  approvalNoteRequire: re2PatternSchema.optional(),
})
  .check(
    (config, report) => {
      const anyRequired =
        config.approval === "required" || config.rules.some((rule) => rule.approval === "required");
      for (const key of ["approvalExpiryHours", "approvalNoteRequire"] as const) {
        if (config[key] !== undefined && !anyRequired) {
          report.issue({
            code: "custom",
            path: [key],
            message:
              "has no effect: nothing requires approval (set approval: required, for the config or a rule)",
          });
        }
      }
    },
    { when: (_value, issues) => issues.length === 0 },
  )
  .check(
    (config, report) => {
      if (
        config.maxCancellationsPerRun > MAX_CANCELLATIONS_WITHOUT_REASON &&
        !config.maxCancellationsReason
      ) {
        report.issue({
          code: "custom",
          path: ["maxCancellationsPerRun"],
          message: `is above ${MAX_CANCELLATIONS_WITHOUT_REASON}, where the cap protects nothing; lower it, or say why in maxCancellationsReason`,
        });
      }
    },
    // Checked alongside the config's other problems, not only once they are fixed.
    {
      when: (value, issues) =>
        isRecord(value) &&
        typeof value.maxCancellationsPerRun === "number" &&
        issues.every((issue) => issue.path[0] !== "maxCancellationsReason"),
    },
  );

export type JanitorConfig = Infer<typeof configSchema>;
export type Exemption = Infer<typeof exemptionSchema>;

function readJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const at = /^(.*?)(?: in JSON)? at position (\d+)/s.exec(message);
    if (at) {
      const before = text.slice(0, Number(at[2]));
      const line = before.split("\n").length;
      const column = before.length - before.lastIndexOf("\n");
      throw new ConfigError([`${source}: line ${line}, column ${column}: ${oneLine(at[1] ?? message)}`]);
    }
    // V8 quotes a multi-line excerpt of the text after an unexpected token; the token is enough.
    const token = /^(Unexpected token .+?), ".*is not valid JSON$/s.exec(message);
    throw new ConfigError([`${source}: ${oneLine(token?.[1] ?? message)}`]);
  }
}

type ConfigReader = (text: string, source: string) => unknown;
let yamlReader: ConfigReader | undefined;

/**
 * yaml is some 160 KB of code that a cold start would otherwise parse: it is loaded only for a
 * config written in YAML (loadConfig calls this). The Lambda artifact ships its config as JSON
 * (scripts/build.ts), so the deployed handler never loads it.
 */
export async function loadYamlReader(): Promise<void> {
  if (yamlReader !== undefined) return;
  const { readYaml } = await import("./yaml.js");
  yamlReader = (text, source) => {
    const read = readYaml(text);
    if ("data" in read) return read.data;
    throw new ConfigError(
      read.problems.map(({ message, line, col }) =>
        line === undefined
          ? `${source}: ${oneLine(message)}`
          : `${source}: line ${line}, column ${col}: ${oneLine(message)}`,
      ),
    );
  };
}

function isJsonSource(source: string): boolean {
  return source.toLowerCase().endsWith(".json");
}

/**
 * Parses and validates a config. `source` names the file in every message and decides the syntax:
 * a `.json` source is read with JSON.parse (whose errors speak JSON), anything else as YAML, whose
 * reader must be loaded first (loadYamlReader; loadConfig does both).
 * Throws ConfigError listing every problem found, one line each.
 */
export function parseConfig(text: string, source: string): JanitorConfig {
  return validateConfig(readConfigData(text, source), source);
}

function readConfigData(text: string, source: string): unknown {
  const data = isJsonSource(source) ? readJson(text, source) : loadedYamlReader()(text, source);
  if (data === null || data === undefined) {
    throw new ConfigError([`${source}: is empty; a config needs at least version and rules`]);
  }
  return data;
}

function loadedYamlReader(): ConfigReader {
  // A programming error, not a bad config: no YAML text is read before its reader loads.
  if (yamlReader === undefined) throw new Error("the YAML reader is not loaded (loadYamlReader)");
  return yamlReader;
}

function validateConfig(data: unknown, source: string): JanitorConfig {
  const result = configSchema.safeParse(data, { messages: errorMap });
  if (!result.success)
    throw new ConfigError(problemsOf(result.error.issues).map((p) => formatProblem(source, p)));
  return result.data;
}

function describeReadError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node appends the syscall and path ("…, open 'x.yaml'"); the path already leads the line.
  return error.message.replace(/, \w+ '.*'$/s, "");
}

export async function loadConfig(path: string): Promise<JanitorConfig> {
  const data = await loadConfigData(path);
  await loadEnginesFor(data);
  return validateConfig(data, path);
}

/** A config file's data as read, not yet validated: what the build ships as JSON. */
export async function loadConfigData(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError([`${path}: cannot read file (${describeReadError(error)})`]);
  }
  if (!isJsonSource(path)) await loadYamlReader();
  return readConfigData(text, path);
}

/**
 * Loads what a config not yet validated needs before parseConfig (which is synchronous) checks it:
 * each named rule kind's engine, and RE2 for an approval note's pattern. parseConfig alone parses
 * a config whose engines are loaded already.
 */
async function loadEnginesFor(data: unknown): Promise<void> {
  const fields = typeof data === "object" && data !== null ? (data as Record<string, unknown>) : {};
  const rules = Array.isArray(fields.rules) ? fields.rules : [];
  await Promise.all([
    loadRuleKinds(rules.map((rule: unknown) => (rule as { type?: unknown } | null)?.type)),
    ...(fields.approvalNoteRequire === undefined ? [] : [loadPatternEngine()]),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Exemption time

// ---------------------------------------------------------------------------------------------
// Hash, description, warnings

/**
 * First 12 hex digits of the SHA-256 of the config as parsed (defaults applied, keys sorted), so
 * reformatting the file or spelling out a default does not change it; the run record carries it.
 */
export function configHash(config: JanitorConfig): string {
  return createHash("sha256").update(canonicalJson(config)).digest("hex").slice(0, 12);
}

/**
 * The config exactly as configHash hashes it (defaults applied, keys sorted, one line of JSON):
 * what the audit table keeps once per hash, so a report can show the rules a run applied.
 */
export function canonicalConfigJson(config: JanitorConfig): string {
  return canonicalJson(config);
}
