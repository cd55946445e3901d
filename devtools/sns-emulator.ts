/**
 * A local Amazon SNS endpoint for the demo and the tests: just `Publish`, spoken in the real
 * awsQuery protocol (a form-encoded POST in, XML out), so the unmodified `@aws-sdk/client-sns`
 * and the AWS CLI reach it with nothing but an endpoint override (AWS_ENDPOINT_URL_SNS or
 * `--endpoint-url`). It checks what the service checks for a publish (known topic, subject,
 * message size), records every message it accepts, and can misbehave on purpose: throttle
 * (ThrottledException, HTTP 429 as the service model says), fail (InternalError, 500) or be down
 * (the connection is dropped). It listens on 127.0.0.1 only.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

const XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/";
const API_VERSION = "2010-03-31";
/** SNS's limit on a message: 256 KB of its UTF-8 encoding. */
export const SNS_MESSAGE_MAX_BYTES = 262_144;
/** A form-encoded 256 KB message can take three times that as %XX; anything far past it is refused. */
const BODY_MAX_BYTES = 4 * 1024 * 1024;

export const DEFAULT_TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:handshake-janitor-notify";

export interface PublishedMessage {
  messageId: string;
  topicArn: string;
  subject?: string;
  message: string;
  at: string;
}

export interface SnsFaults {
  /** Answer this many publishes (or every one) with ThrottledException. */
  throttle?: number | "all";
  /** Answer this many publishes with InternalError (HTTP 500). */
  internalError?: number;
  /** Drop every connection without an answer, as an unreachable endpoint would. */
  down?: boolean;
}

export interface SnsEmulator {
  endpoint: string;
  topicArns: readonly string[];
  /** Every message accepted, in order. */
  published(): readonly PublishedMessage[];
  /** Publish requests received, accepted or not. */
  requests(): number;
  setFaults(faults: SnsFaults): void;
  stop(): Promise<void>;
}

class SnsFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly type: "Sender" | "Receiver",
    message: string,
  ) {
    super(message);
  }
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** SNS: a subject is 1-100 printable ASCII characters, no line breaks. */
function subjectProblem(subject: string): string | undefined {
  if (subject.length === 0) return "Subject must not be empty";
  if (subject.length > 100) return "Subject must be at most 100 characters";
  if (!/^[\x20-\x7e]+$/.test(subject))
    return "Subject must be ASCII text that begins with a letter, number, or punctuation mark; must not include line breaks or control characters";
  return undefined;
}

export async function startSnsEmulator(
  options: { topicArns?: readonly string[]; faults?: SnsFaults } = {},
): Promise<SnsEmulator> {
  const topicArns = options.topicArns ?? [DEFAULT_TOPIC_ARN];
  const messages: PublishedMessage[] = [];
  let faults: SnsFaults = { ...options.faults };
  let requestCount = 0;
  const sockets = new Set<Socket>();

  function publish(params: URLSearchParams): string {
    requestCount += 1;
    if (faults.throttle === "all" || (typeof faults.throttle === "number" && faults.throttle > 0)) {
      if (typeof faults.throttle === "number") faults.throttle -= 1;
      throw new SnsFault(429, "Throttled", "Sender", "Rate exceeded");
    }
    if ((faults.internalError ?? 0) > 0) {
      faults.internalError = (faults.internalError ?? 0) - 1;
      throw new SnsFault(500, "InternalError", "Receiver", "Internal error");
    }
    const topicArn = params.get("TopicArn");
    const message = params.get("Message");
    const subject = params.get("Subject");
    if (topicArn === null && params.get("TargetArn") === null && params.get("PhoneNumber") === null) {
      throw new SnsFault(
        400,
        "InvalidParameter",
        "Sender",
        "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
      );
    }
    if (topicArn === null)
      throw new SnsFault(400, "InvalidParameter", "Sender", "Invalid parameter: only topics are served here");
    if (message === null || message === "") {
      throw new SnsFault(400, "InvalidParameter", "Sender", "Invalid parameter: Empty message");
    }
    if (Buffer.byteLength(message, "utf8") > SNS_MESSAGE_MAX_BYTES) {
      throw new SnsFault(400, "InvalidParameter", "Sender", "Invalid parameter: Message too long");
    }
    if (subject !== null) {
      const problem = subjectProblem(subject);
      if (problem) throw new SnsFault(400, "InvalidParameter", "Sender", `Invalid parameter: ${problem}`);
    }
    if (!topicArns.includes(topicArn)) throw new SnsFault(404, "NotFound", "Sender", "Topic does not exist");
    const messageId = randomUUID();
    messages.push({
      messageId,
      topicArn,
      ...(subject === null ? {} : { subject }),
      message,
      at: new Date().toISOString(),
    });
    return messageId;
  }

  function answer(response: ServerResponse, status: number, body: string, requestId: string): void {
    response.writeHead(status, {
      "content-type": "text/xml",
      "x-amzn-requestid": requestId,
      "content-length": Buffer.byteLength(body),
    });
    response.end(body);
  }

  function handle(request: IncomingMessage, body: string, response: ServerResponse): void {
    const requestId = randomUUID();
    try {
      if (request.method !== "POST")
        throw new SnsFault(400, "InvalidAction", "Sender", "Only POST is served");
      const params = new URLSearchParams(body);
      if (params.get("Version") !== API_VERSION) {
        throw new SnsFault(
          400,
          "InvalidParameter",
          "Sender",
          `Invalid parameter: Version must be ${API_VERSION}`,
        );
      }
      const action = params.get("Action");
      if (action !== "Publish") {
        throw new SnsFault(
          400,
          "InvalidAction",
          "Sender",
          `Could not find operation ${xmlEscape(action ?? "")}`,
        );
      }
      const messageId = publish(params);
      answer(
        response,
        200,
        `<PublishResponse xmlns="${XMLNS}"><PublishResult><MessageId>${messageId}</MessageId></PublishResult>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
        requestId,
      );
    } catch (error) {
      const fault =
        error instanceof SnsFault ? error : new SnsFault(500, "InternalError", "Receiver", "Internal error");
      answer(
        response,
        fault.status,
        `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${fault.type}</Type><Code>${fault.code}</Code>` +
          `<Message>${xmlEscape(fault.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        requestId,
      );
    }
  }

  const server = createServer((request, response) => {
    if (faults.down) {
      request.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_MAX_BYTES) {
        request.socket.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (size <= BODY_MAX_BYTES) handle(request, Buffer.concat(chunks).toString("utf8"), response);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    topicArns,
    published: () => [...messages],
    requests: () => requestCount,
    setFaults(next) {
      faults = { ...next };
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
