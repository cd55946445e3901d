/**
 * What the caller's identity (./identity.ts) takes of the STS client, loaded only when it is first
 * asked: named exports, so that the rest of the package stays out of the bundle (see ./s3-api.ts).
 */
export { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
