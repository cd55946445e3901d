import { describeConfig, loadConfig } from "../core/config.js";
import { JanitorError } from "../core/errors.js";
import { parseCommandArgs } from "./args.js";
import { auditCommand } from "./audit.js";
import { demoCommand } from "./demo.js";
import { runCommand } from "./run.js";

export const USAGE = `handshake-janitor: cancels AWS Organizations handshakes by rule, with an audit trail

usage:
  run --config FILE [--dry-run] [--json] [--rule ID]… [--handshake h-…]… [--time-budget S] [--run-id ID] [--actor NAME] [--wait S] [--verbose]
  config check --config FILE
  audit init
  audit query [--since D] [--until D] [--rule ID] [--handshake ID] [--run ID] [--outcome O] [--format table|json|csv]
  audit runs [--since D] [--until D] [--format table|json|csv]
  audit report --since D [--until D] --out report.html
  audit verify (--run ID… | --since D [--until D])
  audit export --since D [--until D] [--format jsonl|csv] --out FILE
  demo

exit codes: 0 done, 2 invalid config/arguments (nothing called), 3 partial, 4 blocked by the safety cap, 5 audit verify found problems, 6 another live run holds the lease (nothing done), 1 error
environment: AUDIT_TABLE_NAME, AUDIT_RETENTION_DAYS, JANITOR_CONFIG, AWS_REGION, AWS_ENDPOINT_URL_ORGANIZATIONS, AWS_ENDPOINT_URL_DYNAMODB`;

export async function main(argv: string[], out: (text: string) => void = print): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "run":
      return runCommand(rest, out);
    case "config": {
      const [sub, ...args] = rest;
      if (sub !== "check") return usageError(`config: unknown subcommand '${sub ?? ""}' (known: check)`);
      const values = parseCommandArgs("config check", args, { config: { type: "string" } });
      const path = values.config ?? process.env.JANITOR_CONFIG;
      if (!path) return usageError("--config: required (or set JANITOR_CONFIG)");
      out(describeConfig(await loadConfig(path), new Date()));
      return 0;
    }
    case "audit":
      return auditCommand(rest, out);
    case "demo":
      parseCommandArgs("demo", rest, {});
      return demoCommand(out);
    case "help":
    case "--help":
    case "-h":
      out(USAGE);
      return 0;
    default:
      return usageError(
        `unknown command '${command ?? ""}' (known: run, config check, audit init|query|runs|report|verify|export, demo)`,
      );
  }
}

function usageError(line: string): number {
  process.stderr.write(`${line}\n`);
  return 2;
}

function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** Expected errors are one line each on stderr; a stack trace only with --verbose. */
export function reportError(error: unknown, verbose: boolean): number {
  if (error instanceof JanitorError && "issues" in error) {
    for (const issue of (error as { issues: readonly string[] }).issues) process.stderr.write(`${issue}\n`);
    return 2;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`error: ${message.split("\n")[0]}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return 1;
}
