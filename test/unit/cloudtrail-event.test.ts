import { describe, expect, test } from "vitest";
import { formatCloudTrailDate } from "../../devtools/cloudtrail.js";
import { ConfigError } from "../../src/domain/errors.js";
import { HANDSHAKE_ID_PROBLEM } from "../../src/domain/handshake.js";
import { parseCloudTrailDate, parseRealtimeEvent } from "../../src/handlers/cloudtrail-event.js";

/** The shape of the CloudTrail record for InviteAccountToOrganization, as AWS documents it. */
function event(detail: Record<string, unknown> = {}) {
  return {
    version: "0",
    id: "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "AWS API Call via CloudTrail",
    source: "aws.organizations",
    account: "111111111111",
    time: "2017-01-18T21:41:17Z",
    region: "us-east-1",
    resources: [],
    detail: {
      eventVersion: "1.05",
      userIdentity: {
        type: "IAMUser",
        principalId: "AIDAMVNPBQA3EXAMPLE",
        arn: "arn:aws:iam::111111111111:user/diego",
        accountId: "111111111111",
        userName: "diego",
      },
      eventTime: "2017-01-18T21:41:17Z",
      eventSource: "organizations.amazonaws.com",
      eventName: "InviteAccountToOrganization",
      awsRegion: "us-east-1",
      requestParameters: { target: { type: "ACCOUNT", id: "222222222222" }, notes: "CHG-1 for Mary" },
      responseElements: {
        handshake: {
          requestedTimestamp: "Jan 18, 2017 9:41:16 PM",
          state: "OPEN",
          arn: "arn:aws:organizations::111111111111:handshake/o-exampleorgid/invite/h-examplehandshakeid111",
          id: "h-examplehandshakeid111",
          parties: [
            { type: "ORGANIZATION", id: "exampleorgid" },
            { type: "ACCOUNT", id: "222222222222" },
          ],
          action: "invite",
          expirationTimestamp: "Feb 2, 2017 9:41:16 PM",
          resources: [
            {
              type: "ORGANIZATION",
              value: "o-exampleorgid",
              resources: [{ type: "MASTER_EMAIL", value: "diego@example.com" }],
            },
            { type: "ACCOUNT", value: "222222222222" },
            { type: "NOTES", value: "CHG-1 for Mary" },
          ],
        },
      },
      eventType: "AwsApiCall",
      ...detail,
    },
  };
}

describe("parseRealtimeEvent", () => {
  test("rejects a handshake's resources nested 1,000 deep with one line naming the field, not a RangeError", () => {
    let resources: unknown[] = [];
    for (let i = 0; i < 1_000; i++) resources = [{ type: "NOTES", value: "v", resources }];
    let issues: readonly string[] = [];
    try {
      parseRealtimeEvent(
        event({ responseElements: { handshake: { id: "h-examplehandshakeid111", resources } } }),
      );
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues = error.issues;
    }

    expect(issues).toEqual([
      expect.stringMatching(
        /^event\.detail\.responseElements\.handshake\.resources\.0\.resources\.0\.resources\.…: nested more than 64 levels deep/,
      ),
    ]);
  });

  test("reads the handshake id, the caller and the event's copy as a hint", () => {
    const parsed = parseRealtimeEvent(event());

    expect(parsed).toEqual({
      kind: "invite",
      eventId: "7bf73129-1428-4cd3-a780-95db273d1602",
      runId: "event-7bf73129-1428-4cd3-a780-95db273d1602",
      handshakeId: "h-examplehandshakeid111",
      actor: "arn:aws:iam::111111111111:user/diego",
      hint: {
        id: "h-examplehandshakeid111",
        arn: "arn:aws:organizations::111111111111:handshake/o-exampleorgid/invite/h-examplehandshakeid111",
        state: "OPEN",
        action: "INVITE",
        requestedAt: new Date("2017-01-18T21:41:16Z"),
        expiresAt: new Date("2017-02-02T21:41:16Z"),
        target: { type: "ACCOUNT", value: "222222222222" },
        notes: "CHG-1 for Mary",
      },
    });
  });

  test.each([
    [
      { type: "AssumedRole", principalId: "AROAEXAMPLE:alice", arn: "arn:aws:sts::1:assumed-role/ops/alice" },
      "arn:aws:sts::1:assumed-role/ops/alice",
    ],
    [{ type: "AWSService", principalId: "AIDAEXAMPLE" }, "AWSService:AIDAEXAMPLE"],
    [{ type: "AWSService", invokedBy: "cloudformation.amazonaws.com" }, "cloudformation.amazonaws.com"],
  ])("names the caller %j as %s", (userIdentity, actor) => {
    const parsed = parseRealtimeEvent(event({ userIdentity }));

    expect(parsed.kind === "invite" && parsed.actor).toBe(actor);
  });

  test("ignores an invitation whose call failed: no handshake was created", () => {
    const parsed = parseRealtimeEvent(
      event({ errorCode: "DuplicateHandshakeException", errorMessage: "exists", responseElements: null }),
    );

    expect(parsed).toEqual({
      kind: "ignored",
      eventId: "7bf73129-1428-4cd3-a780-95db273d1602",
      reason: "InviteAccountToOrganization failed (DuplicateHandshakeException): no handshake was created",
    });
  });

  test("reports every problem of a malformed invitation, one line each", () => {
    const broken = event({ userIdentity: "diego", responseElements: { handshake: { id: "h-UPPER" } } });

    let issues: readonly string[] = [];
    try {
      parseRealtimeEvent(broken);
    } catch (error) {
      if (error instanceof ConfigError) issues = error.issues;
    }

    expect(issues).toEqual([
      "event.detail.userIdentity: must be object",
      `event.detail.responseElements.handshake.id: ${HANDSHAKE_ID_PROBLEM}`,
    ]);
  });
});

describe("CloudTrail's text dates", () => {
  test.each([
    ["Feb 2, 2017 9:41:16 PM", "2017-02-02T21:41:16.000Z"],
    ["Jan 18, 2017 9:41:16 AM", "2017-01-18T09:41:16.000Z"],
    ["Dec 31, 2026 12:00:05 AM", "2026-12-31T00:00:05.000Z"],
    ["Jul 4, 2026 12:30:00 PM", "2026-07-04T12:30:00.000Z"],
  ])("read %s as %s (UTC)", (text, iso) => {
    expect(parseCloudTrailDate(text)?.toISOString()).toBe(iso);
  });

  test.each([
    "Feb 30, 2017 9:41:16 PM",
    "Foo 2, 2017 9:41:16 PM",
    "Feb 2, 2017 13:41:16 PM",
    "2017-02-02T21:41:16Z",
    "",
  ])("are not read from %j", (text) => {
    expect(parseCloudTrailDate(text)).toBeUndefined();
  });

  test("written by the emulator read back to the same second", () => {
    for (const iso of ["2026-11-29T00:07:09.999Z", "2026-11-29T12:00:00.000Z", "2026-02-28T23:59:59.000Z"]) {
      const date = new Date(iso);
      expect(parseCloudTrailDate(formatCloudTrailDate(date))?.getTime()).toBe(
        Math.floor(date.getTime() / 1000) * 1000,
      );
    }
  });
});
