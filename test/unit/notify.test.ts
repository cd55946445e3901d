import { describe, expect, it } from "vitest";
import { isRetryableSnsError, topicRegion } from "../../src/aws/sns.js";
import { ConfigError } from "../../src/domain/errors.js";
import type { DigestRun } from "../../src/notify/digest.js";
import { type NotifierPort, notifyRun } from "../../src/notify/notify.js";
import { loadSettings } from "../../src/settings.js";

const run: DigestRun = {
  runId: "run-1",
  status: "COMPLETED",
  dryRun: false,
  trigger: "cli",
  actor: "alice",
  counts: { CANCELED: 1 },
  replayed: false,
  actions: [
    {
      handshakeId: "h-0000000001",
      outcome: "CANCELED",
      ruleId: "r",
      matchedRules: ["r"],
      action: "INVITE",
      target: "a@gmail.com",
      reason: "denied",
      attempts: 1,
    },
  ],
};

function recorder(fail?: Error) {
  const sent: { subject: string; message: string }[] = [];
  const notifier: NotifierPort = {
    async publish(message) {
      sent.push(message);
      if (fail) throw fail;
      return { messageId: "m-1" };
    },
  };
  return { sent, notifier };
}

describe("notifyRun", () => {
  it("publishes one message for a run with news", async () => {
    const { sent, notifier } = recorder();
    const result = await notifyRun(run, { notifier, audit: { recordNotifyFailure: async () => {} } });
    expect(result).toMatchObject({
      published: true,
      messageId: "m-1",
      subject: "handshake-janitor: 1 canceled",
    });
    expect(sent).toHaveLength(1);
  });

  it("publishes nothing for a run without news", async () => {
    const { sent, notifier } = recorder();
    const quiet = {
      ...run,
      counts: { EXEMPTED: 1 },
      actions: run.actions.map((a) => ({ ...a, outcome: "EXEMPTED" as const })),
    };
    expect(await notifyRun(quiet, { notifier, audit: { recordNotifyFailure: async () => {} } })).toEqual({
      published: false,
      reason: "no news",
    });
    expect(sent).toHaveLength(0);
  });

  it("turns a failed publish into a record on the run and a report, never an exception", async () => {
    const { notifier } = recorder(
      Object.assign(new Error("Rate exceeded for x@corp.example"), { name: "ThrottledException" }),
    );
    const recorded: [string, string][] = [];
    const failures: string[] = [];
    const result = await notifyRun(run, {
      notifier,
      audit: { recordNotifyFailure: async (runId, error) => void recorded.push([runId, error]) },
      onFailure: (error) => failures.push(error),
    });
    const error = "ThrottledException: Rate exceeded for x***@corp.example";
    expect(result).toEqual({ published: false, reason: "failed", error });
    expect(recorded).toEqual([["run-1", error]]);
    expect(failures).toEqual([error]);
  });

  it("survives a store that cannot record the failure either", async () => {
    const { notifier } = recorder(new Error("down"));
    const result = await notifyRun(run, {
      notifier,
      audit: {
        recordNotifyFailure: async () => {
          throw new Error("table gone");
        },
      },
    });
    expect(result).toMatchObject({ published: false, reason: "failed" });
  });
});

describe("NOTIFY_TOPIC_ARN", () => {
  it.each([
    { value: undefined, expected: undefined },
    { value: "", expected: undefined },
    {
      value: " arn:aws:sns:eu-west-1:123456789012:team-topic ",
      expected: "arn:aws:sns:eu-west-1:123456789012:team-topic",
    },
    {
      value: "arn:aws-us-gov:sns:us-gov-west-1:123456789012:t",
      expected: "arn:aws-us-gov:sns:us-gov-west-1:123456789012:t",
    },
  ])("$value is accepted as $expected", ({ value, expected }) => {
    expect(loadSettings(value === undefined ? {} : { NOTIFY_TOPIC_ARN: value }).notifyTopicArn).toBe(
      expected,
    );
  });

  it.each([
    "arn:aws:sqs:us-east-1:123456789012:queue",
    "arn:aws:sns:us-east-1:12345:short-account",
    "arn:aws:sns:us-east-1:123456789012:topic.fifo",
    "topic-name",
  ])("%s is refused with one line naming the variable", (value) => {
    const error = (() => {
      try {
        loadSettings({ NOTIFY_TOPIC_ARN: value });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toHaveLength(1);
    expect((error as ConfigError).issues[0]).toMatch(/^NOTIFY_TOPIC_ARN: /);
  });

  it("gives the topic's region for the client", () => {
    expect(topicRegion("arn:aws:sns:eu-central-1:123456789012:t")).toBe("eu-central-1");
    expect(topicRegion("nonsense")).toBeUndefined();
  });
});

describe("isRetryableSnsError", () => {
  const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });
  it.each([
    { error: named("TimeoutError"), retry: true },
    { error: named("Error", { code: "ECONNRESET" }), retry: true },
    { error: named("SomethingNew", { $metadata: { httpStatusCode: 503 } }), retry: true },
    { error: named("InvalidParameterException", { $metadata: { httpStatusCode: 400 } }), retry: false },
    { error: named("AuthorizationErrorException", { $metadata: { httpStatusCode: 403 } }), retry: false },
    { error: "not an error", retry: false },
  ])("$error.name: retry $retry", ({ error, retry }) => {
    expect(isRetryableSnsError(error)).toBe(retry);
  });
});
