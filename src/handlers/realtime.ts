import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import { type App, type WireOptions, wire } from "../app.js";
import { usesApproval } from "../config/approval.js";
import { maskEmails } from "../domain/mask.js";
import { type BackoffPolicy, DEFAULT_BACKOFF } from "../resilience/backoff.js";
import { type Environment, parseSettings, type Settings } from "../settings.js";
import { type InProgress, judge } from "../sweep/judge.js";
import type { RunSummary } from "../sweep/sweep.js";
import { afterRun, failUnlessCompleted, notifyDeadline } from "./after-run.js";
import { environmentHandler, type Kept, keptConfig } from "./bootstrap.js";
import { parseRealtimeEvent } from "./cloudtrail-event.js";
import { asSweepLogger } from "./logging.js";
import { createMetrics } from "./metrics.js";

const logger = new Logger({ serviceName: "handshake-janitor" });

/** Stop starting a cancellation this long before Lambda's timeout, to write the outcome. */
const SAFETY_MARGIN_MS = 5_000;
/**
 * A claim outlives the invocation that holds it by this much, so it never lapses while held; a
 * holder that dies leaves a claim that expires on its own this long after the timeout.
 */
const CLAIM_MARGIN_MS = 10_000;
/**
 * How long an invitation waits for a handshake another run holds (the sweep's claim lasts one
 * cancel) before its decision is DEFERRED to the next sweep: the event is never held for the
 * length of a whole sweep.
 */
const CLAIM_WAIT_MS = 2_000;

/**
 * An invocation has one cancellation to make: a throttled CancelHandshake is retried until the
 * deadline (SAFETY_MARGIN_MS before the timeout) rather than after the sweep's eight attempts,
 * because giving up means DEFERRED, and a DEFERRED handshake waits for the next sweep.
 */
const REALTIME_BACKOFF: BackoffPolicy = { ...DEFAULT_BACKOFF, maxAttempts: 100 };

export type RealtimeResult = RunSummary | InProgress | { ignored: string };

/** The real-time handler's application: an Organizations adapter that retries a throttled cancel longer. */
export function wireRealtime(settings: Settings, options: WireOptions = {}): App {
  return wire(settings, { ...options, organizationsPolicy: REALTIME_BACKOFF });
}

/**
 * The handler without the Lambda middleware, over an application: the demo hands in one wired
 * for its local servers.
 */
export function createRealtimeHandler(application: () => App, env?: Environment) {
  const kept: Kept = {
    metrics: createMetrics(parseSettings(env).settings.functionName),
    application,
    config: keptConfig(),
  };
  return async function realtimeHandler(event: unknown, context: Context): Promise<RealtimeResult> {
    return judgeEvent(event, context, kept);
  };
}

/**
 * The real-time Lambda handler over one environment's settings: the deployed one reads the
 * process's; a test builds its own, and no test changes process.env. The application is wired
 * once per execution environment (./bootstrap.ts): the CancelHandshake pacer then keeps what it
 * learned of the service's rate from one invocation to the next.
 */
export function createRealtimeLambdaHandler(env?: Environment) {
  return environmentHandler(env, wireRealtime, judgeEvent, logger);
}

async function judgeEvent(event: unknown, context: Context, kept: Kept): Promise<RealtimeResult> {
  const { metrics, application, config } = kept;
  const started = Date.now();
  const parsed = parseRealtimeEvent(event);
  if (parsed.kind === "ignored") {
    logger.info("event ignored", { eventId: parsed.eventId, reason: parsed.reason });
    return { ignored: parsed.reason };
  }
  logger.appendKeys({ runId: parsed.runId, trigger: "event", handshakeId: parsed.handshakeId });
  const app = application();
  const rules = await config(app.settings.janitorConfig ?? "janitor.yaml");
  const { audit, notifier, sweepDeps, fencing } = app;
  const remaining = context.getRemainingTimeInMillis();
  // Under four eyes the judgement records a plan for the one handshake, made by the janitor's role.
  const identity = usesApproval(rules) && !rules.dryRun ? await app.whoAmI() : undefined;
  const result = await judge(
    {
      config: rules,
      runId: parsed.runId,
      actor: parsed.actor,
      handshakeId: parsed.handshakeId,
      deadline: started + remaining - SAFETY_MARGIN_MS,
      holder: `${parsed.runId}/${context.awsRequestId}`,
      // The claim outlives the invocation by the fencing margin too: a confirmation asks for M left.
      claimTtlMs: remaining + fencing.marginMs + CLAIM_MARGIN_MS,
      claimWaitMs: CLAIM_WAIT_MS,
      ...(identity === undefined ? {} : { identity }),
    },
    {
      ...sweepDeps,
      now: () => new Date(),
      logger: asSweepLogger(logger),
    },
  );
  if ("inProgress" in result) {
    logger.info("another invocation is judging this event", result.inProgress);
    return result;
  }
  // As the sweep does; the digest names who sent the invitation.
  await afterRun(
    result,
    {
      metrics,
      audit,
      logger: asSweepLogger(logger),
      deadline: notifyDeadline(context.getRemainingTimeInMillis()),
      ...(notifier ? { notifier } : {}),
    },
    { showTargets: rules.notify?.showTargets === true, sender: parsed.actor },
  );
  const decision = result.actions[0];
  logger.info("judged", {
    status: result.status,
    outcome: decision?.outcome ?? "not selected",
    ...(decision ? { ruleId: decision.ruleId, target: maskEmails(decision.target) } : {}),
    replayed: result.replayed,
    ms: Date.now() - started,
  });
  failUnlessCompleted(result);
  return result;
}

export const handler = createRealtimeLambdaHandler();
