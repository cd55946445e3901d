import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import { sweepDepsOf, wire } from "../app.js";
import { usesApproval } from "../config/approval.js";
import { ConfigError } from "../domain/errors.js";
import { validateSelection } from "../policy/plan.js";
import type { Environment } from "../settings.js";
import { type RunSummary, sweep } from "../sweep/sweep.js";
import { afterRun, failUnlessCompleted, notifyDeadline } from "./after-run.js";
import { environmentHandler, type Kept } from "./bootstrap.js";
import { applyDuePlans } from "./due-plans.js";
import { eventSelectionIssue, parseEvent } from "./events.js";
import { asSweepLogger } from "./logging.js";

const logger = new Logger({ serviceName: "handshake-janitor" });

/** Stop starting cancellations this long before Lambda's timeout, to write the outcomes. */
export const SAFETY_MARGIN_MS = 20_000;

/**
 * The sweep's Lambda handler over one environment's settings: the deployed one reads the
 * process's; a test builds its own, and no test changes process.env. The application and the
 * config are kept for the life of the handler, once per execution environment (./bootstrap.ts).
 */
export function createSweepHandler(env?: Environment) {
  return environmentHandler(env, wire, sweepHandler, logger);
}

async function sweepHandler(event: unknown, context: Context, kept: Kept): Promise<RunSummary> {
  const { metrics, application, config } = kept;
  const request = parseEvent(event, context.awsRequestId, context.functionName);
  logger.appendKeys({ runId: request.runId, trigger: request.trigger });
  const app = application();
  const rules = await config(app.settings.janitorConfig ?? "janitor.yaml");
  const problems = validateSelection(rules, {
    ruleIds: request.ruleIds,
    handshakeIds: request.handshakeIds,
  });
  if (problems.length > 0) throw new ConfigError(problems.map(eventSelectionIssue));
  const { audit, notifier } = app;
  const deadline = Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS;
  const deps = sweepDepsOf(app, asSweepLogger(logger));
  // Four eyes: the plans approved since the last sweep are applied first, each its own run.
  const live = !rules.dryRun && request.dryRun !== true;
  const identity = usesApproval(rules) && live ? await app.whoAmI() : undefined;
  if (identity !== undefined && request.trigger === "scheduled") {
    for (const applied of await applyDuePlans(app, rules, identity, deps, asSweepLogger(logger), deadline)) {
      logger.info("plan applied", { runId: applied.runId, status: applied.status, counts: applied.counts });
    }
  }
  const summary = await sweep(
    {
      config: rules,
      runId: request.runId,
      trigger: request.trigger,
      actor: request.actor,
      ...(request.dryRun ? { dryRun: true } : {}),
      ...(request.ruleIds ? { ruleIds: request.ruleIds } : {}),
      ...(request.handshakeIds ? { handshakeIds: request.handshakeIds } : {}),
      ...(request.note ? { note: request.note } : {}),
      ...(identity ? { identity } : {}),
      deadline,
    },
    deps,
  );
  await afterRun(
    summary,
    {
      metrics,
      audit,
      logger: asSweepLogger(logger),
      deadline: notifyDeadline(context.getRemainingTimeInMillis()),
      ...(notifier ? { notifier } : {}),
    },
    { showTargets: rules.notify?.showTargets === true },
  );
  logger.info("summary", { status: summary.status, counts: summary.counts, listed: summary.listed });
  failUnlessCompleted(summary);
  return summary;
}

export const handler = createSweepHandler();
