// serverless.yml's `${file(./scripts/serverless-template.cjs):…}` entry point. Serverless loads
// variable files with require(), so this CommonJS shim loads the TypeScript through tsx, which the
// repository already uses to run its scripts.
const { require: tsxRequire } = require("tsx/cjs/api");

module.exports = async ({ resolveVariable }) => {
  const parts = tsxRequire("./template-parts.ts", __filename);
  const tableName = await resolveVariable("param:auditTableName");
  const ttlAttribute = await resolveVariable("param:auditTtlAttribute");
  const service = await resolveVariable("self:service");
  const stage = await resolveVariable("sls:stage");
  return {
    iamStatements: parts.iamStatements(),
    auditTable: parts.auditTableResource({ tableName, ttlAttribute }),
    runMetric: parts.RUN_METRIC,
    realtimeRole: parts.realtimeRoleResource({ functionName: `${service}-${stage}-realtime` }),
    notifyTopic: parts.notifyTopicResource(),
    notifyPolicy: parts.notifyPolicyResource(),
    notifyTopicEnvironment: parts.notifyTopicEnvironment(),
    notifyTopicArn: parts.notifyTopicArnValue(),
    checkpointBucket: parts.checkpointBucketResource(),
    approverPolicy: parts.approverPolicyResource(),
  };
};
