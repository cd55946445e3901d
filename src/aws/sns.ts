import {
  InternalErrorException,
  KMSThrottlingException,
  PublishCommand,
  type SNSClient,
  ThrottledException,
} from "@aws-sdk/client-sns";
import { type BackoffPolicy, RetriesExhaustedError, retry, type Sleep } from "../core/backoff.js";
import type { NotifierPort } from "../core/notify.js";
import { ConfigError, JanitorError } from "../domain/errors.js";
import { isRetryableDynamoDbError } from "./audit/index.js";

/** The SNS actions the notifier calls; the deployment's policy grants exactly these, on the topic. */
export const SNS_ACTIONS = ["sns:Publish"] as const;

/**
 * A notification is worth a few seconds, not the run's remaining time: four attempts, the pauses
 * under two seconds in all, then the failure is recorded on the run.
 */
export const SNS_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 1_000, maxAttempts: 4 };

/** A standard topic's ARN (FIFO topics need a message group the digest has no use for). */
const TOPIC_ARN_PATTERN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256})$/;

/**
 * NOTIFY_TOPIC_ARN: unset or empty means no notifications; otherwise the ARN of a standard SNS
 * topic, checked before anything is called.
 */
export function notifyTopicArnFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env.NOTIFY_TOPIC_ARN?.trim();
  if (raw === undefined || raw === "") return undefined;
  if (!TOPIC_ARN_PATTERN.test(raw)) {
    throw new ConfigError([
      `NOTIFY_TOPIC_ARN: ${JSON.stringify(raw.slice(0, 300))} is not the ARN of a standard SNS topic (arn:aws:sns:REGION:ACCOUNT:NAME)`,
    ]);
  }
  return raw;
}

/** The region in a topic ARN: SNS answers only in the topic's own region. */
export function topicRegion(arn: string): string | undefined {
  return TOPIC_ARN_PATTERN.exec(arn)?.[1];
}

/** The publish failed for good: the message is lost, the run is not. */
export class NotifyError extends JanitorError {}

/** Throttling, SNS's own faults, 5xx and dropped connections: worth another try. */
export function isRetryableSnsError(error: unknown): boolean {
  if (error instanceof ThrottledException || error instanceof KMSThrottlingException) return true;
  if (error instanceof InternalErrorException) return true;
  // The same transport and status classification the audit store uses: network codes, 5xx, timeouts.
  return isRetryableDynamoDbError(error);
}

export interface SnsNotifierOptions {
  /** Built by the composition root with maxAttempts: 1; this adapter is the only retry layer. */
  client: SNSClient;
  topicArn: string;
  retry?: { policy?: BackoffPolicy; sleep?: Sleep; random?: () => number };
}

export function createSnsNotifier(options: SnsNotifierOptions): NotifierPort {
  const { client, topicArn } = options;
  return {
    async publish({ subject, message }) {
      try {
        const answer = await retry(
          () => client.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message })),
          {
            policy: options.retry?.policy ?? SNS_BACKOFF,
            isRetryable: isRetryableSnsError,
            ...(options.retry?.sleep ? { sleep: options.retry.sleep } : {}),
            ...(options.retry?.random ? { random: options.retry.random } : {}),
          },
        );
        return { messageId: answer.MessageId ?? "", attempts: 1 };
      } catch (error) {
        const cause = error instanceof RetriesExhaustedError ? error.cause : error;
        const name = cause instanceof Error ? cause.name : "Error";
        const detail =
          cause instanceof Error && cause.message && cause.message !== name ? `: ${cause.message}` : "";
        const attempts = error instanceof RetriesExhaustedError ? ` after ${error.attempts} attempts` : "";
        throw new NotifyError(`SNS Publish failed${attempts}: ${name}${detail}`, { cause: error });
      }
    },
  };
}
