import { ConfigError } from "../domain/errors.js";
import { parseRealtimeEvent, type RealtimeEvent } from "./cloudtrail-event.js";

/**
 * A batch from the real-time queue, as Lambda's SQS event source mapping hands it over: up to ten
 * records of one FIFO message group, each body the EventBridge event the rule sent. Facts it
 * relies on: `Records[].eventSource` is `aws:sqs`, `messageId` names the record in the
 * `batchItemFailures` answer, `body` is the message text (EventBridge's event as JSON).
 */
export const SQS_EVENT_SOURCE = "aws:sqs";

/** A record and what it holds: an event to act on or ignore, or the lines that say why it is not one. */
export type BatchRecord =
  | { messageId: string; event: RealtimeEvent }
  | { messageId: string; problems: string[] };

/** Whether an event is a batch from an SQS queue (else it is an event handed to the function directly). */
export function isSqsBatch(event: unknown): event is { Records: unknown[] } {
  if (typeof event !== "object" || event === null || Array.isArray(event)) return false;
  const records = (event as { Records?: unknown }).Records;
  return (
    Array.isArray(records) &&
    records.length > 0 &&
    records.every(
      (r) =>
        typeof r === "object" &&
        r !== null &&
        (r as { eventSource?: unknown }).eventSource === SQS_EVENT_SOURCE,
    )
  );
}

/**
 * Reads each record of a batch on its own: one malformed record is its own problem, never the
 * batch's. A record's problems are one line each, naming the record and the field. A record
 * without a usable messageId cannot be named in the answer; it is a problem of the whole batch.
 */
export function readBatch(batch: { Records: unknown[] }): BatchRecord[] {
  return batch.Records.map((raw, index) => {
    const { messageId, body } = raw as { messageId?: unknown; body?: unknown };
    if (typeof messageId !== "string" || messageId.length === 0 || messageId.length > 128) {
      throw new ConfigError([`event.Records[${index}].messageId: must be the SQS message id`]);
    }
    const at = `record ${messageId}`;
    if (typeof body !== "string") return { messageId, problems: [`${at}: body: must be a string`] };
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return { messageId, problems: [`${at}: body: must be the EventBridge event as JSON`] };
    }
    try {
      return { messageId, event: parseRealtimeEvent(parsed) };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // The body is the event: its fields are named as the direct path names them (`event.detail…`).
      return { messageId, problems: error.issues.map((issue) => `${at}: ${issue}`) };
    }
  });
}
