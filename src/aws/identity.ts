/**
 * Who the caller is, from the credentials in use: STS GetCallerIdentity, which needs no
 * permission. Four eyes names the maker and the approver of a plan by this ARN, never by a name
 * given on the command line. The STS client is loaded only when a plan command asks.
 */
import type { CallerIdentity, WhoAmI } from "../ports/plans.js";

export interface IdentityOptions {
  region: string;
  /** AWS_ENDPOINT_URL_STS: a local endpoint instead of AWS. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  requestHandler?: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: boolean };
}

export function createWhoAmI(options: IdentityOptions): WhoAmI {
  let answer: Promise<CallerIdentity> | undefined;
  return () => {
    answer ??= (async () => {
      const sts = await import("./sts-api.js");
      const client = new sts.STSClient({
        region: options.region,
        // The one call of a command; the SDK's own retries are all it gets.
        maxAttempts: 3,
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler }),
      });
      try {
        const found = await client.send(new sts.GetCallerIdentityCommand({}));
        if (!found.Arn || !found.Account || !found.UserId) {
          throw new Error("STS GetCallerIdentity answered without an ARN, an account or a user id");
        }
        return { arn: found.Arn, account: found.Account, userId: found.UserId };
      } finally {
        client.destroy();
      }
    })();
    // A failed look is not kept: the next caller asks again.
    answer.catch(() => {
      answer = undefined;
    });
    return answer;
  };
}
