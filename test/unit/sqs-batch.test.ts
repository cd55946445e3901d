import { describe, expect, test } from "vitest";
import { deliverFifo, queuedMessage, sqsBatchEvent } from "../../devtools/fifo-delivery.js";
import { isSqsBatch, readBatch } from "../../src/handlers/sqs-batch.js";

const invitation = {
  version: "0",
  id: "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "AWS API Call via CloudTrail",
  source: "aws.organizations",
  detail: {
    eventSource: "organizations.amazonaws.com",
    eventName: "InviteAccountToOrganization",
    userIdentity: { type: "IAMUser", principalId: "AIDAEXAMPLE", arn: "arn:aws:iam::123456789012:user/ops" },
    responseElements: { handshake: { id: "h-0123456789abcdef0123456789abcdef" } },
  },
};

describe("isSqsBatch", () => {
  test.each([
    ["a batch from SQS", sqsBatchEvent([queuedMessage(invitation, "m-1")]), true],
    ["an EventBridge event handed over directly", invitation, false],
    ["records from another source", { Records: [{ eventSource: "aws:s3" }] }, false],
    ["no records", { Records: [] }, false],
    ["not an object", "Records", false],
  ])("%s: %s", (_name, event, expected) => {
    expect(isSqsBatch(event)).toBe(expected);
  });
});

describe("readBatch", () => {
  test("reads each record on its own: an invitation, and one line per problem of a malformed one", () => {
    const batch = sqsBatchEvent([
      queuedMessage(invitation, "m-good"),
      queuedMessage({ ...invitation, id: "bad id!" }, "m-bad-id"),
    ]);

    const records = readBatch(batch);

    expect(records[0]).toMatchObject({
      messageId: "m-good",
      event: { kind: "invite", runId: `event-${invitation.id}` },
    });
    expect(records[1]).toEqual({
      messageId: "m-bad-id",
      problems: ["record m-bad-id: event.id: must be the EventBridge event id (letters, digits, '-')"],
    });
  });

  test("names a body that is not JSON", () => {
    const [record] = sqsBatchEvent([queuedMessage(invitation, "m-text")]).Records;
    expect(readBatch({ Records: [{ ...record, body: "invitation" }] })).toEqual([
      { messageId: "m-text", problems: ["record m-text: body: must be the EventBridge event as JSON"] },
    ]);
  });

  test("rejects the batch when a record has no message id to answer by", () => {
    expect(() => readBatch({ Records: [{ eventSource: "aws:sqs", body: "{}" }] })).toThrow(
      "event.Records[0].messageId: must be the SQS message id",
    );
  });
});

describe("the FIFO delivery loop", () => {
  test("hands batches of up to ten one at a time, failed records first again, dead-lettered after three receives", async () => {
    const messages = Array.from({ length: 12 }, (_, i) => queuedMessage({ n: i }, `m-${i}`));
    const seen: string[][] = [];
    let inFlight = 0;
    let most = 0;

    const result = await deliverFifo(messages, async (batch) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      seen.push(batch.Records.map((r) => r.messageId));
      await Promise.resolve();
      inFlight -= 1;
      return {
        batchItemFailures: batch.Records.filter((r) => r.messageId === "m-3").map((r) => ({
          itemIdentifier: r.messageId,
        })),
      };
    });

    expect(most).toBe(1);
    expect(seen).toEqual([
      ["m-0", "m-1", "m-2", "m-3", "m-4", "m-5", "m-6", "m-7", "m-8", "m-9"],
      ["m-3", "m-10", "m-11"],
      ["m-3"],
    ]);
    expect(result.deadLettered.map((m) => m.messageId)).toEqual(["m-3"]);
  });

  test("sends the whole batch back when the handler throws or names a record not in it", async () => {
    const messages = [queuedMessage({}, "m-a"), queuedMessage({}, "m-b")];
    const answers = [
      async () => {
        throw new Error("function error");
      },
      async () => ({ batchItemFailures: [{ itemIdentifier: "m-elsewhere" }] }),
      async () => null,
    ];

    const result = await deliverFifo(messages, () => (answers.shift() ?? (async () => null))());

    expect(result.deliveries.map((d) => d.failed)).toEqual([["m-a", "m-b"], ["m-a", "m-b"], []]);
    expect(result.deadLettered).toEqual([]);
  });
});
