/**
 * What the Organizations emulator knows of the AWS service model: the operations it serves and
 * the errors each may answer with, the enums and shapes of a handshake and an organization (how
 * an invitation's resources and a handshake's ARN are built, how a handshake is written on the
 * wire), and the error every layer throws to be written on the wire. Imports nothing else of the
 * emulator.
 *
 * Everything here is checked against the AWS service model in test/integration/org-emulator.test.ts.
 */

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

export function isOperationName(name: string): name is OperationName {
  return Object.hasOwn(OPERATION_ERRORS, name);
}

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

/** The organization the emulator serves unless told otherwise; sample-org's handshakes belong to it. */
export const DEFAULT_ORGANIZATION: Readonly<Required<EmulatorOrganization>> = {
  Id: "o-a1b2c3d4e5",
  MasterAccountId: "123456789012",
  MasterAccountEmail: "aws-management@example.com",
  MasterAccountName: "Example Corp management",
  FeatureSet: "ALL",
};

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

/** A handshake in its awsJson wire form. */
export function toWire(h: EmulatorHandshake): Record<string, unknown> {
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

/** A modeled error, as the server writes it: `__type`, `Message` and the error's own fields. */
export class WireError extends Error {
  readonly errorName: string;
  readonly fields: Record<string, string>;
  constructor(errorName: string, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.name = "WireError";
    this.errorName = errorName;
    this.fields = fields;
  }
}

export function invalidInput(reason: string, message: string): WireError {
  return new WireError("InvalidInputException", message, { Reason: reason });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function optionalRecord(
  input: Record<string, unknown>,
  key: string,
): Record<string, unknown> | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new WireError("SerializationException", `${key} must be a structure.`);
  return value;
}

export function optionalString(
  input: Record<string, unknown>,
  key: string,
  path: string,
): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new WireError("SerializationException", `${path} must be a string.`);
  return value;
}
