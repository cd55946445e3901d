/**
 * A local AWS Organizations endpoint for the demo and the integration tests. It speaks the real
 * awsJson1_1 protocol, so the unmodified SDK client (or the AWS CLI) talks to it over HTTP with
 * nothing but an endpoint override, and it can misbehave on purpose the ways the real service
 * does: throttling, short and empty pages, transient errors, a target accepting mid-sweep.
 *
 * Only the handshake operations the janitor uses are served. Everything the emulator emits is
 * checked against the AWS service model in test/integration/org-emulator.test.ts.
 *
 * This file is the emulator's public face and holds no logic of its own:
 *   model.ts       operations, their errors, enums and shapes of the service model; WireError
 *   server.ts      HTTP server and awsJson1_1 protocol; startOrganizationsEmulator
 *   faults.ts      throttling, short and empty pages, random errors and resets, latency
 *   handshakes.ts  the organization, its handshakes and the operations on them
 *   page-tokens.ts signed NextTokens
 *   random.ts      the seeded random streams
 */
export type { EmulatorFaults, TokenBucket } from "./faults.js";
export { randomHandshakeId } from "./handshakes.js";
export {
  ACTION_TYPES,
  type ActionType,
  DEFAULT_ORGANIZATION,
  type EmulatorHandshake,
  type EmulatorHandshakeParty,
  type EmulatorHandshakeResource,
  type EmulatorOrganization,
  HANDSHAKE_PARTY_TYPES,
  HANDSHAKE_RESOURCE_TYPES,
  HANDSHAKE_STATES,
  type HandshakePartyType,
  type HandshakeResourceType,
  type HandshakeState,
  handshakeArn,
  inviteResources,
  OPERATION_ERRORS,
  OPERATIONS,
  type OperationName,
  PROTOCOL_ERRORS,
  TARGET_PREFIX,
} from "./model.js";
export { seededRandom } from "./random.js";
export {
  type EmulatorExchange,
  type EmulatorOptions,
  type OperationStats,
  type OrganizationsEmulator,
  startOrganizationsEmulator,
} from "./server.js";
