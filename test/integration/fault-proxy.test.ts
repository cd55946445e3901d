import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import {
  CancelHandshakeCommand,
  ListHandshakesForOrganizationCommand,
  OrganizationsClient,
} from "@aws-sdk/client-organizations";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  dynamoDbServerError,
  dynamoDbThrottle,
  type FaultProxy,
  type FaultRule,
  startFaultProxy,
} from "../../devtools/fault-proxy.js";
import { type OrganizationsEmulator, startOrganizationsEmulator } from "../../devtools/org-emulator/index.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { isRetryableDynamoDbError } from "../../src/aws/audit/index.js";
import { isRetryable } from "../../src/aws/errors.js";

// The emulator is the target: forwarding is checked on Organizations calls, and the DynamoDB-shaped
// faults are answered by the proxy itself, so no DynamoDB server is needed to see what the SDK
// makes of them.
let org: OrganizationsEmulator;
let proxy: FaultProxy | undefined;
const clients: { destroy(): void }[] = [];

beforeAll(async () => {
  org = await startOrganizationsEmulator({ handshakes: sampleOrganization(new Date(), { seed: 31 }) });
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy?.stop();
  proxy = undefined;
});
afterAll(async () => {
  await org?.stop();
});

const credentials = { accessKeyId: "local", secretAccessKey: "local" };

function organizations(endpoint: string, requestTimeout = 5_000): OrganizationsClient {
  const client = new OrganizationsClient({
    region: "us-east-1",
    endpoint,
    credentials,
    maxAttempts: 1,
    requestHandler: { requestTimeout, throwOnRequestTimeout: true },
  });
  clients.push(client);
  return client;
}

function dynamodb(endpoint: string): DynamoDBClient {
  const client = new DynamoDBClient({ region: "us-east-1", endpoint, credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}

async function start(rules: FaultRule[] = []): Promise<FaultProxy> {
  proxy = await startFaultProxy({ target: org.endpoint, rules });
  return proxy;
}

const putAction = (sk: string) =>
  new PutItemCommand({ TableName: "audit", Item: { pk: { S: "RUN#r" }, sk: { S: sk } } });

function openId(): string {
  const open = org.handshakes().find((h) => h.State === "OPEN" || h.State === "REQUESTED");
  if (!open) throw new Error("the sample organization has no open handshake left");
  return open.Id;
}

describe("fault proxy", () => {
  test("forwards a request no rule matches and returns the answer untouched", async () => {
    const { endpoint } = await start();

    const [direct, proxied] = await Promise.all([
      organizations(org.endpoint).send(new ListHandshakesForOrganizationCommand({ MaxResults: 5 })),
      organizations(endpoint).send(new ListHandshakesForOrganizationCommand({ MaxResults: 5 })),
    ]);

    expect(proxied.Handshakes).toEqual(direct.Handshakes);
    expect(proxy?.stats().requests["AWSOrganizationsV20161128.ListHandshakesForOrganization"]).toBe(1);
  });

  test.each([
    ["a DynamoDB throttle", dynamoDbThrottle(), "ProvisionedThroughputExceededException", 400],
    ["a DynamoDB server error", dynamoDbServerError(), "InternalServerError", 500],
  ])(
    "answers a matched target with %s that the SDK names and the store retries",
    async (_label, fault, name, status) => {
      const { endpoint } = await start([{ targets: ["DynamoDB_20120810.PutItem"], fault }]);

      const error = await dynamodb(endpoint)
        .send(putAction("ACTION#h-1"))
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ name, $metadata: { httpStatusCode: status } });
      expect(isRetryableDynamoDbError(error)).toBe(true);
    },
  );

  test("matches on the target and a piece of the body, at most `times` times", async () => {
    const { endpoint } = await start([
      {
        targets: ["DynamoDB_20120810.PutItem"],
        bodyIncludes: '"ACTION#',
        fault: dynamoDbThrottle(),
        times: 2,
      },
    ]);
    const client = dynamodb(endpoint);
    const outcome = (command: PutItemCommand | UpdateItemCommand) =>
      client.send(command as PutItemCommand).then(
        () => "answered",
        (e: Error) => e.name,
      );

    // Not matched, so forwarded: the emulator refuses a DynamoDB operation as unknown.
    const run = await outcome(putAction("RUN"));
    const update = await outcome(
      new UpdateItemCommand({
        TableName: "audit",
        Key: { sk: { S: "ACTION#h-1" } },
        UpdateExpression: "SET a = b",
      }),
    );
    const matched = [
      await outcome(putAction("ACTION#h-1")),
      await outcome(putAction("ACTION#h-2")),
      await outcome(putAction("ACTION#h-3")),
    ];

    expect(run).toBe("UnknownOperationException");
    expect(update).toBe("UnknownOperationException");
    expect(matched).toEqual([
      "ProvisionedThroughputExceededException",
      "ProvisionedThroughputExceededException",
      "UnknownOperationException",
    ]);
    expect(proxy?.stats().faults["DynamoDB_20120810.PutItem"]).toEqual({ error: 2 });
  });

  test("a reset before forwarding: the client sees a retryable network error, the server saw nothing", async () => {
    const { endpoint } = await start([{ fault: { kind: "reset" } }]);
    org.resetStats();
    const id = openId();

    const error = await organizations(endpoint)
      .send(new CancelHandshakeCommand({ HandshakeId: id }))
      .catch((e: unknown) => e);

    expect(isRetryable(error)).toBe(true);
    expect(org.stats().CancelHandshake).toBeUndefined();
    expect(org.handshakes().find((h) => h.Id === id)?.State).not.toBe("CANCELED");
  });

  test("a lost answer: the request was carried out, the client sees a retryable network error", async () => {
    const { endpoint } = await start([{ fault: { kind: "lose-answer" } }]);
    const id = openId();

    const error = await organizations(endpoint)
      .send(new CancelHandshakeCommand({ HandshakeId: id }))
      .catch((e: unknown) => e);

    expect(isRetryable(error)).toBe(true);
    expect(org.handshakes().find((h) => h.Id === id)?.State).toBe("CANCELED");
  });

  test("a delay past the client's timeout: the client times out, the request still arrives later", async () => {
    let arrived: (operation: string) => void = () => {};
    const arrival = new Promise<string>((resolve) => {
      arrived = resolve;
    });
    const own = await startOrganizationsEmulator({
      handshakes: sampleOrganization(new Date(), { seed: 32 }),
      onResponse: (exchange) => arrived(exchange.operation),
    });
    try {
      proxy = await startFaultProxy({ target: own.endpoint, rules: [{ fault: { kind: "delay", ms: 400 } }] });
      const id = own.handshakes().find((h) => h.State === "OPEN")?.Id ?? "";

      const error = await organizations(proxy.endpoint, 100)
        .send(new CancelHandshakeCommand({ HandshakeId: id }))
        .catch((e: unknown) => e);
      const stateWhenTimedOut = own.handshakes().find((h) => h.Id === id)?.State;
      const operation = await arrival;

      expect(error).toMatchObject({ name: "TimeoutError" });
      expect(isRetryable(error)).toBe(true);
      expect(stateWhenTimedOut).toBe("OPEN");
      expect(operation).toBe("CancelHandshake");
      expect(own.handshakes().find((h) => h.Id === id)?.State).toBe("CANCELED");
    } finally {
      await own.stop();
    }
  });

  test("a rate below 1 faults some matching requests and forwards the rest, the same ones every time", async () => {
    const runOnce = async () => {
      const { endpoint } = await start([{ fault: dynamoDbThrottle(), rate: 0.5 }]);
      const client = dynamodb(endpoint);
      const names: string[] = [];
      for (let i = 0; i < 20; i += 1) {
        names.push(
          await client.send(putAction(`ACTION#h-${i}`)).then(
            () => "ok",
            (e: Error) => e.name,
          ),
        );
      }
      await proxy?.stop();
      return names;
    };

    const first = await runOnce();
    const second = await runOnce();

    const throttled = first.filter((n) => n === "ProvisionedThroughputExceededException").length;
    expect(throttled).toBeGreaterThan(0);
    expect(throttled).toBeLessThan(20);
    expect(second).toEqual(first);
  });

  test("rejects a rule with a rate outside 0..1", async () => {
    await expect(
      startFaultProxy({ target: org.endpoint, rules: [{ fault: { kind: "reset" }, rate: 2 }] }),
    ).rejects.toThrow("rules[0].rate");
  });
});
