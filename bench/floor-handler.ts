import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { OrganizationsClient } from "@aws-sdk/client-organizations";

/**
 * The floor of a cold start: a handler that only constructs the two clients every run needs, at
 * import as a plain Lambda function would, built with the artifact's own esbuild options
 * (bench/scenarios/cold-init.ts). No handler of ours can import in less.
 */
const organizations = new OrganizationsClient({ region: "us-east-1", maxAttempts: 1 });
const dynamodb = new DynamoDBClient({ maxAttempts: 1 });

export async function handler(): Promise<string[]> {
  return [organizations.config.serviceId, dynamodb.config.serviceId];
}
