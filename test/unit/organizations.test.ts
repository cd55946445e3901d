import type { OrganizationsClient } from "@aws-sdk/client-organizations";
import { describe, expect, test } from "vitest";
import { createOrganizationsAdapter, toHandshake } from "../../src/aws/organizations.js";
import type { Handshake } from "../../src/domain/handshake.js";
import { DEFAULT_BACKOFF } from "../../src/resilience/backoff.js";
import { createPacer } from "../../src/resilience/pacer.js";

/** An SDK-like error as the client throws it: name, message and HTTP metadata. */
function awsError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status } });
}

type Answer = unknown | Error;

/** A client whose send() plays back answers per operation, recording every command. */
function scriptedClient(answers: Record<string, Answer[]>) {
  const calls: { operation: string; input: Record<string, unknown> }[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const operation = command.constructor.name.replace(/Command$/, "");
      calls.push({ operation, input: command.input });
      const queue = answers[operation] ?? [];
      if (queue.length === 0) throw new Error(`no scripted answer for ${operation}`);
      const answer = queue.shift();
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as OrganizationsClient;
  return { client, calls };
}

function adapter(client: OrganizationsClient) {
  // No waiting in unit tests: the pacers and the backoff sleep on a clock that sleeping moves.
  const clock = virtualClock();
  return createOrganizationsAdapter({
    client,
    pacer: createPacer({ ...clock, initialRate: 1000 }),
    listPacer: createPacer({ ...clock, initialRate: 1000 }),
    sleep: clock.sleep,
    random: () => 0.5,
  });
}

const sdkHandshake = (id: string, extra: Record<string, unknown> = {}) => ({
  Id: id,
  State: "OPEN",
  Action: "INVITE",
  RequestedTimestamp: new Date("2026-11-01T00:00:00Z"),
  Parties: [
    { Id: "o-abcdefghij", Type: "ORGANIZATION" },
    { Id: "someone@example.com", Type: "EMAIL" },
  ],
  ...extra,
});

/** Every page of the listing, flattened. */
async function listAll(port: { listHandshakes(): AsyncIterable<Handshake[]> }): Promise<Handshake[]> {
  const all: Handshake[] = [];
  for await (const page of port.listHandshakes()) all.push(...page);
  return all;
}

describe("listHandshakes", () => {
  test("follows NextToken through short and empty pages to the end", async () => {
    const { client, calls } = scriptedClient({
      ListHandshakesForOrganization: [
        { Handshakes: [sdkHandshake("h-aaaaaaaa01")], NextToken: "t1" },
        { Handshakes: [], NextToken: "t2" },
        { NextToken: "t3" },
        { Handshakes: [sdkHandshake("h-aaaaaaaa02"), sdkHandshake("h-aaaaaaaa03")] },
      ],
    });

    const listed = await listAll(adapter(client));

    expect(listed.map((h) => h.id)).toEqual(["h-aaaaaaaa01", "h-aaaaaaaa02", "h-aaaaaaaa03"]);
    expect(calls.map((c) => c.input.NextToken)).toEqual([undefined, "t1", "t2", "t3"]);
    expect(calls.every((c) => c.input.MaxResults === 20)).toBe(true);
  });

  test("retries a throttled or conflicting page, then goes on", async () => {
    const { client, calls } = scriptedClient({
      ListHandshakesForOrganization: [
        awsError("TooManyRequestsException"),
        awsError("ConcurrentModificationException"),
        awsError("ServiceException", 500),
        { Handshakes: [sdkHandshake("h-aaaaaaaa04")] },
      ],
    });

    const listed = await listAll(adapter(client));

    expect(listed).toHaveLength(1);
    expect(calls).toHaveLength(4);
  });

  test("fails on AccessDenied without retrying", async () => {
    const { client, calls } = scriptedClient({
      ListHandshakesForOrganization: [awsError("AccessDeniedException")],
    });

    await expect(listAll(adapter(client))).rejects.toThrow("AccessDeniedException");
    expect(calls).toHaveLength(1);
  });

  test("stops when the service repeats a token instead of looping", async () => {
    const { client } = scriptedClient({
      ListHandshakesForOrganization: [{ NextToken: "same" }, { NextToken: "same" }],
    });

    await expect(listAll(adapter(client))).rejects.toThrow("same NextToken");
  });

  test("hands each page over before it asks for the next", async () => {
    const { client, calls } = scriptedClient({
      ListHandshakesForOrganization: [
        { Handshakes: [sdkHandshake("h-aaaaaaaa05")], NextToken: "t1" },
        { Handshakes: [sdkHandshake("h-aaaaaaaa06")] },
      ],
    });
    const pages = adapter(client).listHandshakes()[Symbol.asyncIterator]();

    const first = await pages.next();
    const requestsAfterFirst = calls.length;
    const second = await pages.next();
    const end = await pages.next();

    expect(first.value?.map((h: Handshake) => h.id)).toEqual(["h-aaaaaaaa05"]);
    expect(requestsAfterFirst).toBe(1);
    expect(second.value?.map((h: Handshake) => h.id)).toEqual(["h-aaaaaaaa06"]);
    expect(end.done).toBe(true);
    expect(calls).toHaveLength(2);
  });
});

describe("cancelHandshake", () => {
  const cases: { name: string; answers: Answer[]; outcome: string; attempts: number }[] = [
    { name: "success", answers: [{ Handshake: {} }], outcome: "CANCELED", attempts: 1 },
    {
      name: "throttled then success",
      answers: [
        awsError("TooManyRequestsException"),
        awsError("TooManyRequestsException"),
        { Handshake: {} },
      ],
      outcome: "CANCELED",
      attempts: 3,
    },
    {
      name: "concurrent modification then success",
      answers: [awsError("ConcurrentModificationException"), { Handshake: {} }],
      outcome: "CANCELED",
      attempts: 2,
    },
    {
      name: "already canceled by someone else",
      answers: [awsError("HandshakeAlreadyInStateException")],
      outcome: "ALREADY_CLOSED",
      attempts: 1,
    },
    {
      name: "a lost answer followed by already-canceled is our own cancel",
      answers: [awsError("ServiceException", 500), awsError("HandshakeAlreadyInStateException")],
      outcome: "CANCELED",
      attempts: 2,
    },
    {
      name: "not found",
      answers: [awsError("HandshakeNotFoundException")],
      outcome: "ALREADY_CLOSED",
      attempts: 1,
    },
    {
      name: "accepted meanwhile",
      answers: [awsError("InvalidHandshakeTransitionException")],
      outcome: "STATE_CHANGED",
      attempts: 1,
    },
    { name: "access denied", answers: [awsError("AccessDeniedException")], outcome: "FAILED", attempts: 1 },
    { name: "unknown error", answers: [new TypeError("boom")], outcome: "FAILED", attempts: 1 },
    {
      name: "throttled past every attempt",
      answers: Array.from({ length: 8 }, () => awsError("TooManyRequestsException")),
      outcome: "DEFERRED",
      attempts: 8,
    },
  ];

  test.each(cases)("$name -> $outcome", async ({ answers, outcome, attempts }) => {
    const { client } = scriptedClient({ CancelHandshake: [...answers] });

    const result = await adapter(client).cancelHandshake("h-aaaaaaaa05");

    expect(result.outcome).toBe(outcome);
    expect(result.attempts).toBe(attempts);
    if (outcome === "FAILED") expect(result.error).toBeTruthy();
  });

  test("starts no attempt once the deadline has passed, and defers", async () => {
    const { client, calls } = scriptedClient({ CancelHandshake: [{ Handshake: {} }] });

    const result = await adapter(client).cancelHandshake("h-aaaaaaaa06", { deadline: Date.now() });

    expect(result).toMatchObject({ outcome: "DEFERRED", attempts: 0 });
    expect(calls).toHaveLength(0);
  });

  test("sends a fenced call at its turn, a whole interval after the call before it, whatever each check took", async () => {
    const clock = virtualClock();
    const sentAt: number[] = [];
    const client = {
      async send() {
        sentAt.push(clock.now());
        return { Handshake: {} };
      },
    } as unknown as OrganizationsClient;
    const pacer = createPacer({ initialRate: 2, now: clock.now, sleep: clock.sleep });
    const organizations = createOrganizationsAdapter({ client, pacer, sleep: clock.sleep, now: clock.now });
    // The first check takes 100 ms, the second none: sent at once, the second call would go 400 ms
    // after the first, early for a budget of two a second.
    const checks = [100, 0];
    const fence = async (turn: () => Promise<boolean>) => {
      await clock.sleep(checks.shift() ?? 0);
      return turn();
    };

    await organizations.cancelHandshake("h-aaaaaaaa01", { beforeAttempt: fence });
    // The interval the second call is spaced by (the rate moves only when a call is answered).
    const interval = pacer.interval();
    await organizations.cancelHandshake("h-aaaaaaaa02", { beforeAttempt: fence });

    expect(sentAt).toHaveLength(2);
    expect((sentAt[1] ?? 0) - (sentAt[0] ?? 0)).toBeGreaterThanOrEqual(interval);
  });

  test("sends no fenced call whose turn would come after the deadline, and defers it", async () => {
    const clock = virtualClock();
    const { client, calls } = scriptedClient({ CancelHandshake: [{ Handshake: {} }] });
    const pacer = createPacer({ initialRate: 2, now: clock.now, sleep: clock.sleep });
    const organizations = createOrganizationsAdapter({ client, pacer, sleep: clock.sleep, now: clock.now });
    // Another call took the turn just now: this one's comes an interval later, past its deadline.
    await pacer.turn();

    const result = await organizations.cancelHandshake("h-aaaaaaaa03", {
      deadline: clock.now() + pacer.interval() / 2,
      beforeAttempt: async (turn) => turn(),
    });

    expect(result.outcome).toBe("DEFERRED");
    expect(calls).toHaveLength(0);
  });

  test("defers a throttled call when the pacer has no slot for it before the deadline", async () => {
    const clock = virtualClock();
    const { client, calls } = scriptedClient({
      CancelHandshake: [awsError("TooManyRequestsException"), { Handshake: {} }],
    });
    const pacer = createPacer({ initialRate: 2, now: clock.now, sleep: clock.sleep });
    const organizations = createOrganizationsAdapter({
      client,
      pacer,
      sleep: clock.sleep,
      now: clock.now,
      random: () => 0,
    });

    const result = await organizations.cancelHandshake("h-aaaaaaaa06", { deadline: clock.now() + 300 });

    expect(result.outcome).toBe("DEFERRED");
    expect(result.attempts).toBe(1);
    expect(result.error).toContain("TooManyRequestsException");
    expect(calls).toHaveLength(1);
    expect(clock.now()).toBeLessThan(300);
  });

  test("waits out a throttle in units of the pacer's interval, not of a fixed backoff", async () => {
    const clock = virtualClock();
    const { client } = scriptedClient({
      CancelHandshake: [
        awsError("TooManyRequestsException"),
        awsError("TooManyRequestsException"),
        { Handshake: {} },
      ],
    });
    const pacer = createPacer({ initialRate: 40, now: clock.now, sleep: clock.sleep });
    const pauses: { ms: number; interval: number }[] = [];
    const organizations = createOrganizationsAdapter({
      client,
      pacer,
      now: clock.now,
      random: () => 0.999,
      sleep: async (ms) => {
        pauses.push({ ms, interval: pacer.interval() });
        await clock.sleep(ms);
      },
    });

    const result = await organizations.cancelHandshake("h-aaaaaaaa08");

    expect(result).toMatchObject({ outcome: "CANCELED", attempts: 3 });
    expect(pauses).toHaveLength(2);
    // Full jitter below interval * 2^attempt, where a fixed policy would pause up to 100 ms first.
    for (const [attempt, pause] of pauses.entries()) {
      expect(pause.ms).toBeGreaterThan(0);
      expect(pause.ms).toBeLessThan(pause.interval * 2 ** attempt);
    }
    expect(pauses[0]?.ms).toBeLessThan(DEFAULT_BACKOFF.baseMs / 2);
    expect(pacer.stats().throttles).toBe(2);
  });

  test("throws rather than defer when an answer was lost and no attempt is left to find out", async () => {
    const { client } = scriptedClient({
      CancelHandshake: Array.from({ length: 8 }, () => awsError("ServiceException", 500)),
    });

    const cancel = adapter(client).cancelHandshake("h-aaaaaaaa0a");

    await expect(cancel).rejects.toThrow("outcome unknown after 8 attempt(s)");
  });

  test("counts an answer other than a throttle as a call the service granted", async () => {
    const { client } = scriptedClient({
      CancelHandshake: [
        awsError("ConcurrentModificationException"),
        awsError("HandshakeAlreadyInStateException"),
      ],
    });
    const pacer = createPacer({ sleep: async () => {}, initialRate: 1000 });
    const organizations = createOrganizationsAdapter({ client, pacer, sleep: async () => {} });

    await organizations.cancelHandshake("h-aaaaaaaa09");

    expect(pacer.stats()).toMatchObject({ successes: 2, throttles: 0 });
  });
});

/** Sleeping moves the clock: pacing and backoff are checked without waiting. */
function virtualClock() {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

describe("toHandshake", () => {
  test("carries unknown enum values as data and reads notes from nested resources", () => {
    const mapped = toHandshake({
      Id: "h-aaaaaaaa07",
      State: "SOMETHING_NEW",
      Action: "TRANSFER_RESPONSIBILITY",
      Parties: [
        { Id: "o-abcdefghij", Type: "ORGANIZATION" },
        { Id: "111122223333", Type: "ACCOUNT" },
      ],
      Resources: [
        { Type: "ORGANIZATION", Value: "o-abcdefghij", Resources: [{ Type: "NOTES", Value: "CHG-42" }] },
      ],
    } as never);

    expect(mapped).toMatchObject({
      state: "SOMETHING_NEW",
      action: "TRANSFER_RESPONSIBILITY",
      target: { type: "ACCOUNT", value: "111122223333" },
      notes: "CHG-42",
    });
  });
});
