/**
 * The EventBridge event that AWS delivers when CloudTrail records a successful
 * InviteAccountToOrganization call, built from what the local emulator created. It has the
 * envelope EventBridge sends (`version`, `id`, `detail-type`, `source`, `account`, `time`,
 * `region`, `resources`, `detail`) and the CloudTrail record in `detail`, whose
 * `responseElements.handshake` copies the new handshake with lower-case keys, a lower-case
 * `action` and dates as text ("Feb 2, 2017 9:41:16 PM"), as the service writes it.
 * src/handlers/cloudtrail-event.ts reads it; test/integration/realtime.test.ts checks the two agree.
 */

export interface CloudTrailUserIdentity {
  type: string;
  principalId: string;
  arn?: string;
  accountId: string;
  accessKeyId?: string;
  userName?: string;
}

export interface TrailHandshakeResource {
  type: string;
  value?: string;
  resources?: TrailHandshakeResource[];
}

export interface TrailHandshake {
  id: string;
  arn: string;
  parties: { type: string; id: string }[];
  state: string;
  action: string;
  resources?: TrailHandshakeResource[];
  requestedTimestamp: string;
  expirationTimestamp: string;
}

export interface CloudTrailApiCallEvent {
  version: "0";
  id: string;
  "detail-type": "AWS API Call via CloudTrail";
  source: "aws.organizations";
  account: string;
  time: string;
  region: "us-east-1";
  resources: string[];
  detail: {
    eventVersion: string;
    userIdentity: CloudTrailUserIdentity;
    eventTime: string;
    eventSource: "organizations.amazonaws.com";
    eventName: "InviteAccountToOrganization";
    awsRegion: "us-east-1";
    sourceIPAddress: string;
    userAgent: string;
    requestParameters: { target: { type: string; id: string }; notes?: string };
    responseElements: { handshake: TrailHandshake };
    requestID: string;
    eventID: string;
    readOnly: false;
    eventType: "AwsApiCall";
    managementEvent: true;
    recipientAccountId: string;
    eventCategory: "Management";
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "Feb 2, 2017 9:41:16 PM", in UTC, to the second: the text form of the event's copy. */
export function formatCloudTrailDate(date: Date): string {
  const hour = date.getUTCHours() % 12 || 12;
  const pad = (n: number) => String(n).padStart(2, "0");
  const half = date.getUTCHours() < 12 ? "AM" : "PM";
  return `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}, ${date.getUTCFullYear()} ${hour}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${half}`;
}

/** ISO-8601 to the second, as CloudTrail's eventTime and EventBridge's time are written. */
function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

interface WireResource {
  Type: string;
  Value?: string;
  Resources?: WireResource[];
}

function lowerResources(resources: readonly WireResource[]): TrailHandshakeResource[] {
  return resources.map((r) => ({
    type: r.Type,
    ...(r.Value !== undefined ? { value: r.Value } : {}),
    ...(r.Resources !== undefined ? { resources: lowerResources(r.Resources) } : {}),
  }));
}

export interface InviteEventInput {
  /** The handshake as the API answered it (awsJson: epoch seconds). */
  handshake: {
    Id: string;
    Arn: string;
    Parties: { Type: string; Id: string }[];
    State: string;
    Action: string;
    RequestedTimestamp: number;
    ExpirationTimestamp: number;
    Resources?: WireResource[];
  };
  target: { type: string; id: string };
  notes?: string;
  identity: CloudTrailUserIdentity;
  account: string;
  eventId: string;
  cloudTrailEventId: string;
  requestId: string;
  userAgent: string;
  at: Date;
}

export function inviteEvent(input: InviteEventInput): CloudTrailApiCallEvent {
  const h = input.handshake;
  return {
    version: "0",
    id: input.eventId,
    "detail-type": "AWS API Call via CloudTrail",
    source: "aws.organizations",
    account: input.account,
    time: isoSeconds(input.at),
    region: "us-east-1",
    resources: [],
    detail: {
      eventVersion: "1.08",
      userIdentity: structuredClone(input.identity),
      eventTime: isoSeconds(input.at),
      eventSource: "organizations.amazonaws.com",
      eventName: "InviteAccountToOrganization",
      awsRegion: "us-east-1",
      sourceIPAddress: "127.0.0.1",
      userAgent: input.userAgent,
      requestParameters: {
        target: { type: input.target.type, id: input.target.id },
        ...(input.notes !== undefined ? { notes: input.notes } : {}),
      },
      responseElements: {
        handshake: {
          id: h.Id,
          arn: h.Arn,
          parties: h.Parties.map((p) => ({ type: p.Type, id: p.Id })),
          state: h.State,
          action: h.Action.toLowerCase(),
          ...(h.Resources !== undefined ? { resources: lowerResources(h.Resources) } : {}),
          requestedTimestamp: formatCloudTrailDate(new Date(h.RequestedTimestamp * 1000)),
          expirationTimestamp: formatCloudTrailDate(new Date(h.ExpirationTimestamp * 1000)),
        },
      },
      requestID: input.requestId,
      eventID: input.cloudTrailEventId,
      readOnly: false,
      eventType: "AwsApiCall",
      managementEvent: true,
      recipientAccountId: input.account,
      eventCategory: "Management",
    },
  };
}

/** The access key id of a SigV4 Authorization header, as CloudTrail records it. */
export function accessKeyIdOf(authorization: string | undefined): string | undefined {
  return /Credential=([^/,\s]+)\//.exec(authorization ?? "")?.[1];
}
