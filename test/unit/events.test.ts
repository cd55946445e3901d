import { describe, expect, test } from "vitest";
import { ConfigError } from "../../src/domain/errors.js";
import { parseEvent } from "../../src/handlers/events.js";
import { scheduledEvent } from "../support/events.js";

const REQUEST_ID = "c0ffee00-0000-4000-8000-000000000001";
const FUNCTION = "handshake-janitor-test-sweep";

/** The issues a rejected event produces; fails the test when the event is accepted. */
function rejection(event: unknown): readonly string[] {
  try {
    parseEvent(event, REQUEST_ID, FUNCTION);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(event)}`);
}

describe("a scheduled event", () => {
  test("runs under its id, as the schedule rule", () => {
    const event = scheduledEvent();

    const request = parseEvent(event, REQUEST_ID, FUNCTION);

    expect(request).toEqual({
      trigger: "scheduled",
      runId: event.id,
      actor: (event.resources as string[])[0],
    });
  });

  test("with dryRun added is rejected, not run live", () => {
    const issues = rejection(scheduledEvent({ dryRun: true }));

    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^event: unknown key 'dryRun' in a scheduled event/);
  });

  test.each([
    { key: "rules", value: ["stale-invitations"] },
    { key: "handshakeIds", value: ["h-0123456789"] },
    { key: "actor", value: "mallory" },
    { key: "reason", value: "CHG-1" },
    { key: "extra", value: 1 },
  ])("with '$key' added is rejected naming it", ({ key, value }) => {
    const issues = rejection(scheduledEvent({ [key]: value }));

    expect(issues).toEqual([expect.stringContaining(`unknown key '${key}'`)]);
  });

  test.each(["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"])(
    "without '%s' is rejected naming it",
    (key) => {
      const event = scheduledEvent();
      delete event[key];

      const issues = rejection(event);

      expect(issues).toHaveLength(1);
      expect(issues[0]).toContain(`event.${key}`);
    },
  );

  test.each([
    { field: "version", value: "1" },
    { field: "id", value: "" },
    { field: "id", value: "x".repeat(200) },
    { field: "id", value: "a b" },
    { field: "account", value: "12345" },
    { field: "time", value: "yesterday" },
    { field: "region", value: "Mars" },
    { field: "resources", value: [] },
    { field: "resources", value: ["not an arn"] },
    { field: "detail", value: { dryRun: true } },
    { field: "detail-type", value: "Something Else" },
    { field: "source", value: "my.app" },
  ])("with a bad $field ($value) is rejected naming it", ({ field, value }) => {
    const issues = rejection(scheduledEvent({ [field]: value }));

    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((line) => line.startsWith(`event.${field}`))).toBe(true);
  });
});

describe("an event that is neither scheduled nor manual", () => {
  test.each([
    {
      name: "source and detail-type with manual keys",
      event: { source: "aws.events", "detail-type": "Scheduled Event", dryRun: true },
    },
    { name: "only some scheduled keys", event: { id: "x", time: "2026-01-01T00:00:00Z" } },
    { name: "an id with manual keys", event: { id: "run-1", dryRun: false, actor: "cron" } },
    { name: "a source alone", event: { source: "aws.events" } },
    { name: "a detail alone", event: { detail: {} } },
  ])("is rejected: $name", ({ event }) => {
    const issues = rejection(event);

    expect(issues.length).toBeGreaterThan(0);
    expect(issues.join("\n")).toContain("scheduled event");
  });

  test("a CloudTrail API call from Organizations is not a sweep request", () => {
    const event = scheduledEvent({
      "detail-type": "AWS API Call via CloudTrail",
      source: "aws.organizations",
      resources: [],
      detail: { eventName: "InviteAccountToOrganization", eventSource: "organizations.amazonaws.com" },
    });

    const issues = rejection(event);

    expect(issues).toEqual([
      expect.stringMatching(/^event: .*AWS API Call via CloudTrail.*not a sweep request/),
    ]);
  });
});

describe("a manual event", () => {
  test("carries its fields into the request", () => {
    const request = parseEvent(
      {
        dryRun: true,
        rules: ["stale-invitations"],
        handshakeIds: ["h-0123456789"],
        reason: "CHG-1",
        actor: "alice",
      },
      REQUEST_ID,
      FUNCTION,
    );

    expect(request).toEqual({
      trigger: "manual",
      runId: `manual-${REQUEST_ID}`,
      actor: "alice",
      dryRun: true,
      ruleIds: ["stale-invitations"],
      handshakeIds: ["h-0123456789"],
      note: "CHG-1",
    });
  });

  test.each([{}, null, undefined])("%j asks for a sweep of everything", (event) => {
    expect(parseEvent(event, REQUEST_ID, FUNCTION)).toEqual({
      trigger: "manual",
      runId: `manual-${REQUEST_ID}`,
      actor: `lambda-invoke:${FUNCTION}`,
    });
  });

  test.each([
    {
      event: { handshakeIds: [] },
      line: "event.handshakeIds: must not be empty (leave it out to select every handshake)",
    },
    { event: { rules: [] }, line: "event.rules: must not be empty (leave it out to apply every rule)" },
  ])("with an empty list $event is rejected, not widened to everything", ({ event, line }) => {
    expect(rejection({ dryRun: false, ...event })).toEqual([line]);
  });

  test.each([
    { event: { rules: [""] }, field: "event.rules[0]" },
    { event: { handshakeIds: ["H-NOT-VALID"] }, field: "event.handshakeIds[0]" },
    { event: { dryRun: "yes" }, field: "event.dryRun" },
  ])("with a bad value is rejected naming $field", ({ event, field }) => {
    expect(rejection(event)).toEqual([
      expect.stringMatching(new RegExp(`^${field.replace(/[[\]]/g, "\\$&")}: `)),
    ]);
  });
});
