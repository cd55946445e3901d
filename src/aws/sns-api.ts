/**
 * What the notifier (./sns.ts, ./clients.ts) takes of the SNS client, loaded only when a run is
 * first notified: named exports, so that the rest of the package stays out of the bundle
 * (see ./s3-api.ts).
 */
export { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
