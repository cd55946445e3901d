import type { SNSClient } from "@aws-sdk/client-sns";
import { JanitorError } from "../domain/errors.js";
import type { NotifierPort } from "../notify/notify.js";
import { type BackoffPolicy, RetriesExhaustedError, retry, type Sleep } from "../resilience/backoff.js";
import { isRetryable } from "./errors.js";

/**
 * A notification is worth a few seconds, not the run's remaining time: four attempts, the pauses
 * under two seconds in all, then the failure is recorded on the run.
 */
export const SNS_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 1_000, maxAttempts: 4 };

/**
 * The most a publish may take, attempts and pauses together, whatever the endpoint does: a hung
 * connection or one that drips its answer a byte at a time (which no socket timeout ends) is cut
 * off here, and the failure is recorded on the run.
 */
export const SNS_PUBLISH_BOUND_MS = 8_000;

/** The region in a topic ARN: SNS answers only in the topic's own region. */
export { topicRegion } from "../settings.js";

/** The publish failed for good: the message is lost, the run is not. */
export class NotifyError extends JanitorError {}

/** Throttling, SNS's own faults, 5xx and dropped connections: worth another try (src/aws/errors.ts). */
export const isRetryableSnsError = isRetryable;

export interface SnsNotifierOptions {
  /**
   * Built by the composition root with maxAttempts: 1 (this adapter is the only retry layer), on
   * first use: a run without a topic never loads the SNS client.
   */
  client: SNSClient | (() => Promise<SNSClient>);
  topicArn: string;
  retry?: { policy?: BackoffPolicy; sleep?: Sleep; random?: () => number };
  /** The bound on one publish, all attempts together; default SNS_PUBLISH_BOUND_MS. */
  boundMs?: number;
  now?: () => number;
}

export function createSnsNotifier(options: SnsNotifierOptions): NotifierPort {
  const { client, topicArn } = options;
  const now = options.now ?? Date.now;
  const bound = options.boundMs ?? SNS_PUBLISH_BOUND_MS;
  return {
    async publish({ subject, message }, { deadline } = {}) {
      // One reading of the clock: the bound and the budget name the same instant.
      const start = now();
      const end = Math.min(start + bound, deadline ?? Number.POSITIVE_INFINITY);
      const budget = Math.max(0, end - start);
      // One signal for every attempt: when the budget is spent, the request in flight is aborted.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), budget);
      try {
        const [sns, { PublishCommand }] = await Promise.all([
          typeof client === "function" ? client() : client,
          import("./sns-api.js"),
        ]);
        const answer = await retry(
          () =>
            sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message }), {
              abortSignal: controller.signal,
            }),
          {
            policy: options.retry?.policy ?? SNS_BACKOFF,
            isRetryable: (error) => !controller.signal.aborted && isRetryableSnsError(error),
            deadline: end,
            now,
            ...(options.retry?.sleep ? { sleep: options.retry.sleep } : {}),
            ...(options.retry?.random ? { random: options.retry.random } : {}),
          },
        );
        return { messageId: answer.MessageId ?? "", attempts: 1 };
      } catch (error) {
        if (controller.signal.aborted) {
          throw new NotifyError(`SNS Publish gave up: no answer within ${budget} ms`, { cause: error });
        }
        const cause = error instanceof RetriesExhaustedError ? error.cause : error;
        const name = cause instanceof Error ? cause.name : "Error";
        const detail =
          cause instanceof Error && cause.message && cause.message !== name ? `: ${cause.message}` : "";
        const attempts = error instanceof RetriesExhaustedError ? ` after ${error.attempts} attempts` : "";
        throw new NotifyError(`SNS Publish failed${attempts}: ${name}${detail}`, { cause: error });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
