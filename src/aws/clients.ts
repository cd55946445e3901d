import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { OrganizationsClient } from "@aws-sdk/client-organizations";
import { SNSClient } from "@aws-sdk/client-sns";
import { topicRegion } from "./sns.js";

/**
 * The composition root's one place that constructs SDK clients (the Lambda handler and the CLI
 * both call it once).
 *
 * maxAttempts: 1 because the adapters own retrying and pacing: two retry layers multiply their
 * attempts and hide throttling from the pacer. Endpoints are never set here: for local use the
 * SDK reads AWS_ENDPOINT_URL_ORGANIZATIONS / AWS_ENDPOINT_URL_DYNAMODB itself.
 */
export interface Clients {
  organizations: OrganizationsClient;
  dynamodb: DynamoDBClient;
  /** For the run's notification (NOTIFY_TOPIC_ARN); AWS_ENDPOINT_URL_SNS points it elsewhere. */
  sns: SNSClient;
}

export function createClients(): Clients {
  // Organizations is a global service whose endpoint lives in us-east-1.
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
  // A hung connection must end as a retryable timeout, well inside the Lambda's own timeout. Without
  // throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes and keeps waiting.
  const requestHandler = { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true };
  return {
    organizations: new OrganizationsClient({ region, maxAttempts: 1, requestHandler }),
    dynamodb: new DynamoDBClient({ region, maxAttempts: 1, requestHandler }),
    // SNS answers only in the topic's own region, which its ARN names.
    sns: new SNSClient({
      region: topicRegion(process.env.NOTIFY_TOPIC_ARN?.trim() ?? "") ?? region,
      maxAttempts: 1,
      requestHandler,
    }),
  };
}
