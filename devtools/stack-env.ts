import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ensureAuditTable } from "../src/aws/audit-table-init.js";

/** The dummy credentials DynamoDB Local and the emulators accept (they check none). */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;

/**
 * What the CLI and the handler read to reach the local servers instead of AWS: the SDK's own
 * endpoint variables (the path a user takes to point the janitor anywhere), dummy credentials,
 * a region and the audit table.
 */
export function localStackEnv(
  endpoints: { organizations: string; dynamodb: string },
  tableName: string,
): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_ORGANIZATIONS: endpoints.organizations,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    // The Organizations emulator also answers STS GetCallerIdentity (four eyes: who is calling).
    AWS_ENDPOINT_URL_STS: endpoints.organizations,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_REGION: "us-east-1",
    AUDIT_TABLE_NAME: tableName,
  };
}

/**
 * A client of DynamoDB Local with one attempt per call. `onCommand` hears each command's name
 * before it is sent, to record it, or to fail it by throwing.
 */
export function localDynamoDbClient(endpoint: string, onCommand?: (name: string) => void): DynamoDBClient {
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  if (onCommand) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        onCommand(String(context.commandName));
        return next(args);
      },
      { step: "initialize", name: "onCommand" },
    );
  }
  return client;
}

/** Creates the audit table on DynamoDB Local, with the deployed definition, unless it exists. */
export async function ensureLocalAuditTable(endpoint: string, tableName: string): Promise<void> {
  const client = localDynamoDbClient(endpoint);
  try {
    await ensureAuditTable(client, tableName);
  } finally {
    client.destroy();
  }
}
