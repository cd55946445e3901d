import {
  DEFAULT_ORGANIZATION,
  type EmulatorHandshake,
  type HandshakeState,
  handshakeArn,
  inviteResources,
} from "../../devtools/org-emulator/index.js";

const DAY = 86_400_000;

/** An invitation of the emulator's default organization to an email, valid 15 days from its request. */
export function emailInvite(options: {
  id: string;
  email: string;
  requested: Date;
  state?: HandshakeState;
  notes?: string;
}): EmulatorHandshake {
  const { id, email, requested } = options;
  const target = { Id: email, Type: "EMAIL" as const };
  return {
    Id: id,
    Arn: handshakeArn(DEFAULT_ORGANIZATION, "INVITE", id),
    Parties: [{ Id: DEFAULT_ORGANIZATION.Id, Type: "ORGANIZATION" }, target],
    State: options.state ?? "OPEN",
    RequestedTimestamp: requested,
    ExpirationTimestamp: new Date(requested.getTime() + 15 * DAY),
    Action: "INVITE",
    Resources: inviteResources(DEFAULT_ORGANIZATION, target, options.notes),
  };
}
