/**
 * A local AWS Organizations endpoint for the demo and the integration tests. It speaks the real
 * awsJson1_1 protocol, so the unmodified SDK client (or the AWS CLI) talks to it over HTTP with
 * nothing but an endpoint override, and it can misbehave on purpose the ways the real service
 * does: throttling, short and empty pages, transient errors, a target accepting mid-sweep.
 *
 * Only the handshake operations the janitor uses are served. Everything the emulator emits is
 * checked against the AWS service model in test/integration/org-emulator.test.ts.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import {
  accessKeyIdOf,
  type CloudTrailApiCallEvent,
  type CloudTrailUserIdentity,
  inviteEvent,
} from "./cloudtrail.js";

export const TARGET_PREFIX = "AWSOrganizationsV20161128";

/**
 * Every operation served and every modeled error it can answer with. Responses are checked
 * against this table at runtime, and the table against the service model by the tests.
 */
export const OPERATION_ERRORS = {
  ListHandshakesForOrganization: [
    "ConcurrentModificationException",
    "InvalidInputException",
    "ServiceException",
    "TooManyRequestsException",
  ],
  DescribeHandshake: [
    "ConcurrentModificationException",
    "HandshakeNotFoundException",
    "InvalidInputException",
    "ServiceException",
    "TooManyRequestsException",
  ],
  CancelHandshake: [
    "ConcurrentModificationException",
    "HandshakeNotFoundException",
    "InvalidHandshakeTransitionException",
    "HandshakeAlreadyInStateException",
    "InvalidInputException",
    "ServiceException",
    "TooManyRequestsException",
  ],
  InviteAccountToOrganization: [
    "ConcurrentModificationException",
    "DuplicateHandshakeException",
    "InvalidInputException",
    "ServiceException",
    "TooManyRequestsException",
  ],
  DescribeOrganization: ["ConcurrentModificationException", "ServiceException", "TooManyRequestsException"],
} as const satisfies Record<string, readonly string[]>;

export type OperationName = keyof typeof OPERATION_ERRORS;
export const OPERATIONS = Object.keys(OPERATION_ERRORS) as OperationName[];

/**
 * Errors of the protocol layer rather than of an operation; the real endpoint answers them
 * before any operation runs, so the model does not list them.
 */
export const PROTOCOL_ERRORS = [
  "MissingAuthenticationTokenException",
  "UnknownOperationException",
  "SerializationException",
] as const;

export const HANDSHAKE_STATES = ["REQUESTED", "OPEN", "CANCELED", "ACCEPTED", "DECLINED", "EXPIRED"] as const;
export const ACTION_TYPES = [
  "INVITE",
  "ENABLE_ALL_FEATURES",
  "APPROVE_ALL_FEATURES",
  "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
  "TRANSFER_RESPONSIBILITY",
] as const;

export const HANDSHAKE_PARTY_TYPES = ["ACCOUNT", "ORGANIZATION", "EMAIL"] as const;
export const HANDSHAKE_RESOURCE_TYPES = [
  "ACCOUNT",
  "ORGANIZATION",
  "ORGANIZATION_FEATURE_SET",
  "EMAIL",
  "MASTER_EMAIL",
  "MASTER_NAME",
  "NOTES",
  "PARENT_HANDSHAKE",
  "RESPONSIBILITY_TRANSFER",
  "TRANSFER_START_TIMESTAMP",
  "TRANSFER_TYPE",
  "MANAGEMENT_ACCOUNT",
  "MANAGEMENT_EMAIL",
  "MANAGEMENT_NAME",
] as const;
export type HandshakeState = (typeof HANDSHAKE_STATES)[number];
export type ActionType = (typeof ACTION_TYPES)[number];
export type HandshakePartyType = (typeof HANDSHAKE_PARTY_TYPES)[number];
export type HandshakeResourceType = (typeof HANDSHAKE_RESOURCE_TYPES)[number];

const HANDSHAKE_ID = /^h-[0-9a-z]{8,32}$/;
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
const ACCOUNT_ID = /^\d{12}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MAX_RESULTS = { min: 1, max: 20 };
const MAX_NOTES = 1024;
/** Invitations expire after 15 days (Organizations quotas). */
const INVITE_LIFETIME_MS = 15 * 86_400_000;
const MAX_BODY_BYTES = 1_000_000;
const THROTTLE_MESSAGE =
  "AWS Organizations can't complete your request because another request is already in progress. Try again later.";
/**
 * The model types TooManyRequestsException.Type as a free string with no enum and AWS does not
 * document its values, so this one is the emulator's choice.
 */
const THROTTLE_TYPE = "RequestRateExceeded";

/**
 * A handshake as the model shapes it, with Date timestamps; `Arn` is derived when absent. The
 * enum fields take only the model's values, so a seed is also a valid SDK `Handshake`.
 */
export interface EmulatorHandshake {
  Id: string;
  Arn?: string;
  Parties: EmulatorHandshakeParty[];
  State: HandshakeState;
  RequestedTimestamp: Date;
  ExpirationTimestamp: Date;
  Action: ActionType;
  Resources?: EmulatorHandshakeResource[];
}

export interface EmulatorHandshakeParty {
  Id: string;
  Type: HandshakePartyType;
}

export interface EmulatorHandshakeResource {
  Type: HandshakeResourceType;
  Value?: string;
  Resources?: EmulatorHandshakeResource[];
}

export interface EmulatorOrganization {
  /** o- followed by 10 to 32 lowercase letters or digits. */
  Id: string;
  MasterAccountId: string;
  MasterAccountEmail: string;
  /** Not part of the model's Organization; only sent as the MASTER_NAME resource of invitations. */
  MasterAccountName?: string;
  FeatureSet?: "ALL" | "CONSOLIDATED_BILLING";
}

export interface TokenBucket {
  /** Tokens added per second; 0 means the burst is all there is. */
  ratePerSecond: number;
  /** Bucket size and initial content; 0 throttles every call. */
  burst: number;
}

export interface EmulatorFaults {
  /** Token bucket per operation; operations without one are never throttled. */
  throttle?: Partial<Record<OperationName, TokenBucket>>;
  /** Most items a list page holds, whatever MaxResults asks for. */
  pageSize?: number;
  /** Every Nth list call (N >= 2) answers an empty page that still carries a NextToken. */
  emptyPageEvery?: number;
  /** List pages hold a random 1..limit items instead of limit. */
  shortPages?: boolean;
  /** Probability (0..1) per call of ConcurrentModificationException. */
  concurrentModificationRate?: number;
  /** Probability (0..1) per call of ServiceException (HTTP 500). */
  serviceExceptionRate?: number;
  /** Probability (0..1) per call that the socket is destroyed without an answer. */
  resetConnectionRate?: number;
  /** Operations the three rates above apply to; default ListHandshakesForOrganization and CancelHandshake. */
  faultOperations?: readonly OperationName[];
  /**
   * Handshakes the target accepts just before the first CancelHandshake for them arrives, as
   * when an invitee clicks "accept" between the janitor's list and its cancel.
   */
  acceptBeforeCancel?: readonly string[];
  /** Delay before every answer. */
  latencyMs?: number;
}

export interface EmulatorExchange {
  operation: string;
  status: number;
  /** The JSON body as sent; undefined when the connection was reset. */
  body: unknown;
}

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. The server listens on 127.0.0.1 only. */
  port?: number;
  /** Seeds every random choice (faults, page sizes, ids, tokens); default 1. */
  seed?: number;
  organization?: Partial<EmulatorOrganization>;
  handshakes?: readonly EmulatorHandshake[];
  faults?: EmulatorFaults;
  /** Clock for new handshakes' timestamps; default the system clock. */
  now?: () => Date;
  /** Monotonic milliseconds for the token buckets; default performance.now(). */
  clock?: () => number;
  /** Sees every answer, for tests that check the wire format. */
  onResponse?: (exchange: EmulatorExchange) => void;
  /**
   * Who CloudTrail says made the calls, in the events of `events()`; by default an IAM user of the
   * management account, with the access key id the request was signed with.
   */
  caller?: Partial<CloudTrailUserIdentity>;
  /** Sees the EventBridge event of each successful InviteAccountToOrganization, as it is recorded. */
  onEvent?: (event: CloudTrailApiCallEvent) => void;
}

export interface OperationStats {
  requests: number;
  successes: number;
  /** Error name to count, including protocol errors. */
  errors: Record<string, number>;
  /** Connections destroyed without an answer. */
  resets: number;
}

export interface OrganizationsEmulator {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  organization: Readonly<Required<EmulatorOrganization>>;
  /** Replaces the faults; token buckets, the empty-page count and acceptBeforeCancel start over. */
  setFaults(faults: EmulatorFaults): void;
  /** Sets a handshake's state as if someone else acted on it. */
  mutate(id: string, state: HandshakeState): void;
  /** Every handshake, in list order, as deep copies. */
  handshakes(): EmulatorHandshake[];
  /** Counters keyed by operation name (or by the raw target when it names no operation). */
  stats(): Record<string, OperationStats>;
  /**
   * The EventBridge "AWS API Call via CloudTrail" event of every successful
   * InviteAccountToOrganization so far, oldest first, as deep copies (devtools/cloudtrail.ts).
   */
  events(): CloudTrailApiCallEvent[];
  resetStats(): void;
  /** Closes the server and every open connection, idle or not. */
  stop(): Promise<void>;
}

/** The organization the emulator serves unless told otherwise; sample-org's handshakes belong to it. */
export const DEFAULT_ORGANIZATION: Readonly<Required<EmulatorOrganization>> = {
  Id: "o-a1b2c3d4e5",
  MasterAccountId: "123456789012",
  MasterAccountEmail: "aws-management@example.com",
  MasterAccountName: "Example Corp management",
  FeatureSet: "ALL",
};

/** mulberry32: tiny, fast and good enough to make fault injection repeatable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

export function randomHandshakeId(random: () => number, length = 16): string {
  let id = "h-";
  for (let i = 0; i < length; i += 1) id += ID_ALPHABET[Math.floor(random() * ID_ALPHABET.length)];
  return id;
}

/**
 * Resources of an invitation the way the service builds them: the sender organization with its
 * management account's email and name nested under it, the target, then the notes if any.
 */
export function inviteResources(
  organization: Pick<EmulatorOrganization, "Id" | "MasterAccountEmail" | "MasterAccountName" | "FeatureSet">,
  target: EmulatorHandshakeParty,
  notes?: string,
): EmulatorHandshakeResource[] {
  const resources: EmulatorHandshakeResource[] = [
    {
      Type: "ORGANIZATION",
      Value: organization.Id,
      Resources: [
        { Type: "MASTER_EMAIL", Value: organization.MasterAccountEmail },
        { Type: "MASTER_NAME", Value: organization.MasterAccountName ?? "Management account" },
        { Type: "ORGANIZATION_FEATURE_SET", Value: organization.FeatureSet ?? "ALL" },
      ],
    },
    { Type: target.Type === "ACCOUNT" ? "ACCOUNT" : "EMAIL", Value: target.Id },
  ];
  if (notes !== undefined) resources.push({ Type: "NOTES", Value: notes });
  return resources;
}

export function handshakeArn(
  organization: Pick<EmulatorOrganization, "Id" | "MasterAccountId">,
  action: ActionType,
  id: string,
): string {
  // The model's HandshakeArn pattern allows at most 32 characters for the action segment, which
  // add_organizations_service_linked_role exceeds.
  const segment = action.toLowerCase().slice(0, 32);
  return `arn:aws:organizations::${organization.MasterAccountId}:handshake/${organization.Id}/${segment}/${id}`;
}

export async function startOrganizationsEmulator(
  options: EmulatorOptions = {},
): Promise<OrganizationsEmulator> {
  const seed = options.seed ?? 1;
  const organization = resolveOrganization(options.organization);
  const now = options.now ?? (() => new Date());
  const clock = options.clock ?? (() => performance.now());
  // One stream per purpose, so that e.g. turning on short pages does not shift which calls fail.
  const faultRandom = seededRandom(seed ^ 0x51ed270b);
  const pageRandom = seededRandom(seed ^ 0x2545f491);
  const idRandom = seededRandom(seed ^ 0x68e31da4);
  const requestIdRandom = seededRandom(seed ^ 0x1b873593);
  const eventRandom = seededRandom(seed ^ 0x3c6ef372);
  const recordedEvents: CloudTrailApiCallEvent[] = [];
  const tokenKey = `handshake-janitor-emulator/${seed}`;

  const store = new Map<string, EmulatorHandshake>();
  for (const [index, seedHandshake] of (options.handshakes ?? []).entries()) {
    const problem = handshakeProblem(seedHandshake);
    if (problem !== undefined) throw new TypeError(`handshakes[${index}]: ${problem}`);
    if (store.has(seedHandshake.Id)) {
      throw new TypeError(`handshakes[${index}].Id: duplicate ${seedHandshake.Id}`);
    }
    const copy = cloneHandshake(seedHandshake);
    copy.Arn ??= handshakeArn(organization, copy.Action, copy.Id);
    store.set(copy.Id, copy);
  }

  let faults: EmulatorFaults = {};
  let buckets = new Map<string, { tokens: number; at: number }>();
  let listCalls = 0;
  let acceptPending = new Set<string>();
  let counters: Record<string, OperationStats> = {};
  const stopping = new AbortController();

  function setFaults(next: EmulatorFaults): void {
    const problems = faultProblems(next);
    if (problems.length > 0) throw new RangeError(problems.join("\n"));
    faults = structuredClone(next);
    buckets = new Map();
    listCalls = 0;
    acceptPending = new Set(next.acceptBeforeCancel ?? []);
  }
  setFaults(options.faults ?? {});

  function counter(operation: string): OperationStats {
    counters[operation] ??= { requests: 0, successes: 0, errors: {}, resets: 0 };
    return counters[operation];
  }

  function takeToken(operation: OperationName): boolean {
    const config = faults.throttle?.[operation];
    if (config === undefined) return true;
    const at = clock();
    const bucket = buckets.get(operation) ?? { tokens: config.burst, at };
    bucket.tokens = Math.min(config.burst, bucket.tokens + ((at - bucket.at) / 1000) * config.ratePerSecond);
    bucket.at = at;
    buckets.set(operation, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  function requestId(): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(requestIdRandom() * 16).toString(16)).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function uuid(random: () => number): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** What CloudTrail, then EventBridge, would hand on for an invitation that was just created. */
  function recordInvite(request: IncomingMessage, input: Record<string, unknown>, answer: unknown): void {
    const handshake = (answer as { Handshake: Parameters<typeof inviteEvent>[0]["handshake"] }).Handshake;
    const target = input.Target as { Type: string; Id: string };
    const accessKeyId = accessKeyIdOf(headerValue(request, "authorization"));
    const userName = options.caller?.userName ?? "janitor-local";
    const identity: CloudTrailUserIdentity = {
      type: "IAMUser",
      principalId: "AIDALOCALEMULATOR0001",
      arn: `arn:aws:iam::${organization.MasterAccountId}:user/${userName}`,
      accountId: organization.MasterAccountId,
      ...(accessKeyId !== undefined ? { accessKeyId } : {}),
      userName,
      ...options.caller,
    };
    const notes = typeof input.Notes === "string" ? input.Notes : undefined;
    const event = inviteEvent({
      handshake,
      target: { type: target.Type, id: target.Id },
      ...(notes !== undefined ? { notes } : {}),
      identity,
      account: organization.MasterAccountId,
      eventId: uuid(eventRandom),
      cloudTrailEventId: uuid(eventRandom),
      requestId: uuid(eventRandom),
      userAgent: headerValue(request, "user-agent") ?? "unknown",
      at: now(),
    });
    recordedEvents.push(event);
    const hook = options.onEvent;
    if (hook !== undefined) queueMicrotask(() => hook(structuredClone(event)));
  }

  function newHandshakeId(): string {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const id = randomHandshakeId(idRandom);
      if (!store.has(id)) return id;
    }
    throw new Error("could not draw a fresh handshake id in 100 attempts");
  }

  function encodeToken(offset: number, filterKey: string): string {
    const nonce = Math.floor(pageRandom() * 0xffffffff).toString(36);
    const payload = Buffer.from(JSON.stringify({ o: offset, f: filterKey, n: nonce })).toString("base64url");
    return `${payload}.${sign(payload)}`;
  }

  function decodeToken(token: string, filterKey: string, total: number): number {
    const invalid = new WireError("InvalidInputException", "The NextToken is not valid.", {
      Reason: "INVALID_NEXT_TOKEN",
    });
    const [payload, signature, ...rest] = token.split(".");
    if (payload === undefined || signature === undefined || rest.length > 0 || sign(payload) !== signature) {
      throw invalid;
    }
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      throw invalid;
    }
    if (!isRecord(decoded) || decoded.f !== filterKey) throw invalid;
    const offset = decoded.o;
    if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0 || offset > total) {
      throw invalid;
    }
    return offset;
  }

  function sign(payload: string): string {
    return createHmac("sha256", tokenKey).update(payload).digest("base64url").slice(0, 22);
  }

  function listHandshakes(input: Record<string, unknown>): unknown {
    const filter = optionalRecord(input, "Filter");
    const actionType = optionalString(filter ?? {}, "ActionType", "Filter.ActionType");
    const parentId = optionalString(filter ?? {}, "ParentHandshakeId", "Filter.ParentHandshakeId");
    if (actionType !== undefined && parentId !== undefined) {
      throw invalidInput("MAX_LIMIT_EXCEEDED_FILTER", "You can specify only one filter parameter.");
    }
    if (actionType !== undefined && !(ACTION_TYPES as readonly string[]).includes(actionType)) {
      throw invalidInput("INVALID_ENUM", `Filter.ActionType: unknown value ${actionType}.`);
    }
    if (parentId !== undefined) checkHandshakeId(parentId);
    const maxResults = input.MaxResults;
    if (maxResults !== undefined && maxResults !== null) {
      if (typeof maxResults !== "number" || !Number.isInteger(maxResults)) {
        throw new WireError("SerializationException", "MaxResults must be an integer.");
      }
      if (maxResults < MAX_RESULTS.min) throw invalidInput("MIN_VALUE_EXCEEDED", "MaxResults is below 1.");
      if (maxResults > MAX_RESULTS.max) throw invalidInput("MAX_VALUE_EXCEEDED", "MaxResults is above 20.");
    }
    const nextToken = optionalString(input, "NextToken", "NextToken");

    const matching = [...store.values()].filter(
      (h) =>
        (actionType === undefined || h.Action === actionType) &&
        (parentId === undefined ||
          (h.Resources ?? []).some((r) => r.Type === "PARENT_HANDSHAKE" && r.Value === parentId)),
    );
    const filterKey = `${actionType ?? ""}|${parentId ?? ""}`;
    const offset = nextToken === undefined ? 0 : decodeToken(nextToken, filterKey, matching.length);

    listCalls += 1;
    let limit = Math.min(
      typeof maxResults === "number" ? maxResults : MAX_RESULTS.max,
      faults.pageSize ?? Infinity,
    );
    if (faults.shortPages === true) limit = 1 + Math.floor(pageRandom() * limit);
    const empty = faults.emptyPageEvery !== undefined && listCalls % faults.emptyPageEvery === 0;
    // The real service may answer an empty page that still has a NextToken; the docs tell
    // callers to keep going until NextToken is absent.
    const end = empty ? offset : Math.min(offset + limit, matching.length);
    const page = matching.slice(offset, end).map((h) => toWire(h));
    const more = empty ? offset < matching.length : end < matching.length;
    return more ? { Handshakes: page, NextToken: encodeToken(end, filterKey) } : { Handshakes: page };
  }

  function findHandshake(input: Record<string, unknown>): EmulatorHandshake {
    const id = optionalString(input, "HandshakeId", "HandshakeId");
    if (id === undefined) throw invalidInput("INPUT_REQUIRED", "HandshakeId is required.");
    checkHandshakeId(id);
    const handshake = store.get(id);
    if (handshake === undefined) {
      throw new WireError(
        "HandshakeNotFoundException",
        "We can't find a handshake with the HandshakeId that you specified.",
      );
    }
    return handshake;
  }

  function cancelHandshake(input: Record<string, unknown>): unknown {
    const handshake = findHandshake(input);
    if (
      acceptPending.delete(handshake.Id) &&
      (handshake.State === "OPEN" || handshake.State === "REQUESTED")
    ) {
      handshake.State = "ACCEPTED";
    }
    if (handshake.State === "CANCELED") {
      throw new WireError(
        "HandshakeAlreadyInStateException",
        `Handshake ${handshake.Id} is already CANCELED.`,
      );
    }
    if (handshake.State !== "OPEN" && handshake.State !== "REQUESTED") {
      throw new WireError(
        "InvalidHandshakeTransitionException",
        `You can't cancel handshake ${handshake.Id} because it is ${handshake.State}.`,
      );
    }
    handshake.State = "CANCELED";
    return { Handshake: toWire(handshake) };
  }

  function inviteAccount(input: Record<string, unknown>): unknown {
    const target = optionalRecord(input, "Target");
    if (target === undefined) throw invalidInput("INPUT_REQUIRED", "Target is required.");
    const id = optionalString(target, "Id", "Target.Id");
    const type = optionalString(target, "Type", "Target.Type");
    if (id === undefined || type === undefined) {
      throw invalidInput("INPUT_REQUIRED", "Target.Id and Target.Type are required.");
    }
    if (type === "ORGANIZATION") {
      throw invalidInput("INVALID_PARTY_TYPE_TARGET", "You can invite only an ACCOUNT or an EMAIL.");
    }
    if (type !== "ACCOUNT" && type !== "EMAIL") {
      throw invalidInput("INVALID_ENUM", `Target.Type: unknown value ${type}.`);
    }
    if (type === "ACCOUNT" && !ACCOUNT_ID.test(id)) {
      throw invalidInput("INVALID_PATTERN", "Target.Id must be 12 digits.");
    }
    if (type === "EMAIL" && (id.length < 6 || id.length > 64 || !EMAIL.test(id))) {
      throw invalidInput("INVALID_EMAIL_ADDRESS_TARGET", "Target.Id is not a valid email address.");
    }
    const notes = optionalString(input, "Notes", "Notes");
    if (notes !== undefined && notes.length > MAX_NOTES) {
      throw invalidInput("MAX_LENGTH_EXCEEDED", "Notes is too long.");
    }
    const tags = input.Tags;
    if (tags !== undefined && tags !== null && !Array.isArray(tags)) {
      throw new WireError("SerializationException", "Tags must be a list.");
    }
    const duplicate = [...store.values()].some(
      (h) =>
        h.Action === "INVITE" &&
        (h.State === "OPEN" || h.State === "REQUESTED") &&
        h.Parties.some((p) => p.Type === type && p.Id === id),
    );
    if (duplicate) {
      throw new WireError(
        "DuplicateHandshakeException",
        "A handshake with the same action and target already exists.",
      );
    }
    const requested = now();
    const handshakeId = newHandshakeId();
    const party: EmulatorHandshakeParty = { Id: id, Type: type === "ACCOUNT" ? "ACCOUNT" : "EMAIL" };
    const handshake: EmulatorHandshake = {
      Id: handshakeId,
      Arn: handshakeArn(organization, "INVITE", handshakeId),
      Parties: [{ Id: organization.Id, Type: "ORGANIZATION" }, party],
      State: "OPEN",
      RequestedTimestamp: requested,
      ExpirationTimestamp: new Date(requested.getTime() + INVITE_LIFETIME_MS),
      Action: "INVITE",
      Resources: inviteResources(organization, party, notes),
    };
    store.set(handshakeId, handshake);
    return { Handshake: toWire(handshake) };
  }

  function describeOrganization(): unknown {
    return {
      Organization: {
        Id: organization.Id,
        Arn: `arn:aws:organizations::${organization.MasterAccountId}:organization/${organization.Id}`,
        FeatureSet: organization.FeatureSet,
        MasterAccountArn: `arn:aws:organizations::${organization.MasterAccountId}:account/${organization.Id}/${organization.MasterAccountId}`,
        MasterAccountId: organization.MasterAccountId,
        MasterAccountEmail: organization.MasterAccountEmail,
        AvailablePolicyTypes: [{ Type: "SERVICE_CONTROL_POLICY", Status: "ENABLED" }],
      },
    };
  }

  const handlers: Record<OperationName, (input: Record<string, unknown>) => unknown> = {
    ListHandshakesForOrganization: listHandshakes,
    DescribeHandshake: (input) => ({ Handshake: toWire(findHandshake(input)) }),
    CancelHandshake: cancelHandshake,
    InviteAccountToOrganization: inviteAccount,
    DescribeOrganization: describeOrganization,
  };

  // Outside the request's try/catch: a failing hook must surface as an error of its own, never
  // turn into a different answer on the wire.
  function notify(exchange: EmulatorExchange): void {
    const hook = options.onResponse;
    if (hook !== undefined) queueMicrotask(() => hook(exchange));
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = headerValue(request, "x-amz-target");
    const named = target?.startsWith(`${TARGET_PREFIX}.`)
      ? target.slice(TARGET_PREFIX.length + 1)
      : undefined;
    const operation =
      named !== undefined && Object.hasOwn(handlers, named) ? (named as OperationName) : undefined;
    const label = operation ?? target ?? "(no target)";
    const stats = counter(label);
    stats.requests += 1;
    const reply = (status: number, body: unknown, errorName?: string) => {
      if (response.destroyed || response.writableEnded) return;
      const text = JSON.stringify(body);
      const headers: Record<string, string | number> = {
        "content-type": "application/x-amz-json-1.1",
        "content-length": Buffer.byteLength(text),
        "x-amzn-requestid": requestId(),
      };
      if (errorName !== undefined) headers["x-amzn-errortype"] = errorName;
      response.writeHead(status, headers).end(text);
      if (errorName === undefined) stats.successes += 1;
      else stats.errors[errorName] = (stats.errors[errorName] ?? 0) + 1;
      notify({ operation: label, status, body: structuredClone(body) });
    };
    const replyError = (error: WireError) => {
      const declared: readonly string[] = operation === undefined ? [] : OPERATION_ERRORS[operation];
      if (
        !declared.includes(error.errorName) &&
        !(PROTOCOL_ERRORS as readonly string[]).includes(error.errorName)
      ) {
        // An undeclared error would be invisible to the model check, so it is a bug here.
        error = new WireError("ServiceException", `emulator bug: undeclared ${error.errorName} for ${label}`);
      }
      const status = error.errorName === "ServiceException" ? 500 : 400;
      reply(status, { __type: error.errorName, Message: error.message, ...error.fields }, error.errorName);
    };

    try {
      // Read the whole body first so a keep-alive connection stays usable after an error.
      const body = await readBody(request);
      if (request.headers.authorization === undefined) {
        throw new WireError("MissingAuthenticationTokenException", "Missing Authentication Token");
      }
      if (request.method !== "POST" || operation === undefined) {
        throw new WireError(
          "UnknownOperationException",
          `Unknown operation ${target ?? "(no X-Amz-Target)"}`,
        );
      }
      const input = parseInput(body);
      if (faults.latencyMs !== undefined && faults.latencyMs > 0) {
        await delay(faults.latencyMs, undefined, { signal: stopping.signal });
      }
      const faulty = (
        faults.faultOperations ?? ["ListHandshakesForOrganization", "CancelHandshake"]
      ).includes(operation);
      // Always draw the same numbers per call so the fault sequence does not depend on timing.
      const draws = faulty ? [faultRandom(), faultRandom(), faultRandom()] : [1, 1, 1];
      if ((draws[0] ?? 1) < (faults.resetConnectionRate ?? 0)) {
        stats.resets += 1;
        request.socket.destroy();
        notify({ operation: label, status: 0, body: undefined });
        return;
      }
      if (!takeToken(operation)) {
        throw new WireError("TooManyRequestsException", THROTTLE_MESSAGE, { Type: THROTTLE_TYPE });
      }
      if ((draws[1] ?? 1) < (faults.concurrentModificationRate ?? 0)) {
        throw new WireError(
          "ConcurrentModificationException",
          "The target of the operation is currently being modified by a different request. Try again later.",
        );
      }
      if ((draws[2] ?? 1) < (faults.serviceExceptionRate ?? 0)) {
        throw new WireError(
          "ServiceException",
          "AWS Organizations can't complete your request because of an internal service error. Try again later.",
        );
      }
      const answer = handlers[operation](input);
      reply(200, answer);
      if (operation === "InviteAccountToOrganization") recordInvite(request, input, answer);
    } catch (error) {
      if (stopping.signal.aborted) {
        request.socket.destroy();
        return;
      }
      replyError(
        error instanceof WireError
          ? error
          : new WireError(
              "ServiceException",
              `emulator bug: ${error instanceof Error ? error.message : String(error)}`,
            ),
      );
    }
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    organization,
    setFaults,
    mutate(id, state) {
      const handshake = store.get(id);
      if (handshake === undefined) throw new RangeError(`mutate: no handshake ${id}`);
      if (!(HANDSHAKE_STATES as readonly string[]).includes(state)) {
        throw new RangeError(`mutate: unknown state ${state}`);
      }
      handshake.State = state;
    },
    handshakes: () => [...store.values()].map(cloneHandshake),
    stats: () => structuredClone(counters),
    events: () => structuredClone(recordedEvents),
    resetStats() {
      counters = {};
    },
    stop() {
      // Idempotent, so a caller's cleanup can run after a failed start or a second time.
      stopped ??= new Promise<void>((resolve, reject) => {
        stopping.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}

class WireError extends Error {
  readonly errorName: string;
  readonly fields: Record<string, string>;
  constructor(errorName: string, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.name = "WireError";
    this.errorName = errorName;
    this.fields = fields;
  }
}

function invalidInput(reason: string, message: string): WireError {
  return new WireError("InvalidInputException", message, { Reason: reason });
}

function checkHandshakeId(id: string): void {
  if (id.length > 34 || !HANDSHAKE_ID.test(id)) {
    throw invalidInput(
      "INVALID_PATTERN",
      `HandshakeId ${JSON.stringify(id)} does not match ${HANDSHAKE_ID.source}.`,
    );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalRecord(input: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new WireError("SerializationException", `${key} must be a structure.`);
  return value;
}

function optionalString(input: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new WireError("SerializationException", `${path} must be a string.`);
  return value;
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new WireError("SerializationException", "Request body too large.");
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseInput(body: string): Record<string, unknown> {
  if (body.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new WireError("SerializationException", "Request body is not valid JSON.");
  }
  if (!isRecord(parsed)) throw new WireError("SerializationException", "Request body must be a JSON object.");
  return parsed;
}

function resolveOrganization(seed: Partial<EmulatorOrganization> = {}): Required<EmulatorOrganization> {
  const organization: Required<EmulatorOrganization> = { ...DEFAULT_ORGANIZATION, ...definedOnly(seed) };
  if (!ORGANIZATION_ID.test(organization.Id)) {
    throw new TypeError(`organization.Id: ${organization.Id} is not o-[a-z0-9]{10,32}`);
  }
  if (!ACCOUNT_ID.test(organization.MasterAccountId)) {
    throw new TypeError(`organization.MasterAccountId: ${organization.MasterAccountId} is not 12 digits`);
  }
  if (!EMAIL.test(organization.MasterAccountEmail)) {
    throw new TypeError(
      `organization.MasterAccountEmail: ${organization.MasterAccountEmail} is not an email address`,
    );
  }
  return organization;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function handshakeProblem(h: EmulatorHandshake): string | undefined {
  if (typeof h.Id !== "string" || !HANDSHAKE_ID.test(h.Id)) {
    return `Id: ${String(h.Id)} does not match ${HANDSHAKE_ID.source}`;
  }
  // Seeds are held to the model's enums so that nothing the emulator answers is off-model.
  if (!(HANDSHAKE_STATES as readonly string[]).includes(h.State)) return `State: unknown ${h.State}`;
  if (!(ACTION_TYPES as readonly string[]).includes(h.Action)) return `Action: unknown ${h.Action}`;
  if (!Array.isArray(h.Parties)) return "Parties: must be a list";
  for (const field of ["RequestedTimestamp", "ExpirationTimestamp"] as const) {
    const value = h[field];
    if (!(value instanceof Date) || Number.isNaN(value.getTime())) return `${field}: must be a valid Date`;
  }
  return undefined;
}

function faultProblems(faults: EmulatorFaults): string[] {
  const problems: string[] = [];
  const rate = (name: keyof EmulatorFaults) => {
    const value = faults[name];
    if (value !== undefined && (typeof value !== "number" || !(value >= 0 && value <= 1))) {
      problems.push(`faults.${name}: must be a number in 0..1`);
    }
  };
  rate("concurrentModificationRate");
  rate("serviceExceptionRate");
  rate("resetConnectionRate");
  if (faults.pageSize !== undefined && !(Number.isInteger(faults.pageSize) && faults.pageSize >= 1)) {
    problems.push("faults.pageSize: must be an integer >= 1");
  }
  // Every call empty would never make progress.
  if (
    faults.emptyPageEvery !== undefined &&
    !(Number.isInteger(faults.emptyPageEvery) && faults.emptyPageEvery >= 2)
  ) {
    problems.push("faults.emptyPageEvery: must be an integer >= 2");
  }
  if (faults.latencyMs !== undefined && !(faults.latencyMs >= 0)) {
    problems.push("faults.latencyMs: must be >= 0");
  }
  for (const [operation, bucket] of Object.entries(faults.throttle ?? {})) {
    if (!Object.hasOwn(OPERATION_ERRORS, operation)) {
      problems.push(`faults.throttle.${operation}: unknown operation`);
    }
    if (bucket === undefined) continue;
    if (!(bucket.ratePerSecond >= 0)) {
      problems.push(`faults.throttle.${operation}.ratePerSecond: must be >= 0`);
    }
    if (!(bucket.burst >= 0)) problems.push(`faults.throttle.${operation}.burst: must be >= 0`);
  }
  for (const operation of faults.faultOperations ?? []) {
    if (!Object.hasOwn(OPERATION_ERRORS, operation)) {
      problems.push(`faults.faultOperations: unknown operation ${operation}`);
    }
  }
  return problems;
}

function cloneHandshake(h: EmulatorHandshake): EmulatorHandshake {
  return structuredClone(h);
}

function toWire(h: EmulatorHandshake): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    Id: h.Id,
    Arn: h.Arn,
    Parties: structuredClone(h.Parties),
    State: h.State,
    // awsJson carries timestamps as epoch seconds, fractional when there are milliseconds.
    RequestedTimestamp: h.RequestedTimestamp.getTime() / 1000,
    ExpirationTimestamp: h.ExpirationTimestamp.getTime() / 1000,
    Action: h.Action,
  };
  if (h.Resources !== undefined) wire.Resources = structuredClone(h.Resources);
  return wire;
}
