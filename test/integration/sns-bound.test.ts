import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { DEFAULT_TOPIC_ARN } from "../../devtools/sns-emulator.js";
import { LOCAL_CREDENTIALS } from "../../devtools/stack-env.js";
import { createSnsNotifier, NotifyError } from "../../src/aws/sns.js";
import { runCli, type Stack, stackEnv, startStack } from "../support/stack.js";

/**
 * SNS endpoints that never answer in full: one that accepts the connection and says nothing, one
 * that sends its headers and then a byte of body every 100 ms for ever (no socket timeout ends
 * that: the connection is never idle). A publish to either gives up within its bound, and a run
 * that publishes to one ends as it would have without a topic, the failure on its run item.
 */
type Behaviour = "hang" | "drip";

interface BadEndpoint {
  endpoint: string;
  stop(): Promise<void>;
}

async function badEndpoint(behaviour: Behaviour): Promise<BadEndpoint> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((_request, response: ServerResponse) => {
    if (behaviour === "hang") return;
    response.writeHead(200, { "content-type": "text/xml" });
    response.write("<PublishResponse>");
    const timer = setInterval(() => response.write(" "), 100);
    timers.add(timer);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let hang: BadEndpoint;
let drip: BadEndpoint;
let stack: Stack;

beforeAll(async () => {
  [hang, drip, stack] = await Promise.all([
    badEndpoint("hang"),
    badEndpoint("drip"),
    startStack(sampleOrganization(new Date())),
  ]);
});
afterAll(async () => {
  await Promise.all([hang?.stop(), drip?.stop(), stack?.stop()]);
});

function notifierAt(endpoint: string, boundMs: number) {
  const client = new SNSClient({
    endpoint,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
  });
  return { client, notifier: createSnsNotifier({ client, topicArn: DEFAULT_TOPIC_ARN, boundMs }) };
}

async function timed(publish: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  const error = await publish.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  return { ms: Date.now() - started, error };
}

describe("a publish to an endpoint that never answers in full", () => {
  it.each(["hang", "drip"] as const)(
    "gives up within its bound when the endpoint does %s",
    async (behaviour) => {
      const { client, notifier } = notifierAt(behaviour === "hang" ? hang.endpoint : drip.endpoint, 600);
      try {
        const { ms, error } = await timed(notifier.publish({ subject: "s", message: "m" }));

        expect(error).toBeInstanceOf(NotifyError);
        expect((error as Error).message).toBe("SNS Publish gave up: no answer within 600 ms");
        // Within the bound, and long before the 10 s request timeout, which a drip never reaches.
        expect(ms).toBeGreaterThanOrEqual(550);
        expect(ms).toBeLessThan(5_000);
      } finally {
        client.destroy();
      }
    },
  );

  it("gives up by the caller's deadline when that comes first", async () => {
    const { client, notifier } = notifierAt(drip.endpoint, 60_000);
    try {
      const { error } = await timed(
        notifier.publish({ subject: "s", message: "m" }, { deadline: Date.now() + 400 }),
      );

      expect((error as Error).message).toMatch(/^SNS Publish gave up: no answer within (39\d|400) ms$/);
    } finally {
      client.destroy();
    }
  });
});

describe("a run whose topic's endpoint drips", () => {
  it("ends with the exit code the run earns, its summary printed and the failure on its run item", async () => {
    const env = {
      ...stackEnv(stack.org, stack.db, await stack.newTable()),
      NOTIFY_TOPIC_ARN: DEFAULT_TOPIC_ARN,
      AWS_ENDPOINT_URL_SNS: drip.endpoint,
    };

    const run = await runCli(["run", "--config", DEMO_CONFIG, "--json", "--run-id", "drip-run"], env);
    const runs = await runCli(["audit", "runs", "--format", "json"], env);

    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).runId).toBe("drip-run");
    const recorded = runs.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { runId: string; notifyError?: string });
    expect(recorded.find((r) => r.runId === "drip-run")?.notifyError).toMatch(
      /^NotifyError: SNS Publish gave up: no answer within \d+ ms$/,
    );
  }, 60_000);
});
