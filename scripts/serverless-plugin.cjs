// Builds the bundle (scripts/build.ts) before serverless packages, deploys or invokes it locally,
// so `npx serverless deploy` on its own ships the current code and a validated config.
// The build runs as a child process: esbuild finds its native binary from its own module path,
// which tsx's in-process loader rewrites.
const { execFile } = require("node:child_process");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");

class JanitorBuildPlugin {
  constructor(serverless, _options, { log }) {
    this.serverless = serverless;
    this.log = log;
    const build = () => this.build();
    this.hooks = {
      initialize: () => this.plainLocalEnvironment(),
      "before:package:createDeploymentArtifacts": build,
      "before:deploy:function:packageFunction": build,
      "before:invoke:local:invoke": build,
    };
  }

  /**
   * `invoke local` resolves a function's environment itself and knows no CloudFormation condition,
   * so NOTIFY_TOPIC_ARN (an Fn::If over the topic the stack may create) stops it. Locally the
   * function sees the stage's existing topic, or none: a topic the stack creates exists only once
   * deployed. `--env NOTIFY_TOPIC_ARN=…` still overrides it. AUDIT_CHECKPOINT_BUCKET (a Ref to
   * the stack's bucket) is left out for the same reason: no checkpoint unless `--env` names one.
   */
  plainLocalEnvironment() {
    const commands = this.serverless.processedInput?.commands ?? [];
    if (commands[0] !== "invoke" || commands[1] !== "local") return;
    const topic = String(this.serverless.service.custom.janitor.notifyTopicArn ?? "");
    for (const fn of Object.values(this.serverless.service.functions ?? {})) {
      const value = fn.environment?.NOTIFY_TOPIC_ARN;
      if (value !== undefined && typeof value === "object") fn.environment.NOTIFY_TOPIC_ARN = topic;
      if (typeof fn.environment?.AUDIT_CHECKPOINT_BUCKET === "object")
        delete fn.environment.AUDIT_CHECKPOINT_BUCKET;
    }
  }

  build() {
    const settings = this.serverless.service.custom.janitor;
    const args = [path.join(ROOT, "scripts/build.ts"), "--config", String(settings.config)];
    if (settings.runtimeSdk === true || settings.runtimeSdk === "true") args.push("--runtime-sdk");
    return new Promise((resolve, reject) => {
      execFile(
        path.join(ROOT, "node_modules/.bin/tsx"),
        args,
        { cwd: ROOT, timeout: 120_000 },
        (error, stdout, stderr) => {
          if (error) {
            // build.ts prints a bad config's lines (file, field, problem) and nothing else.
            const message = stderr.trim() || error.message;
            reject(new this.serverless.classes.Error(message, "JANITOR_BUILD_FAILED"));
            return;
          }
          this.log.notice(`handshake-janitor: ${stdout.trim()}`);
          resolve();
        },
      );
    });
  }
}

module.exports = JanitorBuildPlugin;
