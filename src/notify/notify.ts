import { describeError } from "../domain/errors.js";
import { type SweepLogger, silentLogger } from "../domain/logger.js";
import { maskEmails } from "../domain/mask.js";
import type { RunJournal } from "../ports/run-journal.js";
import { buildDigest, type DigestOptions, type DigestRun } from "./digest.js";

/** Publishes one message; implemented over SNS in src/aws/sns.ts. It retries by itself. */
export interface NotifierPort {
  /**
   * Publishes one message, giving up by `deadline` (epoch ms) if one is given, and within the
   * adapter's own bound in any case: a digest is worth seconds, never the run's exit.
   */
  publish(
    message: { subject: string; message: string },
    options?: { deadline?: number },
  ): Promise<{ messageId: string }>;
}

export interface NotifyDeps {
  notifier: NotifierPort;
  audit: Pick<RunJournal, "recordNotifyFailure">;
  logger?: SweepLogger;
  /** Hears each failed publish, for the NotifyFailed metric. */
  onFailure?: (error: string) => void;
  /** Epoch ms by which the publish gives up: the invocation's time left, less what the end needs. */
  deadline?: number;
}

export type NotifyResult =
  | { published: false; reason: "no news" }
  | { published: true; messageId: string; subject: string; summarised: boolean }
  | { published: false; reason: "failed"; error: string };

/**
 * Sends the run's digest, after the run has finished: at most one message per run, and none when
 * the run has no news. It never throws and never touches what the run canceled or recorded; a
 * failure is logged, reported to `onFailure` and put on the run item (`notifyError`).
 */
export async function notifyRun(
  run: DigestRun,
  deps: NotifyDeps,
  options: DigestOptions = {},
): Promise<NotifyResult> {
  const log = deps.logger ?? silentLogger;
  const digest = buildDigest(run, options);
  if (digest === undefined) return { published: false, reason: "no news" };
  try {
    const { messageId } = await deps.notifier.publish(
      { subject: digest.subject, message: digest.message },
      deps.deadline === undefined ? {} : { deadline: deps.deadline },
    );
    log.info("notification published", { messageId, summarised: digest.summarised });
    return { published: true, messageId, subject: digest.subject, summarised: digest.summarised };
  } catch (failure) {
    const error = maskEmails(describeError(failure));
    log.error("notification not published; the run's outcomes stand", { error });
    deps.onFailure?.(error);
    try {
      await deps.audit.recordNotifyFailure(run.runId, error);
    } catch (recordFailure) {
      log.error("could not record the notification failure on the run", {
        error: describeError(recordFailure),
      });
    }
    return { published: false, reason: "failed", error };
  }
}
