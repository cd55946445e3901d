import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { type App, wire } from "../app.js";
import type { Clients } from "../aws/clients.js";
import { loadConfig } from "../core/config.js";
import { validateSelection } from "../core/plan.js";
import { type RunSummary, sweep } from "../core/sweep.js";
import { ConfigError } from "../domain/errors.js";
import { loadSettings, parseSettings, type Settings } from "../settings.js";
import { afterRun, failUnlessCompleted, logInvocationError, notifyDeadline } from "./after-run.js";
import { eventSelectionIssue, parseEvent } from "./events.js";
import { asSweepLogger } from "./logging.js";
import { createMetrics, recordThrottle } from "./metrics.js";

const logger = new Logger({ serviceName: "handshake-janitor" });
const metrics = createMetrics(parseSettings().settings.functionName);

/** Stop starting cancellations this long before Lambda's timeout, to write the outcomes. */
export const SAFETY_MARGIN_MS = 20_000;

// Clients are built once per container, on first use, and reused by later invocations (built
// again only if the settings differ, as they can in a test); each invocation wires its own adapters.
let built: { key: string; clients: Clients } | undefined;

function application(settings: Settings): App {
  const key = JSON.stringify(settings);
  const clients = built?.key === key ? built.clients : undefined;
  const app = wire(settings, { onThrottle: () => recordThrottle(metrics), ...(clients ? { clients } : {}) });
  built = { key, clients: app.clients };
  return app;
}

export async function sweepHandler(event: unknown, context: Context): Promise<RunSummary> {
  const request = parseEvent(event, context.awsRequestId, context.functionName);
  logger.appendKeys({ runId: request.runId, trigger: request.trigger });
  const settings = loadSettings();
  const config = await loadConfig(settings.janitorConfig ?? "janitor.yaml");
  const problems = validateSelection(config, {
    ruleIds: request.ruleIds,
    handshakeIds: request.handshakeIds,
  });
  if (problems.length > 0) throw new ConfigError(problems.map(eventSelectionIssue));
  const { organizations, audit, claims, notifier, fencing, checkpoints } = application(settings);
  const summary = await sweep(
    {
      config,
      runId: request.runId,
      trigger: request.trigger,
      actor: request.actor,
      ...(request.dryRun ? { dryRun: true } : {}),
      ...(request.ruleIds ? { ruleIds: request.ruleIds } : {}),
      ...(request.handshakeIds ? { handshakeIds: request.handshakeIds } : {}),
      ...(request.note ? { note: request.note } : {}),
      deadline: Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS,
    },
    {
      organizations,
      audit,
      claims,
      fencing,
      now: () => new Date(),
      logger: asSweepLogger(logger),
      ...(checkpoints ? { checkpoints } : {}),
    },
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
    { showTargets: config.notify?.showTargets === true },
  );
  logger.info("summary", { status: summary.status, counts: summary.counts, listed: summary.listed });
  failUnlessCompleted(summary);
  return summary;
}

export const handler = middy(sweepHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .onError((request) => logInvocationError(logger, request.error));
