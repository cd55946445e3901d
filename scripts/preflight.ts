import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { offlineChromium } from "./chromium.js";

const execFileAsync = promisify(execFile);

/**
 * `npm test` runs this first: the programs the suite needs that npm cannot install. If any is
 * missing it stops at once, naming them, with the one command that installs them all (the
 * README's), instead of failing files deep into the run.
 */

/** What the README tells a user to install besides Node: Debian's package names. */
export const DEBIAN_PACKAGES = ["default-jre-headless", "unzip", "awscli", "libnss3"] as const;
export const APT_LINE = `apt-get update && apt-get install -y ${DEBIAN_PACKAGES.join(" ")}`;
/** Not a Debian package: the CloudFormation linter is Python's. */
export const PIP_LINE = "pip install cfn-lint";

export interface Problem {
  what: string;
  fix: "apt" | "pip";
}

async function output(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { env, timeout: 60_000 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: unknown; stdout?: string; stderr?: string };
    // Not found is undefined; a program that ran and failed still says something.
    return code === "ENOENT" ? undefined : `${stdout ?? ""}${stderr ?? ""}`;
  }
}

async function java(env: NodeJS.ProcessEnv): Promise<Problem | undefined> {
  const text = await output("java", ["-version"], env);
  if (text === undefined) return { what: "java (Java 17 or later runs DynamoDB Local)", fix: "apt" };
  const major = Number(/version "(\d+)/.exec(text)?.[1] ?? 0);
  if (major < 17) return { what: `java 17 or later (found: ${text.split("\n")[0]})`, fix: "apt" };
  return undefined;
}

async function program(
  env: NodeJS.ProcessEnv,
  name: string,
  args: string[],
  what: string,
  fix: Problem["fix"],
): Promise<Problem | undefined> {
  return (await output(name, args, env)) === undefined ? { what: `${name} (${what})`, fix } : undefined;
}

/** Chromium ships in an npm package; the system libraries it links against do not. */
async function chromiumLibraries(env: NodeJS.ProcessEnv): Promise<Problem | undefined> {
  const { executablePath } = await offlineChromium();
  const text = await output("ldd", [executablePath], env);
  if (text === undefined) return undefined;
  const missing = text
    .split("\n")
    .filter((line) => line.includes("=> not found"))
    .map((line) => line.trim().split(" ")[0]);
  return missing.length > 0
    ? { what: `the libraries Chromium needs (${missing.join(", ")})`, fix: "apt" }
    : undefined;
}

/** Every program missing from `env`'s PATH (or too old), in a fixed order; empty when all are there. */
export async function preflight(env: NodeJS.ProcessEnv = process.env): Promise<Problem[]> {
  const found = await Promise.all([
    java(env),
    program(env, "unzip", ["-v"], "the deploy tests unpack the Lambda artifact", "apt"),
    program(env, "aws", ["--version"], "the AWS CLI, an independent client of the local servers", "apt"),
    chromiumLibraries(env),
    program(env, "cfn-lint", ["--version"], "lints the packaged CloudFormation template", "pip"),
  ]);
  return found.filter((problem): problem is Problem => problem !== undefined);
}

export function advice(problems: readonly Problem[]): string {
  const lines = ["npm test needs programs that npm does not install; missing:"];
  for (const { what } of problems) lines.push(`  ${what}`);
  if (problems.some(({ fix }) => fix === "apt"))
    lines.push("Install them (Debian or Ubuntu, as root):", `  ${APT_LINE}`);
  if (problems.some(({ fix }) => fix === "pip"))
    lines.push("and the CloudFormation linter (Python):", `  ${PIP_LINE}`);
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const problems = await preflight();
  if (problems.length > 0) {
    process.stderr.write(`${advice(problems)}\n`);
    process.exitCode = 1;
  }
}
