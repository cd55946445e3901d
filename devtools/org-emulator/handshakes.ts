/**
 * The emulator's handshake service: the organization and its store of handshakes, and the
 * operations on them (ListHandshakesForOrganization with signed NextTokens, DescribeHandshake,
 * CancelHandshake, InviteAccountToOrganization with the CloudTrail event it leaves,
 * DescribeOrganization). Input is validated against the model's shapes and answers are built
 * in its wire form; the protocol around them lives in server.ts, the misbehaviour in faults.ts.
 */
import {
  accessKeyIdOf,
  type CloudTrailApiCallEvent,
  type CloudTrailUserIdentity,
  inviteEvent,
} from "../cloudtrail.js";
import type { FaultInjector } from "./faults.js";
import {
  ACTION_TYPES,
  DEFAULT_ORGANIZATION,
  type EmulatorHandshake,
  type EmulatorHandshakeParty,
  type EmulatorOrganization,
  HANDSHAKE_STATES,
  type HandshakeState,
  handshakeArn,
  invalidInput,
  inviteResources,
  type OperationName,
  optionalRecord,
  optionalString,
  toWire,
  WireError,
} from "./model.js";
import { pageTokens } from "./page-tokens.js";
import { randomUuid, seededRandom } from "./random.js";

const HANDSHAKE_ID = /^h-[0-9a-z]{8,32}$/;
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
const ACCOUNT_ID = /^\d{12}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MAX_RESULTS = { min: 1, max: 20 };
const MAX_NOTES = 1024;
/** Invitations expire after 15 days (Organizations quotas). */
const INVITE_LIFETIME_MS = 15 * 86_400_000;
const ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

export function randomHandshakeId(random: () => number, length = 16): string {
  let id = "h-";
  for (let i = 0; i < length; i += 1) id += ID_ALPHABET[Math.floor(random() * ID_ALPHABET.length)];
  return id;
}

/** The request headers an invitation's CloudTrail event names. */
export interface CallerHeaders {
  authorization: string | undefined;
  userAgent: string | undefined;
}

export interface HandshakeServiceOptions {
  /** Seeds the handshake ids, the CloudTrail event ids and the NextToken signing key. */
  seed: number;
  /** The stream NextToken nonces are drawn from; shared with the short pages' sizes. */
  pageRandom: () => number;
  faults: Pick<FaultInjector, "listPage" | "acceptsBeforeCancel">;
  organization?: Partial<EmulatorOrganization>;
  handshakes?: readonly EmulatorHandshake[];
  now: () => Date;
  caller?: Partial<CloudTrailUserIdentity>;
  onEvent?: (event: CloudTrailApiCallEvent) => void;
}

export interface HandshakeService {
  organization: Readonly<Required<EmulatorOrganization>>;
  /** Runs an operation on its parsed input; throws WireError for the modeled errors. */
  call(operation: OperationName, input: Record<string, unknown>): unknown;
  /** Records the CloudTrail event of an InviteAccountToOrganization that was answered `answer`. */
  recordInvite(input: Record<string, unknown>, answer: unknown, headers: CallerHeaders): void;
  mutate(id: string, state: HandshakeState): void;
  handshakes(): EmulatorHandshake[];
  events(): CloudTrailApiCallEvent[];
}

/** Throws TypeError naming the field when the organization or a seed handshake is off-model. */
export function createHandshakeService(options: HandshakeServiceOptions): HandshakeService {
  const { faults, now } = options;
  const organization = resolveOrganization(options.organization);
  const idRandom = seededRandom(options.seed ^ 0x68e31da4);
  const eventRandom = seededRandom(options.seed ^ 0x3c6ef372);
  const tokens = pageTokens(`handshake-janitor-emulator/${options.seed}`, options.pageRandom);
  const recordedEvents: CloudTrailApiCallEvent[] = [];

  const store = new Map<string, EmulatorHandshake>();
  /** When each closed handshake closed, on the emulator's clock (a seeded closed one: at seeding). */
  const closedAt = new Map<string, number>();
  const isClosed = (h: EmulatorHandshake) => h.State !== "OPEN" && h.State !== "REQUESTED";
  function noteState(h: EmulatorHandshake): void {
    if (!isClosed(h)) closedAt.delete(h.Id);
    else if (!closedAt.has(h.Id)) closedAt.set(h.Id, now().getTime());
  }
  /** As the service does, a handshake closed more than 30 days ago is no longer known at all. */
  function forget(): void {
    const horizon = now().getTime() - FORGET_AFTER_MS;
    for (const [id, at] of closedAt) {
      if (at >= horizon) continue;
      store.delete(id);
      closedAt.delete(id);
    }
  }
  for (const [index, seedHandshake] of (options.handshakes ?? []).entries()) {
    const problem = handshakeProblem(seedHandshake);
    if (problem !== undefined) throw new TypeError(`handshakes[${index}]: ${problem}`);
    if (store.has(seedHandshake.Id)) {
      throw new TypeError(`handshakes[${index}].Id: duplicate ${seedHandshake.Id}`);
    }
    const copy = structuredClone(seedHandshake);
    copy.Arn ??= handshakeArn(organization, copy.Action, copy.Id);
    store.set(copy.Id, copy);
    noteState(copy);
  }

  function newHandshakeId(): string {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const id = randomHandshakeId(idRandom);
      if (!store.has(id)) return id;
    }
    throw new Error("could not draw a fresh handshake id in 100 attempts");
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
    const offset = nextToken === undefined ? 0 : tokens.decode(nextToken, filterKey, matching.length);

    const { limit, empty } = faults.listPage(typeof maxResults === "number" ? maxResults : MAX_RESULTS.max);
    // The real service may answer an empty page that still has a NextToken; the docs tell
    // callers to keep going until NextToken is absent.
    const end = empty ? offset : Math.min(offset + limit, matching.length);
    const page = matching.slice(offset, end).map((h) => toWire(h));
    const more = empty ? offset < matching.length : end < matching.length;
    return more ? { Handshakes: page, NextToken: tokens.encode(end, filterKey) } : { Handshakes: page };
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
      faults.acceptsBeforeCancel(handshake.Id) &&
      (handshake.State === "OPEN" || handshake.State === "REQUESTED")
    ) {
      handshake.State = "ACCEPTED";
      noteState(handshake);
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
    noteState(handshake);
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

  const operations: Record<OperationName, (input: Record<string, unknown>) => unknown> = {
    ListHandshakesForOrganization: listHandshakes,
    DescribeHandshake: (input) => ({ Handshake: toWire(findHandshake(input)) }),
    CancelHandshake: cancelHandshake,
    InviteAccountToOrganization: inviteAccount,
    DescribeOrganization: describeOrganization,
  };

  /** What CloudTrail, then EventBridge, would hand on for an invitation that was just created. */
  function recordInvite(input: Record<string, unknown>, answer: unknown, headers: CallerHeaders): void {
    const handshake = (answer as { Handshake: Parameters<typeof inviteEvent>[0]["handshake"] }).Handshake;
    const target = input.Target as { Type: string; Id: string };
    const accessKeyId = accessKeyIdOf(headers.authorization);
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
      eventId: randomUuid(eventRandom),
      cloudTrailEventId: randomUuid(eventRandom),
      requestId: randomUuid(eventRandom),
      userAgent: headers.userAgent ?? "unknown",
      at: now(),
    });
    recordedEvents.push(event);
    const hook = options.onEvent;
    if (hook !== undefined) queueMicrotask(() => hook(structuredClone(event)));
  }

  return {
    organization,
    call: (operation, input) => {
      forget();
      return operations[operation](input);
    },
    recordInvite,
    mutate(id, state) {
      const handshake = store.get(id);
      if (handshake === undefined) throw new RangeError(`mutate: no handshake ${id}`);
      if (!(HANDSHAKE_STATES as readonly string[]).includes(state)) {
        throw new RangeError(`mutate: unknown state ${state}`);
      }
      handshake.State = state;
      noteState(handshake);
    },
    handshakes: () => {
      forget();
      return [...store.values()].map((h) => structuredClone(h));
    },
    events: () => structuredClone(recordedEvents),
  };
}

/** How long the service keeps listing and describing a handshake after it closed. */
export const FORGET_AFTER_MS = 30 * 86_400_000;

function checkHandshakeId(id: string): void {
  if (id.length > 34 || !HANDSHAKE_ID.test(id)) {
    throw invalidInput(
      "INVALID_PATTERN",
      `HandshakeId ${JSON.stringify(id)} does not match ${HANDSHAKE_ID.source}.`,
    );
  }
}

function resolveOrganization(seed: Partial<EmulatorOrganization> = {}): Required<EmulatorOrganization> {
  const defined = Object.fromEntries(Object.entries(seed).filter(([, v]) => v !== undefined));
  const organization: Required<EmulatorOrganization> = { ...DEFAULT_ORGANIZATION, ...defined };
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
