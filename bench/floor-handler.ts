/**
 * The cold-start floor (bench/scenarios/cold-init.ts): a handler that only constructs the two
 * clients every run needs, Organizations and DynamoDB, bundled as the janitor's handler is. What
 * the janitor's own import costs is measured against this.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { OrganizationsClient } from "@aws-sdk/client-organizations";

const organizations = new OrganizationsClient({ region: "us-east-1", maxAttempts: 1 });
const dynamodb = new DynamoDBClient({ region: "us-east-1", maxAttempts: 1 });

export async function handler(): Promise<{ clients: number }> {
  return { clients: [organizations, dynamodb].length };
}
