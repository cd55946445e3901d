import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { ConfigError, JanitorError, LeaseHeldError } from "../domain/errors.js";
import type { DigestOptions } from "../notify/digest.js";
import { type NotifierPort, notifyRun } from "../notify/notify.js";
import type { RunJournal } from "../ports/run-journal.js";
import type { RunSummary, SweepLogger } from "../sweep/sweep.js";
import { recordNotify, recordSummary } from "./metrics.js";

/** The run was blocked or failed: the invocation fails so that the error alarm fires. */
export class RunNotCompletedError extends JanitorError {}

export interface AfterRunDeps {
  metrics: Metrics;
  audit: Pick<RunJournal, "recordNotifyFailure">;
  logger: SweepLogger;
  /** Undefined when NOTIFY_TOPIC_ARN is unset: no digest. */
  notifier?: NotifierPort;
  /** Epoch ms by which the digest gives up, so the invocation ends inside Lambda's timeout. */
  deadline?: number;
}

/** What the invocation keeps after the digest's deadline: the summary log line and the metrics. */
export const AFTER_NOTIFY_MS = 1_000;

/** The digest's deadline in an invocation with `remainingMs` left now. */
export function notifyDeadline(remainingMs: number, now = Date.now()): number {
  return now + remainingMs - AFTER_NOTIFY_MS;
}

/**
 * What both Lambda entry points do once a run has finished: its metrics, then its one digest.
 * Whatever happens to the digest, what was canceled and recorded stands.
 */
export async function afterRun(
  summary: RunSummary,
  deps: AfterRunDeps,
  digest: DigestOptions,
): Promise<void> {
  recordSummary(deps.metrics, summary);
  if (deps.notifier === undefined) return;
  const notified = await notifyRun(
    summary,
    {
      notifier: deps.notifier,
      audit: deps.audit,
      logger: deps.logger,
      ...(deps.deadline === undefined ? {} : { deadline: deps.deadline }),
    },
    digest,
  );
  if (notified.published || notified.reason === "failed") recordNotify(deps.metrics, !notified.published);
}

/** Fails the invocation for a run that ended BLOCKED or FAILED, so that the error alarm fires. */
export function failUnlessCompleted(summary: RunSummary): void {
  if (summary.status === "BLOCKED" || summary.status === "FAILED") {
    throw new RunNotCompletedError(
      `run ${summary.runId} ${summary.status}: ${JSON.stringify(summary.counts)}`,
    );
  }
}

/**
 * How both entry points log the error an invocation fails with: a rejected event as its lines, a
 * held lease with its holder, anything unexpected as such. A blocked or failed run was logged by
 * the run itself.
 */
export function logInvocationError(logger: Logger, error: unknown): void {
  if (error instanceof ConfigError) {
    logger.error("rejected before any call", { issues: error.issues });
  } else if (error instanceof LeaseHeldError) {
    // The invocation fails so that the error alarm fires; nothing was done, no run item written.
    // The function has no async retries: the next scheduled sweep does the work.
    logger.error("another live run holds the organization's lease; nothing done", {
      error: error.message,
      holder: error.holder.runId,
      since: error.holder.since,
    });
  } else if (!(error instanceof RunNotCompletedError)) {
    logger.error("invocation failed", { error: error instanceof Error ? error.message : String(error) });
  }
}
