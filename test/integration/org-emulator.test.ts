import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import {
  CancelHandshakeCommand,
  ConcurrentModificationException,
  DescribeHandshakeCommand,
  DescribeOrganizationCommand,
  DuplicateHandshakeException,
  type Handshake,
  HandshakeAlreadyInStateException,
  HandshakeNotFoundException,
  InvalidHandshakeTransitionException,
  InvalidInputException,
  InviteAccountToOrganizationCommand,
  ListAccountsCommand,
  ListHandshakesForOrganizationCommand,
  OrganizationsClient,
  OrganizationsServiceException,
  paginateListHandshakesForOrganization,
  ServiceException,
  TooManyRequestsException,
} from "@aws-sdk/client-organizations";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ACTION_TYPES,
  DEFAULT_ORGANIZATION,
  type EmulatorExchange,
  type EmulatorHandshake,
  HANDSHAKE_PARTY_TYPES,
  HANDSHAKE_RESOURCE_TYPES,
  HANDSHAKE_STATES,
  OPERATION_ERRORS,
  OPERATIONS,
  type OperationName,
  type OrganizationsEmulator,
  PROTOCOL_ERRORS,
  startOrganizationsEmulator,
  TARGET_PREFIX,
} from "../../devtools/org-emulator/index.js";
import { largeOrganization, sampleOrganization } from "../../devtools/sample-org.js";

// The service model as botocore publishes it (test/fixtures/aws/README.md).
const MODEL_DIR = new URL("../fixtures/aws/organizations/", import.meta.url);

interface ShapeRef {
  shape: string;
}
interface Shape {
  type: string;
  members?: Record<string, ShapeRef>;
  required?: string[];
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  enum?: string[];
  pattern?: string;
  min?: number;
  max?: number;
  exception?: boolean;
  fault?: boolean;
}
interface ModelOperation {
  input?: ShapeRef;
  output?: ShapeRef;
  errors?: ShapeRef[];
}
interface ServiceModel {
  metadata: { protocol: string; jsonVersion: string; targetPrefix: string };
  operations: Record<string, ModelOperation>;
  shapes: Record<string, Shape>;
}
interface Paginator {
  input_token: string;
  output_token: string;
  limit_key: string;
  result_key: string;
}

const model = JSON.parse(readFileSync(new URL("service-2.json", MODEL_DIR), "utf8")) as ServiceModel;
const paginators = JSON.parse(readFileSync(new URL("paginators-1.json", MODEL_DIR), "utf8")) as {
  pagination: Record<string, Paginator>;
};

const NOW = new Date("2026-03-02T09:30:00.250Z");
const MAX_PAGES = 500;
const execFileAsync = promisify(execFile);

function shape(name: string): Shape {
  const found = model.shapes[name];
  if (found === undefined) throw new Error(`shape ${name} is not in the model`);
  return found;
}

function modelErrors(operation: string): string[] {
  return (model.operations[operation]?.errors ?? []).map((ref) => ref.shape);
}

/**
 * Problems of `value` as an instance of the botocore shape `name`, as awsJson1_1 puts it on the
 * wire (timestamps as epoch seconds). Stricter than a client: members the shape does not
 * declare, nulls and enum values the model does not list are problems too.
 */
function validate(name: string, value: unknown, path = "$"): string[] {
  const problems: string[] = [];
  const visit = (shapeName: string, node: unknown, at: string): void => {
    const s = model.shapes[shapeName];
    if (s === undefined) {
      problems.push(`${at}: shape ${shapeName} is not in the model`);
      return;
    }
    const bounds = (size: number, what: string) => {
      if (s.min !== undefined && size < s.min) problems.push(`${at}: ${what} ${size} < min ${s.min}`);
      if (s.max !== undefined && size > s.max) problems.push(`${at}: ${what} ${size} > max ${s.max}`);
    };
    switch (s.type) {
      case "structure": {
        if (typeof node !== "object" || node === null || Array.isArray(node)) {
          problems.push(`${at}: ${shapeName} must be an object`);
          return;
        }
        const record = node as Record<string, unknown>;
        for (const key of s.required ?? []) {
          if (record[key] === undefined) problems.push(`${at}.${key}: required by ${shapeName}`);
        }
        for (const [key, child] of Object.entries(record)) {
          const member = s.members?.[key];
          if (member === undefined) problems.push(`${at}.${key}: not a member of ${shapeName}`);
          else if (child === null) problems.push(`${at}.${key}: null`);
          else if (child !== undefined) visit(member.shape, child, `${at}.${key}`);
        }
        return;
      }
      case "list": {
        if (!Array.isArray(node) || s.member === undefined) {
          problems.push(`${at}: ${shapeName} must be an array`);
          return;
        }
        bounds(node.length, "length");
        for (const [index, item] of node.entries()) visit(s.member.shape, item, `${at}[${index}]`);
        return;
      }
      case "map": {
        if (typeof node !== "object" || node === null || Array.isArray(node) || !s.key || !s.value) {
          problems.push(`${at}: ${shapeName} must be an object`);
          return;
        }
        for (const [key, child] of Object.entries(node)) {
          visit(s.key.shape, key, `${at}{${key}}`);
          visit(s.value.shape, child, `${at}.${key}`);
        }
        return;
      }
      case "string": {
        if (typeof node !== "string") {
          problems.push(`${at}: ${shapeName} must be a string`);
          return;
        }
        if (s.enum !== undefined && !s.enum.includes(node)) {
          problems.push(`${at}: ${node} is not in ${shapeName}`);
        }
        if (s.pattern !== undefined && !modelRegExp(s.pattern).test(node)) {
          problems.push(`${at}: ${JSON.stringify(node)} does not match ${shapeName} ${s.pattern}`);
        }
        bounds(node.length, "length");
        return;
      }
      case "integer":
      case "long":
        if (typeof node !== "number" || !Number.isInteger(node)) {
          problems.push(`${at}: ${shapeName} must be an integer`);
        } else bounds(node, "value");
        return;
      case "float":
      case "double":
        if (typeof node !== "number" || !Number.isFinite(node)) {
          problems.push(`${at}: ${shapeName} must be a number`);
        }
        return;
      case "boolean":
        if (typeof node !== "boolean") problems.push(`${at}: ${shapeName} must be a boolean`);
        return;
      case "timestamp":
        if (typeof node !== "number" || !Number.isFinite(node)) {
          problems.push(`${at}: ${shapeName} must be epoch seconds (a number)`);
        }
        return;
      case "blob":
        if (typeof node !== "string") problems.push(`${at}: ${shapeName} must be base64 text`);
        return;
      default:
        problems.push(`${at}: the validator does not know shape type ${s.type}`);
    }
  };
  visit(name, value, path);
  return problems;
}

function modelRegExp(pattern: string): RegExp {
  // Model patterns are ECMA-262-compatible and may use \p{…}, which needs the u flag.
  try {
    return new RegExp(pattern, "u");
  } catch {
    return new RegExp(pattern);
  }
}

/** A model-shaped seed as it goes on the wire, for validating seeds without a server. */
function wireForm(h: EmulatorHandshake): Record<string, unknown> {
  return {
    ...h,
    RequestedTimestamp: h.RequestedTimestamp.getTime() / 1000,
    ExpirationTimestamp: h.ExpirationTimestamp.getTime() / 1000,
  };
}

function clientFor(endpoint: string): OrganizationsClient {
  return new OrganizationsClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
}

async function failure(call: Promise<unknown>): Promise<OrganizationsServiceException> {
  try {
    await call;
  } catch (error) {
    if (error instanceof OrganizationsServiceException) return error;
    throw error;
  }
  throw new Error("expected the call to fail, it succeeded");
}

async function rawCall(
  endpoint: string,
  target: string | undefined,
  body: string,
  authorized = true,
): Promise<{
  status: number;
  errorType: string | null;
  requestId: string | null;
  json: Record<string, unknown>;
}> {
  const headers: Record<string, string> = { "content-type": "application/x-amz-json-1.1" };
  if (target !== undefined) headers["x-amz-target"] = target;
  // Any value will do: the emulator checks presence, not signatures.
  if (authorized) {
    headers.authorization = "AWS4-HMAC-SHA256 Credential=test/20260302/us-east-1/organizations/aws4_request";
  }
  const response = await fetch(endpoint, { method: "POST", headers, body });
  return {
    status: response.status,
    errorType: response.headers.get("x-amzn-errortype"),
    requestId: response.headers.get("x-amzn-requestid"),
    json: (await response.json()) as Record<string, unknown>,
  };
}

async function listAll(
  client: OrganizationsClient,
  pageSize?: number,
): Promise<{ ids: string[]; pages: Handshake[][] }> {
  const pages: Handshake[][] = [];
  const paginator = paginateListHandshakesForOrganization(
    pageSize === undefined ? { client } : { client, pageSize },
    {},
  );
  for await (const page of paginator) {
    pages.push(page.Handshakes ?? []);
    if (pages.length > MAX_PAGES) throw new Error(`more than ${MAX_PAGES} pages: the paging does not end`);
  }
  return { ids: pages.flat().map((h) => h.Id ?? ""), pages };
}

function idsIn(emulator: OrganizationsEmulator, state?: string, action?: string): string[] {
  return emulator
    .handshakes()
    .filter(
      (h) => (state === undefined || h.State === state) && (action === undefined || h.Action === action),
    )
    .map((h) => h.Id);
}

function firstId(emulator: OrganizationsEmulator, state: string, action?: string): string {
  const id = idsIn(emulator, state, action)[0];
  if (id === undefined) throw new Error(`the seed has no ${state} ${action ?? ""} handshake left`);
  return id;
}

describe("organizations emulator through the AWS SDK", () => {
  let emulator: OrganizationsEmulator;
  let client: OrganizationsClient;

  beforeAll(async () => {
    emulator = await startOrganizationsEmulator({
      handshakes: sampleOrganization(NOW),
      seed: 7,
      now: () => NOW,
    });
    client = clientFor(emulator.endpoint);
  });
  afterEach(() => emulator.setFaults({}));
  afterAll(async () => {
    client.destroy();
    await emulator.stop();
  });

  it("listens on 127.0.0.1 with an ephemeral port", () => {
    expect(emulator.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emulator.port).toBeGreaterThan(0);
  });

  it("lists every handshake exactly once across short and empty pages", async () => {
    emulator.setFaults({ pageSize: 6, shortPages: true, emptyPageEvery: 3 });

    const { ids, pages } = await listAll(client);

    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(idsIn(emulator).sort());
    const emptyBeforeEnd = pages.slice(0, -1).filter((page) => page.length === 0);
    expect(emptyBeforeEnd.length).toBeGreaterThan(0);
    expect(pages.every((page) => page.length <= 6)).toBe(true);
    expect(pages.some((page) => page.length > 0 && page.length < 6)).toBe(true);
  });

  it("passes the paginator's page size as MaxResults", async () => {
    const { ids, pages } = await listAll(client, 4);

    expect(ids).toHaveLength(emulator.handshakes().length);
    expect(pages.every((page) => page.length <= 4)).toBe(true);
    expect(pages.filter((page) => page.length === 4).length).toBe(Math.floor(ids.length / 4));
  });

  it("caps a page at the pageSize fault even when MaxResults asks for more", async () => {
    emulator.setFaults({ pageSize: 2 });

    const page = await client.send(new ListHandshakesForOrganizationCommand({ MaxResults: 3 }));

    expect(page.Handshakes).toHaveLength(2);
    expect(page.NextToken).toEqual(expect.any(String));
  });

  it("filters by ActionType", async () => {
    const page = await client.send(
      new ListHandshakesForOrganizationCommand({ Filter: { ActionType: "TRANSFER_RESPONSIBILITY" } }),
    );

    const expected = idsIn(emulator, undefined, "TRANSFER_RESPONSIBILITY");
    expect(expected.length).toBeGreaterThan(0);
    expect((page.Handshakes ?? []).map((h) => h.Id).sort()).toEqual(expected.sort());
  });

  it("rejects a forged, garbled or foreign NextToken with InvalidInputException", async () => {
    const first = await client.send(new ListHandshakesForOrganizationCommand({ MaxResults: 2 }));
    const token = first.NextToken ?? "";
    const forged = `${token.slice(0, 5)}${token[5] === "A" ? "B" : "A"}${token.slice(6)}`;
    const filtered = await client.send(
      new ListHandshakesForOrganizationCommand({ MaxResults: 1, Filter: { ActionType: "INVITE" } }),
    );

    for (const bad of [forged, "not-a-token", filtered.NextToken ?? ""]) {
      const error = await failure(client.send(new ListHandshakesForOrganizationCommand({ NextToken: bad })));
      expect(error).toBeInstanceOf(InvalidInputException);
      expect((error as InvalidInputException).Reason).toBe("INVALID_NEXT_TOKEN");
      expect(error.$metadata.httpStatusCode).toBe(400);
    }
  });

  it.each(["OPEN", "REQUESTED"])("cancels a %s handshake", async (state) => {
    const id = firstId(emulator, state);

    const canceled = await client.send(new CancelHandshakeCommand({ HandshakeId: id }));

    expect(canceled.Handshake?.Id).toBe(id);
    expect(canceled.Handshake?.State).toBe("CANCELED");
    const seeded = sampleOrganization(NOW).find((h) => h.Id === id);
    expect(canceled.Handshake?.RequestedTimestamp).toEqual(seeded?.RequestedTimestamp);
    const described = await client.send(new DescribeHandshakeCommand({ HandshakeId: id }));
    expect(described.Handshake?.State).toBe("CANCELED");
  });

  it("answers HandshakeAlreadyInStateException for a canceled handshake", async () => {
    const error = await failure(
      client.send(new CancelHandshakeCommand({ HandshakeId: firstId(emulator, "CANCELED") })),
    );

    expect(error).toBeInstanceOf(HandshakeAlreadyInStateException);
    expect(error.name).toBe("HandshakeAlreadyInStateException");
    expect(error.$fault).toBe("client");
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it.each(["ACCEPTED", "DECLINED", "EXPIRED"])(
    "answers InvalidHandshakeTransitionException for a %s handshake and leaves it so",
    async (state) => {
      const id = firstId(emulator, state);

      const error = await failure(client.send(new CancelHandshakeCommand({ HandshakeId: id })));

      expect(error).toBeInstanceOf(InvalidHandshakeTransitionException);
      expect(error.$metadata.httpStatusCode).toBe(400);
      expect(emulator.handshakes().find((h) => h.Id === id)?.State).toBe(state);
    },
  );

  it("answers HandshakeNotFoundException for an id it does not know", async () => {
    const unknown = "h-0000000000000000";
    expect(idsIn(emulator)).not.toContain(unknown);

    const cancel = await failure(client.send(new CancelHandshakeCommand({ HandshakeId: unknown })));
    const describeError = await failure(client.send(new DescribeHandshakeCommand({ HandshakeId: unknown })));

    expect(cancel).toBeInstanceOf(HandshakeNotFoundException);
    expect(describeError).toBeInstanceOf(HandshakeNotFoundException);
  });

  it.each(["h-short", "h-ABCDEFGHIJ", "x-abcdefghij", "h-abcdefgh_ij", ""])(
    "answers InvalidInputException for the malformed id %j",
    async (id) => {
      const error = await failure(client.send(new CancelHandshakeCommand({ HandshakeId: id })));

      expect(error).toBeInstanceOf(InvalidInputException);
      expect((error as InvalidInputException).Reason).toBe("INVALID_PATTERN");
    },
  );

  it("has the target accept an acceptBeforeCancel handshake when the first cancel arrives", async () => {
    const [raced, other] = idsIn(emulator, "OPEN");
    emulator.setFaults({ acceptBeforeCancel: [raced ?? ""] });

    const error = await failure(client.send(new CancelHandshakeCommand({ HandshakeId: raced })));
    const again = await failure(client.send(new CancelHandshakeCommand({ HandshakeId: raced })));
    const unaffected = await client.send(new CancelHandshakeCommand({ HandshakeId: other }));

    expect(error).toBeInstanceOf(InvalidHandshakeTransitionException);
    expect(again).toBeInstanceOf(InvalidHandshakeTransitionException);
    const described = await client.send(new DescribeHandshakeCommand({ HandshakeId: raced }));
    expect(described.Handshake?.State).toBe("ACCEPTED");
    expect(unaffected.Handshake?.State).toBe("CANCELED");
  });

  it("reports a state set with mutate()", async () => {
    const id = firstId(emulator, "OPEN");

    emulator.mutate(id, "DECLINED");

    const described = await client.send(new DescribeHandshakeCommand({ HandshakeId: id }));
    expect(described.Handshake?.State).toBe("DECLINED");
    expect(() => emulator.mutate("h-0000000000000000", "OPEN")).toThrow(/no handshake/);
  });

  it("answers ServiceException with HTTP 500 and ConcurrentModificationException at rate 1", async () => {
    emulator.setFaults({ serviceExceptionRate: 1 });
    const service = await failure(client.send(new ListHandshakesForOrganizationCommand({})));
    emulator.setFaults({ concurrentModificationRate: 1 });
    const concurrent = await failure(client.send(new ListHandshakesForOrganizationCommand({})));
    const unaffected = await client.send(new DescribeOrganizationCommand({}));

    expect(service).toBeInstanceOf(ServiceException);
    expect(service.$fault).toBe("server");
    expect(service.$metadata.httpStatusCode).toBe(500);
    expect(concurrent).toBeInstanceOf(ConcurrentModificationException);
    expect(concurrent.$metadata.httpStatusCode).toBe(400);
    expect(unaffected.Organization?.Id).toBe(emulator.organization.Id);
  });

  it("drops the connection without an answer at resetConnectionRate 1", async () => {
    emulator.resetStats();
    emulator.setFaults({ resetConnectionRate: 1 });

    const error = await client.send(new ListHandshakesForOrganizationCommand({})).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(OrganizationsServiceException);
    expect(emulator.stats().ListHandshakesForOrganization?.resets).toBe(1);
  });

  it("invites an account by email with notes and then lists the OPEN INVITE handshake", async () => {
    const invited = await client.send(
      new InviteAccountToOrganizationCommand({
        Target: { Id: "new-team@dev.example.com", Type: "EMAIL" },
        Notes: "CHG-5150 new team",
      }),
    );

    const handshake = invited.Handshake;
    expect(handshake?.State).toBe("OPEN");
    expect(handshake?.Action).toBe("INVITE");
    expect(handshake?.RequestedTimestamp).toEqual(NOW);
    expect(handshake?.Parties).toEqual([
      { Id: emulator.organization.Id, Type: "ORGANIZATION" },
      { Id: "new-team@dev.example.com", Type: "EMAIL" },
    ]);
    const organization = handshake?.Resources?.find((r) => r.Type === "ORGANIZATION");
    expect(organization?.Resources?.map((r) => r.Type)).toEqual(
      expect.arrayContaining(["MASTER_EMAIL", "MASTER_NAME"]),
    );
    expect(handshake?.Resources?.find((r) => r.Type === "NOTES")?.Value).toBe("CHG-5150 new team");
    const { ids } = await listAll(client);
    expect(ids).toContain(handshake?.Id);
  });

  it("invites an account by id without notes, and refuses a duplicate", async () => {
    const invited = await client.send(
      new InviteAccountToOrganizationCommand({ Target: { Id: "999988887777", Type: "ACCOUNT" } }),
    );
    const duplicate = await failure(
      client.send(
        new InviteAccountToOrganizationCommand({ Target: { Id: "999988887777", Type: "ACCOUNT" } }),
      ),
    );

    expect(invited.Handshake?.Resources?.map((r) => r.Type)).toEqual(["ORGANIZATION", "ACCOUNT"]);
    expect(duplicate).toBeInstanceOf(DuplicateHandshakeException);
  });

  it.each([
    [{ Id: DEFAULT_ORGANIZATION.Id, Type: "ORGANIZATION" as const }, "INVALID_PARTY_TYPE_TARGET"],
    [{ Id: "12345", Type: "ACCOUNT" as const }, "INVALID_PATTERN"],
    [{ Id: "not-an-email", Type: "EMAIL" as const }, "INVALID_EMAIL_ADDRESS_TARGET"],
  ])("refuses to invite %j with reason %s", async (target, reason) => {
    const error = await failure(client.send(new InviteAccountToOrganizationCommand({ Target: target })));

    expect(error).toBeInstanceOf(InvalidInputException);
    expect((error as InvalidInputException).Reason).toBe(reason);
  });

  it("describes the organization", async () => {
    const { Organization } = await client.send(new DescribeOrganizationCommand({}));

    expect(Organization).toMatchObject({
      Id: emulator.organization.Id,
      FeatureSet: "ALL",
      MasterAccountId: emulator.organization.MasterAccountId,
      MasterAccountEmail: emulator.organization.MasterAccountEmail,
    });
  });

  it("answers an operation it does not serve with UnknownOperationException", async () => {
    const error = await failure(client.send(new ListAccountsCommand({})));

    expect(error.name).toBe("UnknownOperationException");
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it("refuses a request without an Authorization header", async () => {
    const answer = await rawCall(emulator.endpoint, `${TARGET_PREFIX}.DescribeOrganization`, "{}", false);

    expect(answer.status).toBe(400);
    expect(answer.errorType).toBe("MissingAuthenticationTokenException");
    expect(answer.json.__type).toBe("MissingAuthenticationTokenException");
    expect(answer.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers malformed JSON with SerializationException", async () => {
    const answer = await rawCall(emulator.endpoint, `${TARGET_PREFIX}.DescribeHandshake`, "{not json");

    expect(answer.status).toBe(400);
    expect(answer.json.__type).toBe("SerializationException");
  });

  it("counts requests, successes and errors per operation", async () => {
    emulator.resetStats();

    await client.send(new DescribeOrganizationCommand({}));
    await client.send(new DescribeOrganizationCommand({}));
    await failure(client.send(new DescribeHandshakeCommand({ HandshakeId: "h-0000000000000000" })));

    expect(emulator.stats()).toEqual({
      DescribeOrganization: { requests: 2, successes: 2, errors: {}, resets: 0 },
      DescribeHandshake: { requests: 1, successes: 0, errors: { HandshakeNotFoundException: 1 }, resets: 0 },
    });
  });

  it("waits latencyMs before answering", async () => {
    emulator.setFaults({ latencyMs: 60 });
    const started = performance.now();

    await client.send(new DescribeOrganizationCommand({}));

    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it("hands out deep copies of its handshakes", () => {
    const [copy] = emulator.handshakes();
    if (copy === undefined) throw new Error("no handshakes");
    copy.State = "EXPIRED";
    copy.RequestedTimestamp.setTime(0);
    (copy.Parties[0] as { Id: string }).Id = "changed";

    const [fresh] = emulator.handshakes();
    expect(fresh?.State).not.toBe("EXPIRED");
    expect(fresh?.RequestedTimestamp.getTime()).not.toBe(0);
    expect(fresh?.Parties[0]?.Id).not.toBe("changed");
  });
});

describe("organizations emulator faults", () => {
  it("throttles at the configured burst and refill rate, per operation", async () => {
    let clockMs = 1_000;
    const emulator = await startOrganizationsEmulator({
      clock: () => clockMs,
      faults: { throttle: { CancelHandshake: { ratePerSecond: 2, burst: 3 } } },
    });
    const client = clientFor(emulator.endpoint);
    const cancelOnce = async () => {
      const error = await failure(
        client.send(new CancelHandshakeCommand({ HandshakeId: "h-0000000000000000" })),
      );
      return error.name;
    };
    try {
      const burst = [];
      for (let i = 0; i < 5; i += 1) burst.push(await cancelOnce());
      clockMs += 1_000;
      const refilled = [];
      for (let i = 0; i < 3; i += 1) refilled.push(await cancelOnce());
      const other = await client.send(new DescribeOrganizationCommand({}));
      const throttled = await failure(
        client.send(new CancelHandshakeCommand({ HandshakeId: "h-0000000000000000" })),
      );

      expect(burst).toEqual([
        "HandshakeNotFoundException",
        "HandshakeNotFoundException",
        "HandshakeNotFoundException",
        "TooManyRequestsException",
        "TooManyRequestsException",
      ]);
      expect(refilled).toEqual([
        "HandshakeNotFoundException",
        "HandshakeNotFoundException",
        "TooManyRequestsException",
      ]);
      expect(other.Organization).toBeDefined();
      expect(throttled).toBeInstanceOf(TooManyRequestsException);
      expect((throttled as TooManyRequestsException).Type).toEqual(expect.any(String));
      expect(throttled.$metadata.httpStatusCode).toBe(400);
      expect(emulator.stats().CancelHandshake).toEqual({
        requests: 9,
        successes: 0,
        errors: { HandshakeNotFoundException: 5, TooManyRequestsException: 4 },
        resets: 0,
      });
    } finally {
      client.destroy();
      await emulator.stop();
    }
  });

  it("throttles every call with an empty bucket on the real monotonic clock", async () => {
    const emulator = await startOrganizationsEmulator({
      faults: { throttle: { ListHandshakesForOrganization: { ratePerSecond: 0, burst: 0 } } },
    });
    const client = clientFor(emulator.endpoint);
    try {
      for (let i = 0; i < 3; i += 1) {
        const error = await failure(client.send(new ListHandshakesForOrganizationCommand({})));
        expect(error).toBeInstanceOf(TooManyRequestsException);
      }
    } finally {
      client.destroy();
      await emulator.stop();
    }
  });

  it("injects the same faults in the same order for the same seed", async () => {
    const outcomes = async (seed: number) => {
      const emulator = await startOrganizationsEmulator({
        seed,
        handshakes: sampleOrganization(NOW),
        faults: { serviceExceptionRate: 0.25, concurrentModificationRate: 0.25, shortPages: true },
      });
      const client = clientFor(emulator.endpoint);
      try {
        const seen: string[] = [];
        for (let i = 0; i < 40; i += 1) {
          const answer = await client.send(new ListHandshakesForOrganizationCommand({})).then(
            (page) => `ok:${page.Handshakes?.length}`,
            (error: Error) => error.name,
          );
          seen.push(answer);
        }
        return seen;
      } finally {
        client.destroy();
        await emulator.stop();
      }
    };

    const first = await outcomes(42);
    const second = await outcomes(42);
    const other = await outcomes(43);

    expect(second).toEqual(first);
    expect(other).not.toEqual(first);
    expect(first).toContain("ServiceException");
    expect(first).toContain("ConcurrentModificationException");
    expect(first.filter((o) => o.startsWith("ok:")).length).toBeGreaterThan(10);
  });

  it("rejects fault settings that could not work", async () => {
    const emulator = await startOrganizationsEmulator();
    try {
      expect(() => emulator.setFaults({ emptyPageEvery: 1 })).toThrow(/emptyPageEvery/);
      expect(() => emulator.setFaults({ serviceExceptionRate: 1.5 })).toThrow(/serviceExceptionRate/);
      expect(() => emulator.setFaults({ pageSize: 0 })).toThrow(/pageSize/);
    } finally {
      await emulator.stop();
    }
  });

  it("closes kept-alive connections on stop(), which may be called twice", async () => {
    const emulator = await startOrganizationsEmulator();
    const client = clientFor(emulator.endpoint);
    await client.send(new DescribeOrganizationCommand({}));

    await emulator.stop();
    await emulator.stop();

    const error = await client.send(new DescribeOrganizationCommand({})).then(
      () => undefined,
      (e: unknown) => e,
    );
    client.destroy();
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(OrganizationsServiceException);
  });
});

describe("sample organizations", () => {
  it("covers every state, every action and each situation the rules look at", () => {
    const handshakes = sampleOrganization(NOW);
    const targets = handshakes.map((h) => h.Parties.find((p) => p.Type !== "ORGANIZATION"));
    const emails = targets.filter((t) => t?.Type === "EMAIL").map((t) => t?.Id ?? "");
    const accounts = targets.filter((t) => t?.Type === "ACCOUNT").map((t) => t?.Id ?? "");
    const ageDays = (h: EmulatorHandshake) => (NOW.getTime() - h.RequestedTimestamp.getTime()) / 86_400_000;
    const notes = (h: EmulatorHandshake) => h.Resources?.find((r) => r.Type === "NOTES")?.Value;
    const invites = handshakes.filter((h) => h.Action === "INVITE");

    expect(handshakes.length).toBe(40);
    expect(new Set(handshakes.map((h) => h.State))).toEqual(new Set(HANDSHAKE_STATES));
    expect(new Set(handshakes.map((h) => h.Action))).toEqual(new Set(ACTION_TYPES));
    expect(
      handshakes.some(
        (h) => (h.State === "OPEN" || h.State === "REQUESTED") && ageDays(h) >= 8 && ageDays(h) <= 14,
      ),
    ).toBe(true);
    expect(emails.filter((e) => /@([a-z0-9-]+\.)*example\.com$/.test(e)).length).toBeGreaterThan(
      emails.length / 2,
    );
    expect(emails.some((e) => e.endsWith("@gmail.com"))).toBe(true);
    expect(emails.some((e) => e.endsWith("@partner.example"))).toBe(true);
    expect(emails.some((e) => !/(example\.com|partner\.example|gmail\.com)$/.test(e))).toBe(true);
    expect(accounts).toEqual(expect.arrayContaining(["111122223333", "222222222222"]));
    expect(invites.some((h) => /CHG-\d+/.test(notes(h) ?? ""))).toBe(true);
    expect(invites.some((h) => notes(h) === undefined)).toBe(true);
    for (const h of handshakes) {
      if (h.State === "OPEN" || h.State === "REQUESTED") expect(h.ExpirationTimestamp > NOW, h.Id).toBe(true);
      if (h.State === "EXPIRED") expect(h.ExpirationTimestamp <= NOW, h.Id).toBe(true);
    }
  });

  it("is the same for the same seed and differs for another", () => {
    expect(sampleOrganization(NOW, { seed: 5 })).toEqual(sampleOrganization(NOW, { seed: 5 }));
    expect(sampleOrganization(NOW, { seed: 5 })).not.toEqual(sampleOrganization(NOW, { seed: 6 }));
    expect(sampleOrganization(NOW, { count: 60 })).toHaveLength(60);
  });

  it("builds a large organization of valid, unique handshakes", () => {
    const handshakes = largeOrganization(NOW, 10_000);

    expect(handshakes).toHaveLength(10_000);
    expect(new Set(handshakes.map((h) => h.Id)).size).toBe(10_000);
    expect(new Set(handshakes.map((h) => h.State))).toEqual(new Set(HANDSHAKE_STATES));
    const problems = handshakes.slice(0, 500).flatMap((h, i) => validate("Handshake", wireForm(h), `[${i}]`));
    expect(problems).toEqual([]);
  });
});

describe("organizations emulator against the AWS service model", () => {
  let emulator: OrganizationsEmulator;
  let client: OrganizationsClient;
  const exchanges: EmulatorExchange[] = [];

  beforeAll(async () => {
    emulator = await startOrganizationsEmulator({
      handshakes: sampleOrganization(NOW, { seed: 3 }),
      seed: 3,
      now: () => NOW,
      onResponse: (exchange) => exchanges.push(exchange),
    });
    client = clientFor(emulator.endpoint);
  });
  afterEach(() => emulator.setFaults({}));
  afterAll(async () => {
    client.destroy();
    await emulator.stop();
  });

  it("speaks the model's protocol and target prefix", () => {
    expect(model.metadata.protocol).toBe("json");
    expect(model.metadata.jsonVersion).toBe("1.1");
    expect(model.metadata.targetPrefix).toBe(TARGET_PREFIX);
  });

  it("serves only operations the model defines", () => {
    for (const operation of OPERATIONS) expect(model.operations[operation], operation).toBeDefined();
  });

  it("uses exactly the model's enums for handshake fields", () => {
    expect([...HANDSHAKE_STATES].sort()).toEqual([...(shape("HandshakeState").enum ?? [])].sort());
    expect([...ACTION_TYPES].sort()).toEqual([...(shape("ActionType").enum ?? [])].sort());
    expect([...HANDSHAKE_PARTY_TYPES].sort()).toEqual([...(shape("HandshakePartyType").enum ?? [])].sort());
    expect([...HANDSHAKE_RESOURCE_TYPES].sort()).toEqual(
      [...(shape("HandshakeResourceType").enum ?? [])].sort(),
    );
  });

  it("declares only errors the model lists for each operation", () => {
    for (const operation of OPERATIONS) {
      const declared: readonly string[] = OPERATION_ERRORS[operation];
      expect(modelErrors(operation), operation).toEqual(expect.arrayContaining([...declared]));
      for (const name of declared) expect(shape(name).exception, name).toBe(true);
    }
    // Protocol-level errors come from the endpoint, not an operation; the model has no shape for them.
    for (const name of PROTOCOL_ERRORS) expect(model.shapes[name], name).toBeUndefined();
  });

  it("checks values strictly enough to catch an off-model answer", () => {
    const good = wireForm(sampleOrganization(NOW)[0] as EmulatorHandshake);
    expect(validate("Handshake", good)).toEqual([]);

    expect(validate("Handshake", { ...good, State: "PENDING" })).toEqual([
      expect.stringContaining("PENDING"),
    ]);
    expect(validate("Handshake", { ...good, Id: "h-UPPER" })).toEqual([
      expect.stringContaining("HandshakeId"),
    ]);
    expect(validate("Handshake", { ...good, RequestedTimestamp: "2026-01-01" })).toEqual([
      expect.stringContaining("epoch seconds"),
    ]);
    expect(validate("Handshake", { ...good, Extra: 1 })).toEqual([expect.stringContaining("not a member")]);
    expect(validate("HandshakeParty", { Id: "x" })).toEqual([expect.stringContaining("required")]);
    expect(validate("MaxResults", 21)).toEqual([expect.stringContaining("max 20")]);
  });

  it("answers every operation and every declared error with bodies that validate against the model", async () => {
    exchanges.length = 0;
    const unknown = "h-0000000000000000";
    const open = idsIn(emulator, "OPEN");
    const send = (call: Promise<unknown>) =>
      call.then(
        () => undefined,
        () => undefined,
      );

    // Successes, filtered and unfiltered, with short and empty pages.
    emulator.setFaults({ pageSize: 5, shortPages: true, emptyPageEvery: 2 });
    await listAll(client);
    await send(client.send(new ListHandshakesForOrganizationCommand({ Filter: { ActionType: "INVITE" } })));
    emulator.setFaults({ acceptBeforeCancel: [open[1] ?? ""] });
    await send(client.send(new DescribeHandshakeCommand({ HandshakeId: open[0] })));
    await send(client.send(new CancelHandshakeCommand({ HandshakeId: open[0] })));
    await send(client.send(new DescribeOrganizationCommand({})));
    await send(
      client.send(
        new InviteAccountToOrganizationCommand({
          Target: { Id: "x@example.com", Type: "EMAIL" },
          Notes: "n",
        }),
      ),
    );
    // Every state-machine and input error.
    await send(client.send(new CancelHandshakeCommand({ HandshakeId: open[0] })));
    await send(client.send(new CancelHandshakeCommand({ HandshakeId: open[1] })));
    await send(client.send(new CancelHandshakeCommand({ HandshakeId: unknown })));
    await send(client.send(new CancelHandshakeCommand({ HandshakeId: "bad" })));
    await send(client.send(new DescribeHandshakeCommand({ HandshakeId: unknown })));
    await send(client.send(new DescribeHandshakeCommand({ HandshakeId: "bad" })));
    await send(client.send(new ListHandshakesForOrganizationCommand({ MaxResults: 0 })));
    await send(client.send(new ListHandshakesForOrganizationCommand({ NextToken: "bad" })));
    await send(
      client.send(new InviteAccountToOrganizationCommand({ Target: { Id: "x@example.com", Type: "EMAIL" } })),
    );
    await send(client.send(new InviteAccountToOrganizationCommand({ Target: { Id: "1", Type: "ACCOUNT" } })));
    // Every injected fault, on every operation.
    const calls: Record<OperationName, () => Promise<unknown>> = {
      ListHandshakesForOrganization: () => client.send(new ListHandshakesForOrganizationCommand({})),
      DescribeHandshake: () => client.send(new DescribeHandshakeCommand({ HandshakeId: unknown })),
      CancelHandshake: () => client.send(new CancelHandshakeCommand({ HandshakeId: unknown })),
      InviteAccountToOrganization: () =>
        client.send(
          new InviteAccountToOrganizationCommand({ Target: { Id: "123412341234", Type: "ACCOUNT" } }),
        ),
      DescribeOrganization: () => client.send(new DescribeOrganizationCommand({})),
    };
    for (const operation of OPERATIONS) {
      const faultOperations = [operation];
      emulator.setFaults({ faultOperations, concurrentModificationRate: 1 });
      await send(calls[operation]());
      emulator.setFaults({ faultOperations, serviceExceptionRate: 1 });
      await send(calls[operation]());
      emulator.setFaults({ throttle: { [operation]: { ratePerSecond: 0, burst: 0 } } });
      await send(calls[operation]());
    }
    await rawCall(emulator.endpoint, `${TARGET_PREFIX}.DescribeOrganization`, "{}", false);
    await rawCall(emulator.endpoint, `${TARGET_PREFIX}.DeleteEverything`, "{}");
    await rawCall(emulator.endpoint, `${TARGET_PREFIX}.DescribeHandshake`, "[]");

    const problems: string[] = [];
    const seen = new Set<string>();
    for (const [index, { operation, status, body }] of exchanges.entries()) {
      const at = `#${index} ${operation} ${status}`;
      const spec = model.operations[operation];
      const { __type, ...fields } = (body ?? {}) as Record<string, unknown>;
      if (status === 200) {
        seen.add(`${operation} ok`);
        if (spec?.output === undefined) problems.push(`${at}: no output shape in the model`);
        else problems.push(...validate(spec.output.shape, body, at));
      } else if ((PROTOCOL_ERRORS as readonly string[]).includes(String(__type))) {
        seen.add(String(__type));
        if (status !== 400) problems.push(`${at}: protocol error with status ${status}`);
      } else {
        const name = String(__type);
        seen.add(`${operation} ${name}`);
        if (!modelErrors(operation).includes(name)) {
          problems.push(`${at}: ${name} is not an error of ${operation}`);
        } else {
          problems.push(...validate(name, fields, at));
          const expected = shape(name).fault === true ? 500 : 400;
          if (status !== expected) {
            problems.push(`${at}: ${name} with status ${status}, expected ${expected}`);
          }
        }
      }
    }

    expect(problems).toEqual([]);
    const expectedSeen = [
      ...OPERATIONS.map((operation) => `${operation} ok`),
      ...OPERATIONS.flatMap((operation) => OPERATION_ERRORS[operation].map((name) => `${operation} ${name}`)),
      ...PROTOCOL_ERRORS,
    ];
    expect([...seen].sort()).toEqual(expectedSeen.sort());
  });

  it("accepts exactly the handshake ids the model's HandshakeId pattern allows", async () => {
    const { pattern, max } = shape(shape("CancelHandshakeRequest").members?.HandshakeId?.shape ?? "");
    const allowed = modelRegExp(pattern ?? "");
    const candidates = [
      "h-abcdefgh",
      "h-abcdefg",
      `h-${"a".repeat(32)}`,
      `h-${"a".repeat(33)}`,
      "h-ABCDEFGH",
      "h-abcd-efgh",
      "x-abcdefgh",
      "h-0123456789",
    ];

    for (const id of candidates) {
      const error = await failure(client.send(new DescribeHandshakeCommand({ HandshakeId: id })));
      const modelAllows = allowed.test(id) && id.length <= (max ?? Infinity);
      expect(error.name, id).toBe(modelAllows ? "HandshakeNotFoundException" : "InvalidInputException");
    }
  });

  it("accepts exactly the MaxResults range the model allows", async () => {
    const limitKey = paginators.pagination.ListHandshakesForOrganization?.limit_key ?? "";
    const limitShape = shape(shape("ListHandshakesForOrganizationRequest").members?.[limitKey]?.shape ?? "");
    const min = limitShape.min ?? Number.NaN;
    const max = limitShape.max ?? Number.NaN;

    for (const value of [min - 1, min, max, max + 1]) {
      const answer = await client.send(new ListHandshakesForOrganizationCommand({ MaxResults: value })).then(
        (page) => page.Handshakes?.length,
        (error: Error) => error.name,
      );
      const expected =
        value >= min && value <= max
          ? Math.min(value, emulator.handshakes().length)
          : "InvalidInputException";
      expect(answer, `MaxResults ${value}`).toBe(expected);
    }
    const unlimited = await client.send(new ListHandshakesForOrganizationCommand({}));
    expect(unlimited.Handshakes?.length).toBeLessThanOrEqual(max);
  });

  it("pages the way paginators-1.json describes", async () => {
    const config = paginators.pagination.ListHandshakesForOrganization;
    if (config === undefined) throw new Error("no paginator for ListHandshakesForOrganization in the model");
    const target = `${TARGET_PREFIX}.ListHandshakesForOrganization`;

    const first = await rawCall(emulator.endpoint, target, JSON.stringify({ [config.limit_key]: 3 }));
    const token = first.json[config.output_token];
    const second = await rawCall(emulator.endpoint, target, JSON.stringify({ [config.input_token]: token }));

    expect(first.status).toBe(200);
    expect(first.json[config.result_key]).toHaveLength(3);
    expect(token).toEqual(expect.any(String));
    const ids = (page: Record<string, unknown>) =>
      (page[config.result_key] as { Id: string }[]).map((h) => h.Id);
    expect(ids(second.json)[0]).toBe(idsIn(emulator)[3]);
  });
});

describe("organizations emulator through the AWS CLI", () => {
  let emulator: OrganizationsEmulator;

  beforeAll(async () => {
    emulator = await startOrganizationsEmulator({
      handshakes: sampleOrganization(NOW),
      faults: { pageSize: 7, emptyPageEvery: 3 },
    });
  });
  afterAll(async () => {
    await emulator.stop();
  });

  it("lists every handshake with aws organizations list-handshakes-for-organization", async () => {
    const aws = await execFileAsync("which", ["aws"]).then(
      ({ stdout }) => stdout.trim(),
      () => "",
    );
    if (aws === "") {
      throw new Error(
        "the AWS CLI is not on PATH; install it (Debian: apt-get install awscli) to run this test",
      );
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_DEFAULT_REGION: "us-east-1",
      // Keep the developer's own profile, config and pager out of the way.
      AWS_CONFIG_FILE: "/nonexistent/aws-config",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
      AWS_PAGER: "",
      AWS_EC2_METADATA_DISABLED: "true",
    };
    for (const key of [
      "AWS_PROFILE",
      "AWS_SESSION_TOKEN",
      "AWS_ENDPOINT_URL",
      "AWS_ENDPOINT_URL_ORGANIZATIONS",
    ]) {
      delete env[key];
    }

    const { stdout } = await execFileAsync(
      aws,
      [
        "organizations",
        "list-handshakes-for-organization",
        "--endpoint-url",
        emulator.endpoint,
        "--region",
        "us-east-1",
        "--output",
        "json",
      ],
      { env, timeout: 60_000 },
    );

    const listed = (JSON.parse(stdout) as { Handshakes: { Id: string; State: string }[] }).Handshakes;
    expect(listed.map((h) => h.Id).sort()).toEqual(idsIn(emulator).sort());
    expect(emulator.stats().ListHandshakesForOrganization?.requests).toBeGreaterThan(1);
  });
});
