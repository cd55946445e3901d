import type { FaultRule } from "../../devtools/fault-proxy.js";

/**
 * An IAM policy's word on item writes, enforced in front of DynamoDB Local, which checks no
 * policy: a fault proxy rule that answers AccessDeniedException, as DynamoDB would, to a write
 * the policy's statements do not allow (by action, and by `dynamodb:LeadingKeys`). Built from the
 * statements the template holds, so a test checks the code against the policy as deployed. It
 * models what these policies use: Allow under ForAllValues:StringLike, Deny under
 * ForAnyValue:StringLike, one table; reads are not checked.
 */

const DB = "DynamoDB_20120810.";
const WRITES = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

type Keyed = { pk?: { S?: string } } | undefined;
interface TransactItem {
  Put?: { Item?: Keyed };
  Update?: { Key?: Keyed };
  Delete?: { Key?: Keyed };
  ConditionCheck?: { Key?: Keyed };
}
interface WriteBody {
  Item?: Keyed;
  Key?: Keyed;
  TransactItems?: TransactItem[];
  RequestItems?: Record<string, { PutRequest?: { Item?: Keyed }; DeleteRequest?: { Key?: Keyed } }[]>;
}

/** What a write request asks IAM for: each item's action and partition key. */
export function writeRequests(operation: string, body: string): { action: string; pk: string }[] {
  const request = JSON.parse(body) as WriteBody;
  const of = (action: string, item: Keyed) => ({ action: `dynamodb:${action}`, pk: item?.pk?.S ?? "" });
  if (operation === "TransactWriteItems") {
    return (request.TransactItems ?? []).map((item) => {
      if (item.Put) return of("PutItem", item.Put.Item);
      if (item.Update) return of("UpdateItem", item.Update.Key);
      if (item.Delete) return of("DeleteItem", item.Delete.Key);
      return of("ConditionCheckItem", item.ConditionCheck?.Key);
    });
  }
  if (operation === "BatchWriteItem") {
    return Object.values(request.RequestItems ?? {}).flatMap((writes) =>
      writes.map((write) => of("BatchWriteItem", write.PutRequest?.Item ?? write.DeleteRequest?.Key)),
    );
  }
  return [of(operation, request.Item ?? request.Key)];
}

export interface PolicyStatement {
  Effect: "Allow" | "Deny";
  Action: string[];
  Condition?: Record<string, Record<string, (string | { "Fn::Join": [string, string[]] })[]>>;
}

/** A StringLike pattern of IAM (`*` any run of characters, `?` one) as a RegExp. */
function likePattern(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`);
}

/** Who is asking: the value of the policy variable `${aws:userid}`. */
export interface Caller {
  userId: string;
}

/** Whether `statement` applies to `caller` writing `pk`: no condition, or its LeadingKeys patterns hold. */
function covers(statement: PolicyStatement, pk: string, caller: Caller): boolean {
  const conditions = Object.entries(statement.Condition ?? {});
  return conditions.every(([operator, keys]) => {
    const expected = statement.Effect === "Allow" ? "ForAllValues:StringLike" : "ForAnyValue:StringLike";
    const patterns = keys["dynamodb:LeadingKeys"];
    if (operator !== expected || patterns === undefined || Object.keys(keys).length !== 1) {
      throw new Error(`a condition this model does not know: ${JSON.stringify(statement.Condition)}`);
    }
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not JavaScript
    const resolved = patterns.map((pattern) => joined(pattern).replaceAll("${aws:userid}", caller.userId));
    return resolved.some((pattern) => likePattern(pattern).test(pk));
  });
}

/** Whether the statements let `action` write `pk`: an explicit deny wins, else some allow must hold. */
export function allowed(
  statements: readonly PolicyStatement[],
  caller: Caller,
  action: string,
  pk: string,
): boolean {
  const applying = statements.filter((s) => s.Action.includes(action) && covers(s, pk, caller));
  return applying.some((s) => s.Effect === "Allow") && !applying.some((s) => s.Effect === "Deny");
}

/** The fault proxy rule that refuses every write `statements` do not allow `caller`. */
export function policyRule(statements: readonly PolicyStatement[], caller: Caller): FaultRule {
  return {
    targets: WRITES.map((operation) => `${DB}${operation}`),
    bodyMatches: (body, target) =>
      writeRequests(target.slice(DB.length), body).some(
        ({ action, pk }) => !allowed(statements, caller, action, pk),
      ),
    fault: {
      kind: "error",
      status: 400,
      body: {
        __type: "com.amazon.coral.service#AccessDeniedException",
        Message: "User is not authorized to perform this action on this resource",
      },
    },
  };
}

/** A condition value as the template holds it, joined as CloudFormation joins it. */
export function joined(value: string | { "Fn::Join": [string, string[]] }): string {
  return typeof value === "string" ? value : value["Fn::Join"][1].join(value["Fn::Join"][0]);
}
