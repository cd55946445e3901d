/**
 * The delivery loop that stands in, locally, for Lambda's SQS event source mapping over the
 * real-time queue: a FIFO queue with one message group. It is not SQS and emulates none of its
 * API; it only hands the handler what the mapping would, in the order it would:
 * - one consumer at a time: the next batch is handed over only after the previous one returned;
 * - batches of up to `batchSize` (the mapping's BatchSize, 10), in the order the events were sent,
 *   each record's body the EventBridge event as JSON, as the rule's target writes it;
 * - no batching window (a FIFO mapping has none): a batch goes as soon as the consumer is free;
 * - the records a batch answers in `batchItemFailures` come back first, as a message group keeps
 *   its order, each with its receive count; after `maxReceives` receives one is dead-lettered.
 * What it does not do: long polling, visibility timeouts, deduplication, retention. Used by the
 * tests and the bench (bench/fifo-driver.ts); never by the deployed product.
 */

/** One message of the queue: its id, its body (the event as JSON) and when it was sent (epoch ms). */
export interface QueuedMessage {
  messageId: string;
  body: string;
  sentAt: number;
}

/** One hand-over of a batch to the handler. */
export interface Delivery {
  messageIds: string[];
  /** Epoch ms when the handler was called and when it returned. */
  entry: number;
  done: number;
  failed: string[];
}

export interface FifoDeliveryResult {
  deliveries: Delivery[];
  /** Messages that failed `maxReceives` times, as the queue's redrive policy moves them. */
  deadLettered: QueuedMessage[];
}

const GROUP = "invitations";

/** A message for an event, sent now. */
export function queuedMessage(event: unknown, messageId: string, sentAt = Date.now()): QueuedMessage {
  return { messageId, body: JSON.stringify(event), sentAt };
}

/** The SQS event Lambda hands the function for these messages, each received `receives` times. */
export function sqsBatchEvent(
  messages: readonly QueuedMessage[],
  receives: ReadonlyMap<string, number> = new Map(),
) {
  return {
    Records: messages.map((message) => ({
      messageId: message.messageId,
      receiptHandle: `local-${message.messageId}-${receives.get(message.messageId) ?? 1}`,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(receives.get(message.messageId) ?? 1),
        SentTimestamp: String(message.sentAt),
        MessageGroupId: GROUP,
        MessageDeduplicationId: message.messageId,
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:handshake-janitor-local-realtime.fifo",
      awsRegion: "us-east-1",
    })),
  };
}

/**
 * Hands the messages to `handler` as the mapping would (see above) until each was answered
 * without failure or dead-lettered. Bounded: at most `messages × maxReceives` hand-overs.
 */
export async function deliverFifo(
  messages: readonly QueuedMessage[],
  handler: (event: ReturnType<typeof sqsBatchEvent>) => Promise<unknown>,
  options: { batchSize?: number; maxReceives?: number } = {},
): Promise<FifoDeliveryResult> {
  const batchSize = options.batchSize ?? 10;
  const maxReceives = options.maxReceives ?? 3;
  const queue = [...messages];
  const receives = new Map<string, number>();
  const deliveries: Delivery[] = [];
  const deadLettered: QueuedMessage[] = [];
  for (let round = 0; queue.length > 0 && round < messages.length * maxReceives; round += 1) {
    const batch = queue.splice(0, batchSize);
    for (const message of batch) receives.set(message.messageId, (receives.get(message.messageId) ?? 0) + 1);
    const entry = Date.now();
    let failed: string[];
    try {
      failed = failuresOf(await handler(sqsBatchEvent(batch, receives)), batch);
    } catch {
      // A function error: the whole batch comes back.
      failed = batch.map((m) => m.messageId);
    }
    const done = Date.now();
    deliveries.push({ messageIds: batch.map((m) => m.messageId), entry, done, failed });
    const again = batch.filter((message) => failed.includes(message.messageId));
    const retry = again.filter((message) => (receives.get(message.messageId) ?? 0) < maxReceives);
    deadLettered.push(...again.filter((message) => !retry.includes(message)));
    queue.unshift(...retry);
  }
  return { deliveries, deadLettered };
}

/**
 * The mapping's reading of an answer under ReportBatchItemFailures: no answer or no list is
 * success; an item that names no record of the batch fails the whole batch.
 */
function failuresOf(answer: unknown, batch: readonly QueuedMessage[]): string[] {
  const failures = (answer as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null) return [];
  const ids = batch.map((m) => m.messageId);
  if (!Array.isArray(failures)) return ids;
  const named = failures.map((f) => (f as { itemIdentifier?: unknown } | null)?.itemIdentifier);
  if (named.some((id) => typeof id !== "string" || !ids.includes(id))) return ids;
  return named as string[];
}
