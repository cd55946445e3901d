import {
  array,
  type Infer,
  type Issue,
  lazy,
  literal,
  looseObject,
  matches,
  maxLength,
  minLength,
  type Schema,
  string,
} from "../domain/check.js";
import { ConfigError } from "../domain/errors.js";
import { HANDSHAKE_ID_PATTERN, HANDSHAKE_ID_PROBLEM, type Handshake } from "../domain/handshake.js";
import { eventDepthProblem } from "./event-depth.js";

/**
 * The EventBridge event for an Organizations API call recorded by CloudTrail, as the janitor
 * reads it. Facts it relies on:
 * - EventBridge's envelope: `version`, `id` (unique per event; a redelivery repeats it),
 *   `detail-type`, `source`, `account`, `time`, `region`, `resources`, `detail`.
 * - Organizations is a global service whose CloudTrail events are recorded in us-east-1 only;
 *   EventBridge delivers them there with `source: aws.organizations` and
 *   `detail-type: "AWS API Call via CloudTrail"`, and only while a trail logs management events.
 * - `detail` is the CloudTrail record: `eventSource: organizations.amazonaws.com`, `eventName`,
 *   `userIdentity` (`type`, `principalId`, `arn`, `accountId`, …), `requestParameters`,
 *   `responseElements`, `errorCode`/`errorMessage` when the call failed (then there is no response).
 * - For InviteAccountToOrganization, `responseElements.handshake` is the new handshake with
 *   lower-case keys (`id`, `arn`, `parties`, `state`, `action`, `resources`,
 *   `requestedTimestamp`, `expirationTimestamp`), a lower-case `action` (`invite`) and dates as
 *   text ("Feb 2, 2017 9:41:16 PM"), unlike the API's shapes.
 * The copy is a hint only: the handler describes the handshake afresh before judging it.
 */
export const REALTIME_SOURCE = "aws.organizations";
export const REALTIME_DETAIL_TYPE = "AWS API Call via CloudTrail";
export const REALTIME_EVENT_SOURCE = "organizations.amazonaws.com";
/** The one operation judged in real time; EnableAllFeatures is left to the sweep (see README). */
export const REALTIME_EVENT_NAMES = ["InviteAccountToOrganization"] as const;

/** EventBridge ids are UUIDs; anything else that is key-safe is accepted, nothing more. */
const EVENT_ID = /^[A-Za-z0-9-]{1,128}$/;

const text = (max: number) => string().check(minLength(1)).check(maxLength(max));
const upTo = (max: number) => string().check(maxLength(max));

const party = looseObject({ type: upTo(64).optional(), id: upTo(256).optional() });
interface TrailResource {
  type?: string | undefined;
  value?: string | undefined;
  resources?: TrailResource[] | undefined;
}
const resource: Schema<TrailResource> = lazy(() =>
  looseObject({
    type: upTo(64).optional(),
    value: upTo(4096).optional(),
    resources: array(resource, { max: [50] }).optional(),
  }),
);

const trailHandshake = looseObject({
  id: string().check(matches(HANDSHAKE_ID_PATTERN, HANDSHAKE_ID_PROBLEM)),
  arn: upTo(2048).optional(),
  state: upTo(64).optional(),
  action: upTo(64).optional(),
  parties: array(party, { max: [10] }).optional(),
  resources: array(resource, { max: [50] }).optional(),
  requestedTimestamp: upTo(64).optional(),
  expirationTimestamp: upTo(64).optional(),
});

const userIdentity = looseObject({
  type: text(64).optional(),
  principalId: text(256).optional(),
  arn: text(2048).optional(),
  accountId: upTo(32).optional(),
  invokedBy: text(256).optional(),
});

const envelope = looseObject({
  id: string().check(matches(EVENT_ID, "must be the EventBridge event id (letters, digits, '-')")),
  source: literal(REALTIME_SOURCE),
  "detail-type": literal(REALTIME_DETAIL_TYPE),
  detail: looseObject({
    eventSource: literal(REALTIME_EVENT_SOURCE),
    eventName: text(128),
  }),
});

const inviteDetail = looseObject({
  userIdentity,
  eventTime: upTo(64).optional(),
  errorCode: upTo(256).optional(),
  responseElements: looseObject({ handshake: trailHandshake }).nullable().optional(),
});

export type RealtimeEvent =
  | {
      kind: "invite";
      eventId: string;
      /** `event-<id>`: the audit's run id, the same for every delivery of the event. */
      runId: string;
      handshakeId: string;
      /** The caller's ARN, else `type:principalId` (CloudTrail omits the ARN for some identities). */
      actor: string;
      /** The event's copy of the handshake, in the project's shape; only a hint. */
      hint: Handshake;
    }
  | { kind: "ignored"; eventId: string; reason: string };

/**
 * Reads an EventBridge event for the real-time path: an invitation to judge, an event to ignore
 * (another operation, or an invitation whose call failed and created nothing), or a malformed
 * event, which throws ConfigError with one line per problem before anything is called.
 */
export function parseRealtimeEvent(event: unknown): RealtimeEvent {
  const deep = eventDepthProblem(event);
  if (deep !== undefined) throw new ConfigError([deep]);
  const kind = otherKind(event);
  if (kind !== undefined) throw new ConfigError([kind]);
  const outer = envelope.safeParse(event);
  if (!outer.success) throw new ConfigError(issueLines(outer.error));
  const { id } = outer.data;
  const { eventName } = outer.data.detail;
  if (!(REALTIME_EVENT_NAMES as readonly string[]).includes(eventName)) {
    return { kind: "ignored", eventId: id, reason: `${eventName} is not judged in real time` };
  }
  const detail = inviteDetail.safeParse(outer.data.detail);
  if (!detail.success) throw new ConfigError(issueLines(detail.error, ["detail"]));
  const { errorCode, responseElements } = detail.data;
  if (errorCode !== undefined) {
    return {
      kind: "ignored",
      eventId: id,
      reason: `${eventName} failed (${errorCode}): no handshake was created`,
    };
  }
  if (!responseElements) {
    throw new ConfigError(["event.detail.responseElements.handshake: required for a successful invitation"]);
  }
  const actor = actorOf(detail.data.userIdentity);
  if (actor === undefined) {
    throw new ConfigError(["event.detail.userIdentity: names no caller (arn, or type and principalId)"]);
  }
  const handshake = responseElements.handshake;
  return {
    kind: "invite",
    eventId: id,
    runId: `event-${id}`,
    handshakeId: handshake.id,
    actor,
    hint: hintOf(handshake),
  };
}

/** Another kind of event altogether (a schedule, a manual payload): one line says which. */
function otherKind(event: unknown): string | undefined {
  if (typeof event !== "object" || event === null || Array.isArray(event)) return undefined;
  const { source, "detail-type": detailType } = event as Record<string, unknown>;
  if (source === REALTIME_SOURCE && detailType === REALTIME_DETAIL_TYPE) return undefined;
  const shown = (value: unknown) => (typeof value === "string" ? JSON.stringify(value.slice(0, 64)) : "none");
  return `event.source: must be "${REALTIME_SOURCE}" with detail-type "${REALTIME_DETAIL_TYPE}" (got source ${shown(source)}, detail-type ${shown(detailType)})`;
}

function actorOf(identity: Infer<typeof userIdentity>): string | undefined {
  if (identity.arn !== undefined) return identity.arn;
  if (identity.type !== undefined && identity.principalId !== undefined) {
    return `${identity.type}:${identity.principalId}`;
  }
  return identity.invokedBy ?? identity.principalId ?? undefined;
}

function hintOf(handshake: Infer<typeof trailHandshake>): Handshake {
  const target = handshake.parties?.find((p) => p.type?.toUpperCase() !== "ORGANIZATION");
  const notes = handshake.resources?.find((r) => r.type?.toUpperCase() === "NOTES")?.value;
  const requestedAt = parseCloudTrailDate(handshake.requestedTimestamp);
  const expiresAt = parseCloudTrailDate(handshake.expirationTimestamp);
  return {
    id: handshake.id,
    ...(handshake.arn ? { arn: handshake.arn } : {}),
    state: (handshake.state ?? "").toUpperCase(),
    action: (handshake.action ?? "").toUpperCase(),
    ...(requestedAt ? { requestedAt } : {}),
    ...(expiresAt ? { expiresAt } : {}),
    ...(target?.type && target.id ? { target: { type: target.type.toUpperCase(), value: target.id } } : {}),
    ...(notes !== undefined ? { notes } : {}),
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const TRAIL_DATE = /^([A-Z][a-z]{2}) (\d{1,2}), (\d{4}) (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$/;

/** "Feb 2, 2017 9:41:16 PM" (UTC, as CloudTrail writes it) to a Date; undefined when it is not one. */
export function parseCloudTrailDate(value: string | undefined): Date | undefined {
  const match = value === undefined ? null : TRAIL_DATE.exec(value);
  if (match === null) return undefined;
  const [, month, day, year, hour, minute, second, half] = match;
  const monthIndex = MONTHS.indexOf(month ?? "");
  const hour12 = Number(hour);
  if (monthIndex < 0 || hour12 < 1 || hour12 > 12) return undefined;
  const hour24 = (hour12 % 12) + (half === "PM" ? 12 : 0);
  const date = new Date(
    Date.UTC(Number(year), monthIndex, Number(day), hour24, Number(minute), Number(second)),
  );
  return date.getUTCDate() === Number(day) ? date : undefined;
}

function issueLines(error: { issues: Issue[] }, prefix: readonly (string | number)[] = []): string[] {
  return error.issues.map((issue) => {
    const path = ["event", ...[...prefix, ...issue.path].map((p) => String(p))].join(".");
    if (issue.code === "invalid_type") return `${path}: must be ${issue.expected}`;
    if (issue.code === "invalid_value") {
      return `${path}: must be ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(" or ")}`;
    }
    return `${path}: ${issue.message}`;
  });
}
