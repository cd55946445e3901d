/**
 * STS GetCallerIdentity beside the Organizations emulator, over STS's real awsQuery protocol
 * (a form-encoded POST, an XML answer), so the unmodified @aws-sdk/client-sts gets its answer
 * with AWS_ENDPOINT_URL_STS pointed at the emulator. The caller is an IAM user of the management
 * account named after the access key id the request was signed with: two sets of local
 * credentials are two people, as four eyes needs (docs/approval.md).
 */
import { accessKeyIdOf } from "../cloudtrail.js";

const STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/";

/** An awsQuery request: no X-Amz-Target, a form-encoded body naming its Action. */
export function isStsRequest(target: string | undefined, contentType: string | undefined): boolean {
  return target === undefined && (contentType ?? "").startsWith("application/x-www-form-urlencoded");
}

export interface StsAnswer {
  status: number;
  xml: string;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The answer to one awsQuery request: GetCallerIdentity, or the error STS gives for any other action. */
export function stsAnswer(
  body: string,
  authorization: string | undefined,
  account: string,
  requestId: string,
): StsAnswer {
  const form = new URLSearchParams(body);
  const action = form.get("Action");
  if (action !== "GetCallerIdentity") {
    return {
      status: 400,
      xml: `<ErrorResponse xmlns="${STS_NAMESPACE}"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>${escapeXml(
        `Could not find operation ${action ?? "(none)"} for version 2011-06-15`,
      )}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  const keyId = accessKeyIdOf(authorization) ?? "anonymous";
  const user = keyId.replace(/[^\w+=,.@-]/g, "_");
  return {
    status: 200,
    xml: `<GetCallerIdentityResponse xmlns="${STS_NAMESPACE}"><GetCallerIdentityResult><Arn>arn:aws:iam::${account}:user/${escapeXml(
      user,
    )}</Arn><UserId>AIDA${escapeXml(user.toUpperCase())}</UserId><Account>${account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
  };
}
