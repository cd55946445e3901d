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
      "before:package:createDeploymentArtifacts": build,
      "before:deploy:function:packageFunction": build,
      "before:invoke:local:invoke": build,
    };
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
