/**
 * The project's own view of a handshake, mapped from the SDK shape at the boundary
 * (src/aws/organizations.ts). Enum-like fields are plain strings on purpose: the service
 * adds values (ActionType gained TRANSFER_RESPONSIBILITY) and an unknown value is data.
 */
export interface Handshake {
  id: string;
  arn?: string;
  state: string;
  action: string;
  requestedAt?: Date;
  expiresAt?: Date;
  /** The party the handshake is addressed to (the non-ORGANIZATION party). */
  target?: HandshakeTarget;
  /** Text of the NOTES resource, when the invitation carries one. */
  notes?: string;
  /** The party that sent it (the ORGANIZATION party), when the listing names one. */
  requester?: HandshakeTarget;
}

export interface HandshakeTarget {
  /** EMAIL or ACCOUNT in today's model; other values are carried as they come. */
  type: string;
  value: string;
}

/** Only these states can be canceled, so only these are ever candidates. */
export const CANDIDATE_STATES: readonly string[] = ["OPEN", "REQUESTED"];

/** The service's own HandshakeId pattern (service model, shape HandshakeId): the one definition. */
export const HANDSHAKE_ID_PATTERN = /^h-[0-9a-z]{8,32}$/;
export const HANDSHAKE_ID_PROBLEM =
  "must be a handshake id: h- followed by 8 to 32 lower-case letters or digits";

/** ActionType values in the Organizations model today; others are accepted, see the rules' scope (src/rules/scope.ts). */
export const KNOWN_ACTION_TYPES: readonly string[] = [
  "INVITE",
  "ENABLE_ALL_FEATURES",
  "APPROVE_ALL_FEATURES",
  "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
  "TRANSFER_RESPONSIBILITY",
];

/**
 * A handshake as a record of it (a mark, a plan) remembers it, for one the service no longer
 * lists: its state UNKNOWN.
 */
export function rememberedHandshake(record: {
  handshakeId: string;
  action: string;
  target: string;
  targetType: string;
  requestedAt?: string | undefined;
}): Handshake {
  return {
    id: record.handshakeId,
    state: "UNKNOWN",
    action: record.action,
    target: { type: record.targetType, value: record.target },
    ...(record.requestedAt ? { requestedAt: new Date(record.requestedAt) } : {}),
  };
}
