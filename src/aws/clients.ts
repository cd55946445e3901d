import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { OrganizationsClient } from "@aws-sdk/client-organizations";
import type { SNSClient } from "@aws-sdk/client-sns";
import { DEFAULT_FENCING, type FencingSettings } from "../fencing-settings.js";
import { loadSettings, type Settings, topicRegion } from "../settings.js";

/**
 * The one place that constructs SDK clients; wire() (src/app.ts) calls it.
 *
 * maxAttempts: 1 because the adapters own retrying and pacing: two retry layers multiply their
 * attempts and hide throttling from the pacer. Endpoints come from the settings
 * (AWS_ENDPOINT_URL_ORGANIZATIONS / _DYNAMODB / _SNS), passed explicitly, so a caller such as the
 * demo can point the clients at its local servers without changing the process's environment.
 */
export interface Clients {
  organizations: OrganizationsClient;
  dynamodb: DynamoDBClient;
  /**
   * For the run's notification (NOTIFY_TOPIC_ARN); AWS_ENDPOINT_URL_SNS points it elsewhere.
   * Built on first call, and only then is the SNS client's code loaded: most cold starts of a
   * function without a topic never need it.
   */
  sns: () => Promise<SNSClient>;
}

export type ClientSettings = Pick<Settings, "region" | "endpoints" | "notifyTopicArn"> & {
  /** The timeouts; absent, the defaults (src/fencing-settings.ts). */
  fencing?: Pick<FencingSettings, "connectTimeoutMs" | "requestTimeoutMs">;
};

export interface ClientOptions {
  /**
   * Explicit credentials (the demo's dummy ones for its local servers); absent, the SDK's own
   * chain (environment, profile, container or instance role): settings carry no secrets.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * The timeouts every SDK client of a run takes (Organizations, DynamoDB, SNS, STS, S3): a hung
 * connection ends as a retryable timeout, well inside the Lambda's own timeout. Without
 * throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes and keeps waiting.
 * The fencing margin outlasts these two: it is what bounds a CancelHandshake attempt.
 */
export function requestHandlerOf(
  timeouts: Pick<FencingSettings, "connectTimeoutMs" | "requestTimeoutMs"> = DEFAULT_FENCING,
) {
  return {
    connectionTimeout: timeouts.connectTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    throwOnRequestTimeout: true,
  };
}

export function createClients(
  settings: ClientSettings = loadSettings(),
  options: ClientOptions = {},
): Clients {
  const { region, endpoints } = settings;
  const { credentials } = options;
  const requestHandler = requestHandlerOf(settings.fencing);
  const common = {
    maxAttempts: 1,
    requestHandler,
    ...(credentials ? { credentials } : {}),
  };
  const at = (endpoint: string | undefined) => (endpoint === undefined ? {} : { endpoint });
  let sns: Promise<SNSClient> | undefined;
  return {
    // Organizations is a global service whose endpoint lives in us-east-1.
    organizations: new OrganizationsClient({ region, ...common, ...at(endpoints.organizations) }),
    dynamodb: new DynamoDBClient({ region, ...common, ...at(endpoints.dynamodb) }),
    // SNS answers only in the topic's own region, which its ARN names.
    sns: () => {
      sns ??= import("./sns-api.js").then(
        ({ SNSClient }) =>
          new SNSClient({
            region: topicRegion(settings.notifyTopicArn ?? "") ?? region,
            ...common,
            ...at(endpoints.sns),
          }),
      );
      return sns;
    },
  };
}
