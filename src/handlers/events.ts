import {
  array,
  boolean,
  type Issue,
  literal,
  matches,
  maxLength,
  minLength,
  strictObject,
  string,
} from "../domain/check.js";
import { ConfigError } from "../domain/errors.js";
import { HANDSHAKE_ID_PATTERN, HANDSHAKE_ID_PROBLEM } from "../domain/handshake.js";
import type { Trigger } from "../domain/outcomes.js";
import type { SelectionProblem } from "../policy/plan.js";
import { eventDepthProblem } from "./event-depth.js";

/** What one invocation asks for, whichever way it came. */
export interface InvocationRequest {
  trigger: Trigger;
  runId: string;
  actor: string;
  dryRun?: boolean;
  ruleIds?: string[];
  handshakeIds?: string[];
  note?: string;
}

/** The top-level keys of every EventBridge event; the scheduled event has exactly these. */
const SCHEDULED_KEYS = [
  "version",
  "id",
  "detail-type",
  "source",
  "account",
  "time",
  "region",
  "resources",
  "detail",
] as const;
const MANUAL_KEYS = ["dryRun", "rules", "handshakeIds", "reason", "actor"] as const;

/**
 * An RFC 3339 date-time with seconds and a zone (`Z` or an offset), on a calendar date that exists:
 * what EventBridge writes in `time`.
 */
const ISO_DATE_TIME =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8])))T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

const SCHEDULED_SHAPE = `it has exactly ${SCHEDULED_KEYS.join(", ")}; a manual invoke has none of them`;

/**
 * EventBridge's scheduled event, exactly as documented ("Amazon EventBridge events from AWS
 * services", Scheduled Event): nothing may be added, since anything added would be a way to steer
 * a run (the console's test template edited to say `"dryRun": true` ran a live sweep). The id becomes
 * the run id and the audit table's key, so it is held to what a run id may be (EventBridge sends a UUID).
 */
const scheduledEvent = strictObject({
  version: literal("0", 'must be "0"'),
  id: string().check(matches(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1-128 letters, digits or . _ : -")),
  "detail-type": literal("Scheduled Event", 'must be "Scheduled Event"'),
  source: literal("aws.events", 'must be "aws.events"'),
  account: string().check(matches(/^\d{12}$/, "must be an account id of 12 digits")),
  time: string("must be an ISO-8601 date-time").check(
    matches(ISO_DATE_TIME, "must be an ISO-8601 date-time"),
  ),
  region: string().check(matches(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, "must be an AWS region such as us-east-1")),
  /** The schedule's rule: the run's actor. */
  resources: array(
    string().check(
      matches(
        /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:rule\/[A-Za-z0-9._/-]{1,256}$/,
        "must be the ARN of an EventBridge rule",
      ),
    ),
    { length: [1, "must name exactly the one rule that fired"] },
  ),
  detail: strictObject({}),
});

/** The manual-invoke event of the contract: every field optional, nothing else allowed. */
const manualEvent = strictObject({
  dryRun: boolean().optional(),
  rules: array(
    string().check(minLength(1, "must not be empty")).check(maxLength(128, "must be at most 128 characters")),
    { min: [1, "must not be empty (leave it out to apply every rule)"] },
  ).optional(),
  handshakeIds: array(string().check(matches(HANDSHAKE_ID_PATTERN, HANDSHAKE_ID_PROBLEM)), {
    min: [1, "must not be empty (leave it out to select every handshake)"],
  }).optional(),
  reason: string()
    .check(minLength(1, "must not be empty"))
    .check(maxLength(1024, "must be at most 1024 characters"))
    .optional(),
  actor: string()
    .check(minLength(1, "must not be empty"))
    .check(maxLength(256, "must be at most 256 characters"))
    .optional(),
});

type EventRecord = Record<string, unknown>;

function isRecord(value: unknown): value is EventRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Turns the raw event into a request, or throws ConfigError with one line per problem before
 * anything is called. `requestId` is Lambda's: an async retry of the same invocation keeps it,
 * so a retried manual run does nothing twice, as the scheduled event's `id` does for the cron.
 *
 * An event carrying any EventBridge key is held to the scheduled shape and nothing else: a manual
 * invoke cannot mix in scheduled keys to record `trigger: scheduled`, and a half-scheduled event is
 * not quietly treated as a manual one either. (Whoever may invoke the function can still send a
 * complete scheduled event; only IAM on lambda:InvokeFunction decides who that is.)
 */
export function parseEvent(event: unknown, requestId: string, functionName: string): InvocationRequest {
  const deep = eventDepthProblem(event);
  if (deep !== undefined) throw new ConfigError([deep]);
  if (isRecord(event) && SCHEDULED_KEYS.some((key) => Object.hasOwn(event, key))) {
    const foreign = notASweepRequest(event);
    if (foreign !== undefined) throw new ConfigError([foreign]);
    const parsed = scheduledEvent.safeParse(event);
    if (!parsed.success) throw new ConfigError(issueLines(parsed.error, event, "scheduled"));
    return {
      trigger: "scheduled",
      runId: parsed.data.id,
      actor: parsed.data.resources[0] ?? "eventbridge-schedule",
    };
  }
  const input = event ?? {};
  if (!isRecord(input)) {
    throw new ConfigError(["event: must be an object: EventBridge's scheduled event or a manual invoke"]);
  }
  const parsed = manualEvent.safeParse(input);
  if (!parsed.success) throw new ConfigError(issueLines(parsed.error, input, "manual"));
  const { dryRun, rules, handshakeIds, reason, actor } = parsed.data;
  return {
    trigger: "manual",
    runId: `manual-${requestId}`,
    actor: actor ?? `lambda-invoke:${functionName}`,
    ...(dryRun !== undefined ? { dryRun } : {}),
    ...(rules ? { ruleIds: rules } : {}),
    ...(handshakeIds ? { handshakeIds } : {}),
    ...(reason ? { note: reason } : {}),
  };
}

/**
 * An EventBridge event from another source is not a sweep request. Organizations' CloudTrail events
 * (an invitation just sent) belong to the real-time handler, which judges that one handshake; the
 * sweep must not turn one into a full run.
 */
function notASweepRequest(event: EventRecord): string | undefined {
  const source = event.source;
  const detailType = event["detail-type"];
  if (source === "aws.organizations" || detailType === "AWS API Call via CloudTrail") {
    return `event: an ${quote(detailType)} event from ${quote(source)} is not a sweep request (the real-time handler judges those); nothing was called`;
  }
  if (source !== undefined && source !== "aws.events") {
    return `event.source: ${quote(source)} is not a sweep request; only EventBridge's scheduled event (source "aws.events") is`;
  }
  return undefined;
}

/** A value from the event as it may appear in a log line: quoted, short, one line. */
function quote(value: unknown): string {
  if (typeof value !== "string") return value === undefined ? "unnamed" : `a ${typeof value}`;
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

function keyName(key: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(key) ? `'${key}'` : quote(key);
}

function pathOf(path: readonly PropertyKey[]): string {
  return ["event", ...path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))].join("");
}

function issueLines(error: { issues: Issue[] }, event: EventRecord, shape: "scheduled" | "manual"): string[] {
  return error.issues.flatMap((issue) => {
    const path = pathOf(issue.path);
    if (issue.code === "unrecognized_keys") {
      return (issue.keys ?? []).map((key) => {
        if (issue.path.length > 0)
          return `${path}: unknown key ${keyName(key)} (a scheduled event's detail is empty)`;
        return shape === "scheduled"
          ? `${path}: unknown key ${keyName(key)} in a scheduled event (${SCHEDULED_SHAPE})`
          : `${path}: unknown key ${keyName(key)} (known: ${MANUAL_KEYS.join(", ")})`;
      });
    }
    const [key] = issue.path;
    if (issue.path.length === 1 && typeof key === "string" && !Object.hasOwn(event, key)) {
      return [`${path}: is required in a scheduled event`];
    }
    if (issue.code === "invalid_type") return [`${path}: must be ${issue.expected}`];
    return [`${path}: ${issue.message}`];
  });
}

/** A selection problem as the manual event names it: `event.rules[0]: unknown rule id …`. */
export function eventSelectionIssue({ field, index, problem }: SelectionProblem): string {
  return `event.${field}${index === undefined ? "" : `[${index}]`}: ${problem}`;
}
