import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  InternalErrorException,
  InvalidParameterException,
  NotFoundException,
  PublishCommand,
  SNSClient,
  ThrottledException,
} from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_TOPIC_ARN, type SnsEmulator, startSnsEmulator } from "../../devtools/sns-emulator.js";

let sns: SnsEmulator;
let client: SNSClient;
const home = mkdtempSync(join(tmpdir(), "janitor-sns-cli-"));

beforeAll(async () => {
  sns = await startSnsEmulator();
  client = new SNSClient({
    endpoint: sns.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client?.destroy();
  await sns?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("the real SNS client", () => {
  it("publishes and reads back the MessageId the endpoint recorded", async () => {
    const text = 'héllo <world> & "friends"\nsecond line';
    const answer = await client.send(
      new PublishCommand({ TopicArn: DEFAULT_TOPIC_ARN, Subject: "hi", Message: text }),
    );
    const recorded = sns.published().at(-1);
    expect(answer.MessageId).toBe(recorded?.messageId);
    expect(recorded).toMatchObject({ topicArn: DEFAULT_TOPIC_ARN, subject: "hi", message: text });
  });

  it("accepts a message of exactly 262,144 bytes", async () => {
    const message = `${"€".repeat(87_381)}x`;
    expect(Buffer.byteLength(message)).toBe(262_144);
    await client.send(new PublishCommand({ TopicArn: DEFAULT_TOPIC_ARN, Message: message }));
    expect(sns.published().at(-1)?.message).toBe(message);
  });

  it.each([
    {
      name: "a message one byte over 256 KB",
      input: { TopicArn: DEFAULT_TOPIC_ARN, Message: "x".repeat(262_145) },
      error: InvalidParameterException,
      status: 400,
    },
    {
      name: "a subject with a line break",
      input: { TopicArn: DEFAULT_TOPIC_ARN, Subject: "a\nb", Message: "m" },
      error: InvalidParameterException,
      status: 400,
    },
    {
      name: "a subject over 100 characters",
      input: { TopicArn: DEFAULT_TOPIC_ARN, Subject: "s".repeat(101), Message: "m" },
      error: InvalidParameterException,
      status: 400,
    },
    {
      name: "an unknown topic",
      input: { TopicArn: `${DEFAULT_TOPIC_ARN}-nope`, Message: "m" },
      error: NotFoundException,
      status: 404,
    },
  ])("refuses $name with the modeled error", async ({ input, error, status }) => {
    const before = sns.published().length;
    const failure = await client.send(new PublishCommand(input)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(error);
    expect((failure as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(status);
    expect(sns.published().length).toBe(before);
  });

  it.each([
    { faults: { throttle: 1 }, error: ThrottledException, status: 429 },
    { faults: { internalError: 1 }, error: InternalErrorException, status: 500 },
  ])("answers injected faults as the service would ($status)", async ({ faults, error, status }) => {
    sns.setFaults(faults);
    const failure = await client
      .send(new PublishCommand({ TopicArn: DEFAULT_TOPIC_ARN, Message: "m" }))
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(error);
    expect((failure as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(status);
    // One fault each: the next publish goes through.
    await expect(
      client.send(new PublishCommand({ TopicArn: DEFAULT_TOPIC_ARN, Message: "m" })),
    ).resolves.toBeDefined();
  });
});

describe("the AWS CLI", () => {
  const aws = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "aws",
        ["sns", "publish", "--endpoint-url", sns.endpoint, "--output", "json", ...args],
        {
          env: {
            PATH: process.env.PATH ?? "",
            HOME: home,
            AWS_ACCESS_KEY_ID: "local",
            AWS_SECRET_ACCESS_KEY: "local",
            AWS_DEFAULT_REGION: "us-east-1",
            AWS_PAGER: "",
          },
          timeout: 60_000,
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      );
    });

  it("publishes with aws sns publish --endpoint-url", async () => {
    const result = await aws([
      "--topic-arn",
      DEFAULT_TOPIC_ARN,
      "--subject",
      "from the cli",
      "--message",
      "ünïcode ok",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const { MessageId } = JSON.parse(result.stdout) as { MessageId: string };
    expect(sns.published().at(-1)).toMatchObject({
      messageId: MessageId,
      subject: "from the cli",
      message: "ünïcode ok",
    });
  }, 60_000);

  it("shows the endpoint's error code and message", async () => {
    const result = await aws(["--topic-arn", `${DEFAULT_TOPIC_ARN}-nope`, "--message", "m"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("(NotFound)");
    expect(result.stderr).toContain("Topic does not exist");
  }, 60_000);
});
