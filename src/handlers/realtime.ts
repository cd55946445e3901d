import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import { type App, type WireOptions, wire } from "../app.js";
import { usesApproval } from "../config/approval.js";
import type { JanitorConfig } from "../config/config.js";
import { maskEmails } from "../domain/mask.js";
import { type BackoffPolicy, DEFAULT_BACKOFF } from "../resilience/backoff.js";
import { type Environment, parseSettings, type Settings } from "../settings.js";
import { type InProgress, judge } from "../sweep/judge.js";
import type { RunSummary } from "../sweep/sweep.js";
import { afterRun, failUnlessCompleted, logInvocationError, notifyDeadline } from "./after-run.js";
import { environmentHandler, type Kept, keptConfig } from "./bootstrap.js";
import { parseRealtimeEvent, type RealtimeEvent } from "./cloudtrail-event.js";
import { asSweepLogger } from "./logging.js";
import { createMetrics } from "./metrics.js";
import { isSqsBatch, readBatch } from "./sqs-batch.js";

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
 * A batch's events are judged this many at a time, as a sweep cancels four at a time: enough to
 * keep the CancelHandshake pacer busy while the others write their records, and the first cancel
 * of a batch is not queued behind the writes of all ten runs at once.
 */
const BATCH_WORKERS = 4;

/**
 * Each event has one cancellation to make (an invocation judges one event, or a batch of up to
 * ten from the queue): a throttled CancelHandshake is retried until the deadline
 * (SAFETY_MARGIN_MS before the timeout) rather than after the sweep's eight attempts, because
 * giving up means DEFERRED, and a DEFERRED handshake waits for the next sweep.
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
  return async function realtimeHandler(event: unknown, context: Context): Promise<RealtimeAnswer> {
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

/** The answer to a batch from the queue: the records to deliver again (Lambda's SQSBatchResponse). */
export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
}

export type RealtimeAnswer = RealtimeResult | BatchResult;

async function judgeEvent(event: unknown, context: Context, kept: Kept): Promise<RealtimeAnswer> {
  if (isSqsBatch(event)) return judgeBatch(event, context, kept);
  const parsed = parseRealtimeEvent(event);
  if (parsed.kind === "ignored") {
    logger.info("event ignored", { eventId: parsed.eventId, reason: parsed.reason });
    return { ignored: parsed.reason };
  }
  logger.appendKeys({ runId: parsed.runId, trigger: "event", handshakeId: parsed.handshakeId });
  const app = kept.application();
  const rules = await kept.config(app.settings.janitorConfig ?? "janitor.yaml");
  const result = await judgeInvite(parsed, context, { kept, app, rules, log: logger });
  if ("runId" in result) failUnlessCompleted(result);
  return result;
}

/**
 * A batch of the queue's records (docs/realtime.md): each record's event is judged in a run of
 * its own (its run id from its event id, its actor from its caller), all of them at once over the
 * one application, so every CancelHandshake of the batch goes through the one pacer, as a
 * sweep's cancels do. The queue's single message group hands the function one batch at a time.
 *
 * A record whose handshake was not decided is answered as a failure, for the queue to deliver it
 * again and, after a few receives, keep it in the dead-letter queue: its event would not parse
 * (one line per problem, naming the record and the field, and nothing called for it), its run
 * could not be recorded or failed, or another invocation is judging the same event. A redelivered
 * event whose run has finished replays that run: nothing is done twice.
 */
async function judgeBatch(batch: { Records: unknown[] }, context: Context, kept: Kept): Promise<BatchResult> {
  const records = readBatch(batch);
  const failed = new Set<string>();
  // One event delivered twice in a batch is judged once; both records share its answer.
  const invites = new Map<string, { event: RealtimeInvite; messageIds: string[] }>();
  for (const record of records) {
    if ("problems" in record) {
      for (const problem of record.problems) logger.error(problem);
      failed.add(record.messageId);
    } else if (record.event.kind === "ignored") {
      logger.info("event ignored", { eventId: record.event.eventId, reason: record.event.reason });
    } else {
      const known = invites.get(record.event.eventId);
      if (known) known.messageIds.push(record.messageId);
      else invites.set(record.event.eventId, { event: record.event, messageIds: [record.messageId] });
    }
  }
  if (invites.size > 0) {
    const app = kept.application();
    const rules = await kept.config(app.settings.janitorConfig ?? "janitor.yaml");
    const queue = [...invites.values()];
    const judgeNext = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const { event, messageIds } = next;
        const log = logger.createChild({
          persistentKeys: { runId: event.runId, trigger: "event", handshakeId: event.handshakeId },
        });
        let decided = false;
        try {
          const result = await judgeInvite(event, context, { kept, app, rules, log });
          decided = "runId" in result && result.status !== "FAILED";
        } catch (error) {
          logInvocationError(log, error);
        }
        if (!decided) for (const id of messageIds) failed.add(id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_WORKERS, queue.length) }, judgeNext));
  }
  logger.info("batch judged", { records: records.length, failed: failed.size });
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
}

type RealtimeInvite = Extract<RealtimeEvent, { kind: "invite" }>;

interface InviteScope {
  kept: Kept;
  app: App;
  rules: JanitorConfig;
  log: Logger;
}

/** One invitation's run: judged, its digest sent, its decision logged. */
async function judgeInvite(
  parsed: RealtimeInvite,
  context: Context,
  { kept, app, rules, log }: InviteScope,
): Promise<RunSummary | InProgress> {
  const started = Date.now();
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
      logger: asSweepLogger(log),
    },
  );
  if ("inProgress" in result) {
    log.info("another invocation is judging this event", result.inProgress);
    return result;
  }
  // As the sweep does; the digest names who sent the invitation.
  await afterRun(
    result,
    {
      metrics: kept.metrics,
      audit,
      logger: asSweepLogger(log),
      deadline: notifyDeadline(context.getRemainingTimeInMillis()),
      ...(notifier ? { notifier } : {}),
    },
    { showTargets: rules.notify?.showTargets === true, sender: parsed.actor },
  );
  const decision = result.actions[0];
  log.info("judged", {
    status: result.status,
    outcome: decision?.outcome ?? "not selected",
    ...(decision ? { ruleId: decision.ruleId, target: maskEmails(decision.target) } : {}),
    replayed: result.replayed,
    ms: Date.now() - started,
  });
  return result;
}

export const handler = createRealtimeLambdaHandler();
