import { InviteAccountToOrganizationCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import type { CloudTrailApiCallEvent } from "../../devtools/cloudtrail.js";
import { type Stack, startStack } from "./stack.js";

/**
 * A local stack for the real-time tests: an organization with no handshakes (every one judged is
 * created by a real invitation through the SDK), a table of its own, and the client that invites.
 */
export interface InvitingStack {
  stack: Stack;
  table: string;
  organizations: OrganizationsClient;
  /**
   * Sends a real invitation and returns the CloudTrail event the emulator recorded for it.
   * examples/janitor.yaml denies *@gmail.com and requires a CHG- ticket in the notes.
   */
  invite(kind: "forbidden" | "allowed"): Promise<{ id: string; event: CloudTrailApiCallEvent }>;
  stop(): Promise<void>;
}

export async function startInvitingStack(accessKeyId: string): Promise<InvitingStack> {
  const stack = await startStack([]);
  const table = await stack.newTable();
  const organizations = new OrganizationsClient({
    endpoint: stack.org.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId, secretAccessKey: "local" },
    maxAttempts: 1,
  });
  let sequence = 0;
  return {
    stack,
    table,
    organizations,
    async invite(kind) {
      sequence += 1;
      const allowed = kind === "allowed";
      const email = allowed ? `new.hire.${sequence}@example.com` : `someone.${sequence}@gmail.com`;
      const answer = await organizations.send(
        new InviteAccountToOrganizationCommand({
          Target: { Type: "EMAIL", Id: email },
          ...(allowed ? { Notes: `onboarding, CHG-${1000 + sequence}` } : {}),
        }),
      );
      const id = answer.Handshake?.Id ?? "";
      const event = stack.org.events().find((e) => e.detail.responseElements.handshake.id === id);
      if (!event) throw new Error(`the emulator recorded no event for ${id}`);
      return { id, event };
    },
    async stop() {
      organizations.destroy();
      await stack.stop();
    },
  };
}
