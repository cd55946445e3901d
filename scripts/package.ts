import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `npm run package [-- --stage S] [--config FILE]`: the deployment artifact and the CloudFormation
 * template, offline. Runs `serverless package` (osls) with an environment of its own: dummy
 * credentials, so no real profile can be read or used, and every telemetry, notification and
 * update check off. Packaging makes no AWS call; the template and zip land in `.serverless/`
 * (or --out DIR). A bad rules config fails here with its error lines (scripts/build.ts validates
 * it with loadConfig before bundling).
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SERVERLESS = join(ROOT, "node_modules/.bin/serverless");

export interface PackageOptions {
  stage: string;
  /** Overrides the stage's `config` param. */
  configPath?: string;
  outDir?: string;
  timeoutMs?: number;
  /** Stage params to override, as `--param key=value` does. */
  params?: Record<string, string>;
}

export interface PackageResult {
  code: number;
  output: string;
  templatePath: string;
  artifactPath: string;
}

/** The child's environment: nothing that could reach or identify a real account. */
export function offlineEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!/^(AWS_|SLS_|SERVERLESS_)/.test(key)) env[key] = value;
  }
  return {
    ...env,
    AWS_ACCESS_KEY_ID: "AKIAOFFLINEPACKAGING",
    AWS_SECRET_ACCESS_KEY: "offline-packaging-never-sent",
    AWS_REGION: "us-east-1",
    AWS_SDK_LOAD_CONFIG: "0",
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    AWS_EC2_METADATA_DISABLED: "true",
    SLS_TELEMETRY_DISABLED: "1",
    SLS_TRACKING_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
    SLS_DEPRECATION_NOTIFICATION_MODE: "warn",
    SLS_INTERACTIVE_SETUP_DISABLE: "1",
    SERVERLESS_PLATFORM_STAGE: "",
    NO_UPDATE_NOTIFIER: "1",
    CI: "1",
  };
}

export function packageService(options: PackageOptions): Promise<PackageResult> {
  const outDir = resolve(ROOT, options.outDir ?? ".serverless");
  const args = ["package", "--stage", options.stage, "--package", outDir];
  if (options.configPath) args.push("--param", `config=${options.configPath}`);
  for (const [key, value] of Object.entries(options.params ?? {})) args.push("--param", `${key}=${value}`);
  return new Promise((done) => {
    const child = spawn(SERVERLESS, args, {
      cwd: ROOT,
      env: offlineEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 180_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({
        code: code ?? 1,
        output,
        templatePath: join(outDir, "cloudformation-template-update-stack.json"),
        artifactPath: join(outDir, "handshake-janitor.zip"),
      });
    });
  });
}

function parseArgs(argv: string[]): PackageOptions {
  const options: PackageOptions = { stage: "dev" };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--stage") options.stage = argv[++i] ?? "";
    else if (arg === "--config") options.configPath = argv[++i] ?? "";
    else if (arg === "--out") options.outDir = argv[++i] ?? "";
    else if (arg === "--param") {
      const [key, ...value] = (argv[++i] ?? "").split("=");
      if (!key || value.length === 0) throw new Error("--param: expected key=value");
      options.params = { ...options.params, [key]: value.join("=") };
    } else
      throw new Error(
        `unknown argument '${arg}' (known: --stage S, --config FILE, --out DIR, --param KEY=VALUE)`,
      );
  }
  return options;
}

async function main(): Promise<void> {
  const result = await packageService(parseArgs(process.argv.slice(2)));
  process.stderr.write(result.output);
  if (result.code !== 0) {
    process.exitCode = result.code;
    return;
  }
  const artifact = await stat(result.artifactPath);
  process.stdout.write(
    `artifact ${result.artifactPath} (${artifact.size} bytes)\ntemplate ${result.templatePath}\n`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((error: unknown) => {
    process.stderr.write(`package failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
