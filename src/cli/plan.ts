import { type App, sweepDepsOf, wire } from "../app.js";
import { planChainProblems } from "../aws/audit/index.js";
import { type JanitorConfig, loadConfig } from "../config/config.js";
import { ConfigError, LeaseHeldError } from "../domain/errors.js";
import { HANDSHAKE_ID_PATTERN, HANDSHAKE_ID_PROBLEM } from "../domain/handshake.js";
import { jsonText } from "../domain/visible.js";
import { findingsOf } from "../evidence/findings.js";
import { notifyRun } from "../notify/notify.js";
import {
  decisionOf,
  isMakerOf,
  PLAN_ID_PATTERN,
  PLAN_ID_PROBLEM,
  planIntegrityProblems,
  planStatus,
} from "../policy/approval.js";
import type { CallerIdentity, PlanVerdict, StoredPlan } from "../ports/plans.js";
import { containsPattern } from "../rules/notes.js";
import { applyPlan, applyRefusals } from "../sweep/apply.js";
import { silentLogger } from "../sweep/sweep.js";
import { type CommandSpec, defineCommand, parseCommandArgs } from "./args.js";
import { period, settingsOrIssues, TABLE_ENV } from "./audit-shared.js";
import { ExitCode, exitCodeFor } from "./exit-codes.js";
import { formatTable, visible } from "./format.js";
import type { CliIo, CommandHandler } from "./io.js";
import { renderSummary } from "./render.js";

/** Four eyes on the command line (docs/approval.md): list and show plans, approve, reject, apply. */

const IDENTITY_ENV = `${TABLE_ENV}, AWS_ENDPOINT_URL_STS (who you are: STS GetCallerIdentity)`;
const CONFIG_OPTION = {
  config: {
    type: "string",
    value: "FILE",
    description: "the rules file, YAML or JSON (default: $JANITOR_CONFIG; one of the two is required)",
  },
} as const;
const NOTE_OPTION = {
  note: {
    type: "string",
    value: "TEXT",
    required: true,
    description:
      "why: recorded with the decision (approvalNoteRequire in the config: it must contain a match)",
  },
} as const;
const DECIDE_EXIT =
  "0 recorded; 1 error; 2 invalid arguments, an unknown, altered, expired or decided plan, or its own maker approving: nothing recorded";

export const PLAN_LIST = defineCommand({
  name: "plan list",
  summary:
    "the plans made in a period, newest first, with their status: pending, approved, rejected, applied, expired (unreadable, unattested: refused)",
  options: {
    since: { type: "string", value: "D", description: "plans made from this date on (default: 30 days ago)" },
    json: { type: "boolean", description: "one JSON object per plan" },
  },
  exitCodes: "0 done; 1 error; 2 invalid arguments, nothing called",
  environment: TABLE_ENV,
});

export const PLAN_SHOW = defineCommand({
  name: "plan show",
  summary:
    "one plan: its handshakes, rules, reasons and fingerprints, maker, expiry, decision, and whether it is intact",
  operands: "ID",
  options: { json: { type: "boolean", description: "the plan and its decision as one JSON object" } },
  exitCodes:
    "0 shown; 1 error; 2 invalid arguments or no such plan; 5 the plan is altered (refused by approve and apply)",
  environment: TABLE_ENV,
});

export const APPROVE = defineCommand({
  name: "approve",
  summary:
    "approve a plan (all of it, or the handshakes named): someone other than its maker, before it expires",
  operands: "ID",
  options: {
    ...NOTE_OPTION,
    handshake: {
      type: "string",
      multiple: true,
      value: "h-…",
      description: "approve only this handshake of the plan (default: all of them)",
    },
    ...CONFIG_OPTION,
  },
  details: [
    "The approver is the caller's ARN from STS GetCallerIdentity; a maker approving their own plan is refused. The plan is applied by 'apply ID' or by the next scheduled sweep.",
  ],
  exitCodes: DECIDE_EXIT,
  environment: `${IDENTITY_ENV}, JANITOR_CONFIG`,
});

export const REJECT = defineCommand({
  name: "reject",
  summary: "reject a plan: nothing of it is ever applied",
  operands: "ID",
  options: { ...NOTE_OPTION, ...CONFIG_OPTION },
  exitCodes: DECIDE_EXIT,
  environment: `${IDENTITY_ENV}, JANITOR_CONFIG`,
});

export const APPLY = defineCommand({
  name: "apply",
  summary:
    "apply an approved plan: describe each approved handshake again, cancel what still matches, record the rest STALE_PLAN",
  operands: "ID",
  options: {
    ...CONFIG_OPTION,
    json: { type: "boolean", description: "print only the run summary, as one JSON object" },
  },
  details: [
    "The run takes the organization's lease, claims each handshake and writes intent and outcome as any live sweep does; its records name the plan and the approver. A plan is applied once.",
  ],
  exitCodes:
    "0 done; 1 error; 2 invalid arguments, or a plan unknown, altered, not approved, rejected, expired or applied: nothing canceled; 3 partial; 4 blocked by the safety cap; 6 another live run holds the organization's lease",
  environment: `${IDENTITY_ENV}, JANITOR_CONFIG, NOTIFY_TOPIC_ARN`,
});

/** The plan id operand: exactly one, well formed, or a ConfigError before anything is called. */
function planIdOperand(command: string, positionals: readonly string[], issues: string[]): string {
  const [id, ...extra] = positionals;
  if (id === undefined) issues.push(`${command}: a plan id is required (see 'plan list')`);
  else if (!PLAN_ID_PATTERN.test(id)) issues.push(`ID: '${id}' ${PLAN_ID_PROBLEM}`);
  if (extra.length > 0) issues.push(`${command}: unexpected argument '${extra[0]}'`);
  return id ?? "";
}

async function configOrIssue(path: string | undefined, issues: string[]): Promise<JanitorConfig | undefined> {
  if (!path) {
    issues.push("--config: required (or set JANITOR_CONFIG)");
    return undefined;
  }
  try {
    return await loadConfig(path);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.issues);
    return undefined;
  }
}

/** The plan as stored, refused (a ConfigError, exit 2) when unknown, altered or not this table's. */
async function checkedPlan(app: App, planId: string, identity?: CallerIdentity): Promise<StoredPlan> {
  const stored = await app.plans.readPlan(planId);
  if (stored === undefined) {
    throw new ConfigError([`ID: no plan '${planId}' in audit table '${app.tableName}' (see 'plan list')`]);
  }
  const problems = planIntegrityProblems(stored, {
    table: app.tableName,
    ...(identity ? { account: identity.account } : {}),
  });
  if (problems.length === 0) problems.push(...(await planChainProblems(app.audit, stored)));
  if (problems.length > 0) {
    // Refused, and on record: an edited plan is an integrity finding verify names until acknowledged.
    await app.audit.recordFindings(`plan ${planId}`, findingsOf(problems), new Date().toISOString());
    throw new ConfigError([...problems, `plan ${planId}: refused; nothing is done`]);
  }
  return stored;
}

/**
 * The status the plan commands show: its status, unless what is stored is refused wherever it is
 * used (it does not read, or its decision lacks its author's attestation): never shown as decided.
 */
function shownStatus(stored: StoredPlan, now: Date): string {
  if (stored.unreadable) return "unreadable";
  if (stored.decision !== undefined && stored.attested !== true) return "unattested";
  return planStatus(stored, now);
}

function planRow(stored: StoredPlan, now: Date) {
  const { plan, decision } = stored;
  return {
    planId: plan.planId,
    status: shownStatus(stored, now),
    createdAt: plan.createdAt,
    expiresAt: plan.expiresAt,
    maker: plan.maker,
    handshakes: plan.entries?.length ?? 0,
    decidedBy: decision?.by ?? "",
    note: decision?.note ?? "",
    appliedBy: stored.appliedBy ?? "",
  };
}

async function planList(argv: string[], { out, env }: CliIo): Promise<number> {
  const { values } = parseCommandArgs(PLAN_LIST, argv);
  const issues: string[] = [];
  const settings = settingsOrIssues(env, issues);
  const range = period({ since: values.since }, issues);
  if (issues.length > 0 || range === undefined) throw new ConfigError(issues);
  const app = wire(settings);
  const now = new Date();
  const rows = (await app.plans.listPlans(range.since)).map((stored) => planRow(stored, now));
  if (values.json) out(rows.map((row) => jsonText(row)).join("\n") || "");
  else if (rows.length === 0) out("no plans in the period");
  else
    out(
      formatTable(rows, ["planId", "status", "createdAt", "expiresAt", "maker", "handshakes", "decidedBy"]),
    );
  return ExitCode.Done;
}

async function planShow(argv: string[], { out, env }: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(PLAN_SHOW, argv);
  const issues: string[] = [];
  const settings = settingsOrIssues(env, issues);
  const planId = planIdOperand("plan show", positionals, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  const app = wire(settings);
  const stored = await app.plans.readPlan(planId);
  if (stored === undefined) {
    throw new ConfigError([`ID: no plan '${planId}' in audit table '${app.tableName}' (see 'plan list')`]);
  }
  const problems = planIntegrityProblems(stored, { table: app.tableName });
  if (problems.length === 0) problems.push(...(await planChainProblems(app.audit, stored)));
  const now = new Date();
  if (values.json) {
    out(jsonText({ ...stored, status: shownStatus(stored, now), problems }));
  } else {
    const { plan, decision } = stored;
    const lines = [
      `plan ${visible(plan.planId)}: ${shownStatus(stored, now)}`,
      `made by ${visible(plan.maker)} in run ${visible(plan.runId)} at ${plan.createdAt}; expires ${plan.expiresAt}; config ${visible(plan.configHash)}`,
    ];
    if (decision !== undefined) {
      lines.push(
        `${decision.verdict} by ${visible(decision.by)} at ${decision.at}: ${visible(decision.note)}` +
          (decision.verdict === "approved"
            ? ` (${decision.handshakeIds.length} of ${plan.entries.length})`
            : ""),
      );
    }
    if (stored.appliedBy) lines.push(`applied by run ${visible(stored.appliedBy)}`);
    lines.push(
      problems.length === 0 ? "intact: the plan, its decision and its run's chain agree" : "ALTERED: refused",
      ...problems.map((line) => `  ${visible(line)}`),
      "",
      formatTable(plan.entries ?? [], ["handshakeId", "state", "target", "ruleId", "reason", "fingerprint"]),
    );
    if (planStatus(stored, now) === "pending") {
      lines.push(
        "",
        `approve (someone other than the maker): handshake-janitor approve ${plan.planId} --note TEXT`,
      );
    }
    out(lines.join("\n"));
  }
  return problems.length === 0 ? ExitCode.Done : ExitCode.IntegrityProblem;
}

/** approve and reject: checked, then the one decision recorded. */
async function decide(verdict: PlanVerdict, argv: string[], { out, env }: CliIo): Promise<number> {
  const spec = verdict === "approved" ? APPROVE : REJECT;
  const { values, positionals } = parseCommandArgs(spec, argv);
  const subset = "handshake" in values ? (values.handshake as string[] | undefined) : undefined;
  const issues: string[] = [];
  const settings = settingsOrIssues(env, issues);
  const planId = planIdOperand(spec.name, positionals, issues);
  const note = values.note?.trim() ?? "";
  if (values.note === undefined) issues.push("--note: required: why the plan is approved or rejected");
  else if (note === "") issues.push("--note: must not be empty");
  else if (note.length > 1024) issues.push("--note: must be at most 1024 characters");
  for (const id of subset ?? []) {
    if (!HANDSHAKE_ID_PATTERN.test(id)) issues.push(`--handshake: '${id}' ${HANDSHAKE_ID_PROBLEM}`);
  }
  const config = await configOrIssue(values.config ?? settings.janitorConfig, issues);
  const pattern = config?.approvalNoteRequire;
  if (pattern !== undefined && note !== "" && !containsPattern(pattern, note)) {
    issues.push(`--note: must contain a match for /${pattern}/ (approvalNoteRequire in the config)`);
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const app = wire(settings);
  const identity = await app.whoAmI();
  const stored = await checkedPlan(app, planId, identity);
  const { plan } = stored;
  const now = new Date();
  const status = planStatus(stored, now);
  if (status !== "pending") {
    const by = stored.decision ? ` by ${stored.decision.by}` : "";
    throw new ConfigError([`plan ${planId}: ${status}${by}; it can no longer be ${verdict}`]);
  }
  if (verdict === "approved" && isMakerOf(plan, identity)) {
    throw new ConfigError([
      `approve: ${identity.arn} made plan ${planId}; someone other than its maker must approve it`,
    ]);
  }
  const inPlan = new Set(plan.entries.map((entry) => entry.handshakeId));
  const unknown = (subset ?? []).filter((id) => !inPlan.has(id));
  if (unknown.length > 0) {
    throw new ConfigError(unknown.map((id) => `--handshake: ${id} is not in plan ${planId}`));
  }
  const handshakeIds =
    verdict === "approved" ? (subset ? [...new Set(subset)] : plan.entries.map((e) => e.handshakeId)) : [];
  const decision = decisionOf(plan, identity, { verdict, note, handshakeIds, at: now.toISOString() });
  if (!(await app.plans.decidePlan(decision))) {
    throw new ConfigError([`plan ${planId}: already decided by someone else meanwhile; nothing recorded`]);
  }
  out(
    verdict === "approved"
      ? `plan ${planId} approved by ${visible(identity.arn)}: ${handshakeIds.length} of ${plan.entries.length} handshakes; apply with: handshake-janitor apply ${planId} (or the next scheduled sweep applies it), before ${plan.expiresAt}`
      : `plan ${planId} rejected by ${visible(identity.arn)}: nothing of it is applied`,
  );
  return ExitCode.Done;
}

async function apply(argv: string[], { out, err, env }: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(APPLY, argv);
  const issues: string[] = [];
  const settings = settingsOrIssues(env, issues);
  const planId = planIdOperand("apply", positionals, issues);
  const config = await configOrIssue(values.config ?? settings.janitorConfig, issues);
  if (issues.length > 0 || config === undefined) throw new ConfigError(issues);

  const app = wire(settings);
  const identity = await app.whoAmI();
  const stored = await checkedPlan(app, planId, identity);
  const refusals = applyRefusals(stored, new Date());
  if (refusals.length > 0) throw new ConfigError(refusals);
  let summary: Awaited<ReturnType<typeof applyPlan>>;
  try {
    summary = await applyPlan(
      { config, stored, trigger: "cli", actor: identity.arn },
      sweepDepsOf(app, silentLogger),
    );
  } catch (error) {
    if (!(error instanceof LeaseHeldError)) throw error;
    err(`${error.message}\n`);
    return ExitCode.LeaseHeld;
  }
  if (app.notifier !== undefined) {
    const notified = await notifyRun(
      summary,
      { notifier: app.notifier, audit: app.audit },
      { showTargets: config.notify?.showTargets === true },
    );
    if (!notified.published && notified.reason === "failed") {
      err(`notification not published (recorded on the run): ${notified.error}\n`);
    }
  }
  out(values.json ? jsonText(summary) : renderSummary(summary));
  return exitCodeFor(summary.status);
}

export const PLAN_COMMANDS: readonly { spec: CommandSpec; handler: CommandHandler }[] = [
  { spec: PLAN_LIST, handler: planList },
  { spec: PLAN_SHOW, handler: planShow },
  { spec: APPROVE, handler: (argv, io) => decide("approved", argv, io) },
  { spec: REJECT, handler: (argv, io) => decide("rejected", argv, io) },
  { spec: APPLY, handler: apply },
];
