import { readFile } from "node:fs/promises";
import { beforeAll, describe, expect, test } from "vitest";
import { SNS_ACTIONS } from "../../src/aws/iam-actions.js";
import { packagedTemplate } from "../support/packaged.js";

/**
 * The notification topic in the deployment: packaged once, as `npm run package -- --stage prod
 * --param createNotifyTopic=true` does, then read as CloudFormation would for each choice of the
 * template parameters (an existing topic's ARN, a topic of the stack's own, none).
 */

interface Resource {
  Type: string;
  Condition?: string;
  Properties: Record<string, unknown>;
}
interface Template {
  Parameters: Record<string, { Default?: string; AllowedPattern?: string; AllowedValues?: string[] }>;
  Conditions: Record<string, unknown>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, { Condition?: string; Value: unknown }>;
}

let template: Template;

beforeAll(async () => {
  ({ template } = await packagedTemplate<Template>({ stage: "prod", params: { createNotifyTopic: "true" } }));
}, 240_000);

/** Just enough of CloudFormation's condition and Fn::If evaluation for these parameters. */
function deployedAs(parameters: Record<string, string>) {
  const value = (expr: unknown): unknown => {
    if (typeof expr !== "object" || expr === null) return expr;
    const node = expr as Record<string, unknown>;
    if ("Ref" in node) {
      const name = String(node.Ref);
      if (name in template.Parameters) return parameters[name] ?? template.Parameters[name]?.Default;
      const target = template.Resources[name];
      if (!target) throw new Error(`Ref to unknown ${name}`);
      if (target.Condition && !condition(target.Condition)) throw new Error(`Ref to ${name}, not created`);
      return `<${name}>`;
    }
    if ("Fn::If" in node) {
      const [name, yes, no] = node["Fn::If"] as [string, unknown, unknown];
      return value(condition(name) ? yes : no);
    }
    return expr;
  };
  const test = (expr: unknown): boolean => {
    const node = expr as Record<string, unknown[]> & { Condition?: string };
    if (node.Condition !== undefined) return condition(node.Condition);
    if (node["Fn::Equals"]) {
      const [a, b] = node["Fn::Equals"];
      return value(a) === value(b);
    }
    if (node["Fn::Not"]) return !test(node["Fn::Not"][0]);
    if (node["Fn::And"]) return node["Fn::And"].every(test);
    if (node["Fn::Or"]) return node["Fn::Or"].some(test);
    throw new Error(`unsupported condition ${JSON.stringify(expr)}`);
  };
  const condition = (name: string): boolean => {
    const expr = template.Conditions[name];
    if (expr === undefined) throw new Error(`no condition ${name}`);
    return test(expr);
  };
  const created = (id: string) => {
    const found = template.Resources[id];
    return found !== undefined && (found.Condition === undefined || condition(found.Condition));
  };
  const env = template.Resources.SweepLambdaFunction?.Properties.Environment as {
    Variables: Record<string, unknown>;
  };
  const policy = template.Resources.NotifyPublishPolicy?.Properties.PolicyDocument as {
    Statement: { Action: string[]; Resource: unknown }[];
  };
  return {
    topicCreated: created("NotifyTopic"),
    policyCreated: created("NotifyPublishPolicy"),
    environment: value(env.Variables.NOTIFY_TOPIC_ARN),
    policyResources: () => policy.Statement.map((s) => value(s.Resource)),
  };
}

const EXISTING = "arn:aws:sns:us-east-1:123456789012:platform-team";

describe("the notification topic", () => {
  test.each([
    {
      name: "createNotifyTopic: true, no ARN: the stack's own topic",
      arn: "",
      create: "true",
      topic: "<NotifyTopic>",
    },
    { name: "an existing topic's ARN", arn: EXISTING, create: "false", topic: EXISTING },
    { name: "an existing ARN wins over createNotifyTopic", arn: EXISTING, create: "true", topic: EXISTING },
  ])("$name: NOTIFY_TOPIC_ARN names it and the role may publish there only", ({ arn, create, topic }) => {
    const stack = deployedAs({ NotifyTopicArn: arn, CreateNotifyTopic: create });
    expect(stack.topicCreated).toBe(topic === "<NotifyTopic>");
    expect(stack.environment).toBe(topic);
    expect(stack.policyCreated).toBe(true);
    expect(stack.policyResources()).toEqual([topic]);
  });

  test("neither: no topic, no permission, NOTIFY_TOPIC_ARN empty (no notifications)", () => {
    const stack = deployedAs({ NotifyTopicArn: "", CreateNotifyTopic: "false" });
    expect(stack).toMatchObject({ topicCreated: false, policyCreated: false, environment: "" });
  });

  test("the stage params set the template parameters' defaults", () => {
    expect(template.Parameters.CreateNotifyTopic?.Default).toBe("true");
    expect(template.Parameters.CreateNotifyTopic?.AllowedValues).toEqual(["true", "false"]);
    expect(template.Parameters.NotifyTopicArn?.Default).toBe("");
    const pattern = new RegExp(template.Parameters.NotifyTopicArn?.AllowedPattern ?? "^$");
    expect(pattern.test(EXISTING)).toBe(true);
    expect(pattern.test("arn:aws:sqs:us-east-1:123456789012:queue")).toBe(false);
  });

  test("grants exactly the SNS actions the adapter sends, in a policy of its own", async () => {
    const policy = template.Resources.NotifyPublishPolicy;
    if (!policy) throw new Error("no NotifyPublishPolicy");
    expect(policy.Type).toBe("AWS::IAM::Policy");
    // The sweep's role and the realtime function's own: both runs notify.
    expect(policy.Properties.Roles).toEqual([{ Ref: "IamRoleLambdaExecution" }, { Ref: "RealtimeRole" }]);
    const statements = (policy.Properties.PolicyDocument as { Statement: { Action: string[] }[] }).Statement;
    expect(statements.flatMap((s) => s.Action)).toEqual([...SNS_ACTIONS]);
    const source = await readFile(new URL("../../src/aws/sns.ts", import.meta.url), "utf8");
    // Every command the adapter constructs (it loads the SNS client's code only when it publishes).
    const sent = [...new Set([...source.matchAll(/new (\w+)Command\(/g)].map((m) => `sns:${m[1]}`))];
    expect(sent).toEqual([...SNS_ACTIONS]);
    // The role's own statements stay as they were: no SNS there, whatever the parameters.
    const role = template.Resources.IamRoleLambdaExecution?.Properties.Policies as {
      PolicyDocument: { Statement: { Action: string[] }[] };
    }[];
    const roleActions = role.flatMap((p) => p.PolicyDocument.Statement.flatMap((s) => s.Action));
    expect(roleActions.some((action) => action.startsWith("sns:"))).toBe(false);
  });

  test("outputs the topic's ARN when there is one", () => {
    expect(template.Outputs.NotifyTopicArn?.Condition).toBe("HasNotifyTopic");
  });
});
