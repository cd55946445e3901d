import { createAuditStore, retentionDaysFromEnv } from "./aws/audit/index.js";
import type { Clients } from "./aws/clients.js";
import { createOrganizationsAdapter } from "./aws/organizations.js";
import { ConfigError } from "./domain/errors.js";
import type { RunStatus } from "./domain/outcomes.js";

/** The adapters over the clients the composition root built; shared by the handler and the CLI. */
export function wire(
  clients: Clients,
  tableName: string,
  options: { onThrottle?: (operation: string) => void } = {},
) {
  const audit = createAuditStore({ client: clients.dynamodb, tableName, ...retention() });
  return {
    organizations: createOrganizationsAdapter({
      client: clients.organizations,
      ...(options.onThrottle ? { onThrottle: options.onThrottle } : {}),
    }),
    audit,
    // Handshake claims live in the audit table beside the runs.
    claims: audit,
  };
}

/** AUDIT_RETENTION_DAYS as an audit store option: absent when unset, so nothing expires. */
export function retention(env: NodeJS.ProcessEnv = process.env): { retentionDays?: number } {
  const days = retentionDaysFromEnv(env);
  return days === undefined ? {} : { retentionDays: days };
}

/** AUDIT_TABLE_NAME, checked before anything is called. */
export function auditTableName(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.AUDIT_TABLE_NAME?.trim();
  if (!name) throw new ConfigError(["AUDIT_TABLE_NAME: required (the DynamoDB audit table)"]);
  if (!/^[a-zA-Z0-9_.-]{3,255}$/.test(name)) {
    throw new ConfigError([`AUDIT_TABLE_NAME: '${name}' is not a valid DynamoDB table name`]);
  }
  return name;
}

/** Exit code of a live run that found another live run holding the organization's lease: nothing done. */
export const EXIT_LEASE_HELD = 6;

/**
 * The contract's exit codes: 0 done, 3 partial, 4 blocked; a failed run is an error (1). A run
 * refused the lease has no status: it throws LeaseHeldError, and the CLI exits EXIT_LEASE_HELD.
 */
export function exitCodeFor(status: RunStatus): number {
  switch (status) {
    case "COMPLETED":
      return 0;
    case "PARTIAL":
      return 3;
    case "BLOCKED":
      return 4;
    default:
      return 1;
  }
}
