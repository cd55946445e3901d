import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { wire } from "../app.js";
import { usesApproval } from "../config/approval.js";
import { loadConfig } from "../config/config.js";
import { ConfigError, LeaseHeldError } from "../domain/errors.js";
import { jsonText } from "../domain/visible.js";
import { notifyRun } from "../notify/notify.js";
import { type SelectionProblem, validateSelection } from "../policy/plan.js";
import { parseTableSettings } from "../settings.js";
import { type RunSummary, type SweepLogger, silentLogger, sweep } from "../sweep/sweep.js";
import { defineCommand, parseCommandArgs } from "./args.js";
import { ExitCode, exitCodeFor } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import { renderSummary } from "./render.js";

export const RUN = defineCommand({
  name: "run",
  summary:
    "one sweep: list every handshake, decide by the rules, cancel what they select, audit each decision",
  options: {
    config: {
      type: "string",
      value: "FILE",
      description: "the rules file, YAML or JSON (default: $JANITOR_CONFIG; one of the two is required)",
    },
    "dry-run": {
      type: "boolean",
      description: "decide and record DRY_RUN; cancel nothing, whatever the config says",
    },
    json: { type: "boolean", description: "print only the run summary, as one JSON object" },
    rule: { type: "string", multiple: true, value: "ID", description: "only this rule judges" },
    handshake: { type: "string", multiple: true, value: "h-…", description: "only this handshake is judged" },
    "time-budget": {
      type: "string",
      value: "S",
      description: "start no cancellation after S seconds; what is left is recorded DEFERRED",
    },
    "run-id": {
      type: "string",
      value: "ID",
      description: "the run's id; rerunning an id does nothing twice (default: cli-<time>-<random>)",
    },
    actor: {
      type: "string",
      value: "NAME",
      description: "who triggered the run, recorded in the audit (default: user@cli)",
    },
    wait: {
      type: "string",
      value: "S",
      description:
        "when another live run holds the organization's lease, wait up to S seconds for it (default: exit 6 at once)",
    },
    wide: {
      type: "boolean",
      description: "print every table cell whole (default: cells over 60 characters are cut, ending in …)",
    },
    verbose: { type: "boolean", description: "JSON logs on stderr; a stack trace with an error" },
  },
  details: [
    "The audit table must exist (AUDIT_TABLE_NAME; 'audit init' creates it). The run's first write is its run item, before any call to cancel: a missing table stops it with nothing canceled.",
  ],
  exitCodes:
    "0 done, every match final; 1 the run failed (or the audit table does not exist); 2 invalid config or arguments, nothing called; 3 partial (deferred or failed matches); 4 blocked by the safety cap, nothing canceled; 6 another live run holds the organization's lease, nothing done",
  environment:
    "AUDIT_TABLE_NAME (required), JANITOR_CONFIG, AUDIT_RETENTION_DAYS, NOTIFY_TOPIC_ARN (one SNS digest per run with news; unset: none), AUDIT_CHECKPOINT_BUCKET (a checkpoint per live run; unset: none), AWS_REGION, the SDK's credential chain, AWS_ENDPOINT_URL_ORGANIZATIONS, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_S3",
});

/** While waiting for the lease, it is looked at again this often at most. */
const LEASE_POLL_MS = 1_000;

export async function runCommand(argv: string[], { out, err, env }: CliIo): Promise<number> {
  const args = parseCommandArgs(RUN, argv).values;
  const { settings, issues } = parseTableSettings(env);
  const configPath = args.config ?? settings.janitorConfig;
  if (!configPath) issues.push("--config: required (or set JANITOR_CONFIG)");
  let budgetMs: number | undefined;
  if (args["time-budget"] !== undefined) {
    const seconds = Number(args["time-budget"]);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      issues.push(`--time-budget: '${args["time-budget"]}' is not a positive number of seconds`);
    } else budgetMs = seconds * 1000;
  }
  // Checked here with the other arguments; the run lease (exit 6) is what waits on it.
  let waitMs = 0;
  if (args.wait !== undefined) {
    const seconds = Number(args.wait);
    if (args.wait.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
      issues.push(`--wait: '${args.wait}' is not a number of seconds (0 or more)`);
    } else waitMs = seconds * 1000;
  }
  if (args["run-id"] !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(args["run-id"])) {
    issues.push(`--run-id: '${args["run-id"]}' must be 1-128 letters, digits or . _ : -`);
  }
  const config = configPath ? await loadConfig(configPath).catch(collect(issues)) : undefined;
  // Absent options stay undefined: an empty list must never read as "every rule / handshake".
  const only = { ruleIds: args.rule, handshakeIds: args.handshake };
  if (config) issues.push(...validateSelection(config, only).map(optionIssue));
  if (issues.length > 0 || !config) throw new ConfigError(issues);

  const started = Date.now();
  const runId = args["run-id"] ?? newRunId(new Date(started));
  const logger = args.verbose ? jsonLogger(err) : silentLogger;
  const { audit, notifier, sweepDeps, whoAmI } = wire(settings);
  // Under four eyes a live run makes a plan, and its maker is who the credentials say, not --actor.
  const identity =
    usesApproval(config) && !config.dryRun && args["dry-run"] !== true ? await whoAmI() : undefined;
  const waitUntil = started + waitMs;
  let summary: RunSummary | undefined;
  // Bounded twice: by the time --wait allows, and by the number of looks that time can hold.
  for (let look = 0; summary === undefined; look += 1) {
    // The time budget is the run's own: it starts when the run does, after any wait.
    const runStarted = Date.now();
    try {
      summary = await sweep(
        {
          config,
          runId,
          trigger: "cli",
          actor: args.actor ?? `${userInfo().username}@cli`,
          dryRun: args["dry-run"] === true,
          ...(only.ruleIds ? { ruleIds: only.ruleIds } : {}),
          ...(only.handshakeIds ? { handshakeIds: only.handshakeIds } : {}),
          ...(budgetMs !== undefined ? { deadline: runStarted + budgetMs } : {}),
          ...(identity ? { identity } : {}),
        },
        {
          ...sweepDeps,
          now: () => new Date(),
          logger,
        },
      );
    } catch (error) {
      if (!(error instanceof LeaseHeldError)) throw error;
      const left = waitUntil - Date.now();
      if (left <= 0 || look > waitMs / 100) {
        err(`${error.message}\n`);
        return ExitCode.LeaseHeld;
      }
      logger.info("waiting for the lease", { holder: error.holder.runId, since: error.holder.since });
      await sleep(Math.max(100, Math.min(left, LEASE_POLL_MS, error.holder.expiresAt - Date.now())));
    }
  }
  if (notifier !== undefined) {
    const notified = await notifyRun(
      summary,
      { notifier, audit },
      { showTargets: config.notify?.showTargets === true },
    );
    // The summary on stdout stays exactly the run's; the notification is reported beside it.
    if (!notified.published && notified.reason === "failed") {
      err(`notification not published (recorded on the run): ${notified.error}\n`);
    }
  }
  out(args.json ? jsonText(summary) : renderSummary(summary, { wide: args.wide === true }));
  return exitCodeFor(summary.status);
}

/** Sortable by time, unique without coordination. */
export function newRunId(now: Date): string {
  return `cli-${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`;
}

/** A selection problem as the command line names it: `--rule: unknown rule id …`. */
function optionIssue({ field, problem }: SelectionProblem): string {
  return `${field === "rules" ? "--rule" : "--handshake"}: ${problem}`;
}

function collect(issues: string[]) {
  return (error: unknown) => {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.issues);
    return undefined;
  };
}

/** --verbose: one JSON line per log entry, on stderr. */
function jsonLogger(err: CliIo["err"]): SweepLogger {
  return Object.fromEntries(
    (["debug", "info", "warn", "error"] as const).map((level) => [
      level,
      (message: string, extra?: Record<string, unknown>) =>
        err(`${jsonText({ level, message, ...extra })}\n`),
    ]),
  ) as unknown as SweepLogger;
}
