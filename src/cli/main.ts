import { fileURLToPath } from "node:url";
import { loadConfig } from "../config/config.js";
import { describeConfig } from "../config/describe.js";
import { ConfigError } from "../domain/errors.js";
import { parseSettings } from "../settings.js";
import {
  type CommandSpec,
  commandHelp,
  defineCommand,
  helpRequested,
  PROGRAM,
  parseCommandArgs,
  synopsis,
} from "./args.js";
import { AUDIT_COMMANDS } from "./audit.js";
import { ExitCode, exitCodesLine } from "./exit-codes.js";
import { visible } from "./format.js";
import { type CliIo, type CommandHandler, processIo } from "./io.js";
import { PLAN_COMMANDS } from "./plan.js";
import { RUN, runCommand } from "./run.js";
import { SIMULATE, simulateCommand } from "./simulate.js";

export interface Command {
  spec: CommandSpec;
  handler: CommandHandler;
}

const CONFIG_CHECK = defineCommand({
  name: "config check",
  summary: "validate a config and print the effective rules and exemptions; nothing is called",
  options: {
    config: {
      type: "string",
      value: "FILE",
      description: "the rules file, YAML or JSON (default: $JANITOR_CONFIG; one of the two is required)",
    },
  },
  details: ["Every problem is reported at once, one line each naming the file and the field."],
  exitCodes: "0 valid; 2 invalid config or arguments, one line per problem",
  environment: "JANITOR_CONFIG",
});

const DEMO = defineCommand({
  name: "demo",
  summary:
    "the local demo: Organizations emulator and DynamoDB Local, a dry run, a live run, the audit trail",
  options: {},
  details: [
    "Everything runs on this machine (127.0.0.1) and is stopped at the end. It needs a clone of the repository (npm ci) and Java 17 or later for DynamoDB Local; the installed command does not include it. In a clone: npm start.",
  ],
  exitCodes: "0 both runs completed; 1 error",
});

const HELP = defineCommand({
  name: "help",
  summary: "this overview, or the help of one command",
  operands: "[COMMAND [SUBCOMMAND]]",
  options: {},
  exitCodes: "0 shown; 2 no such command",
});

/** Every command, in the order the overview lists them. */
export const COMMANDS: readonly Command[] = [
  { spec: RUN, handler: runCommand },
  { spec: CONFIG_CHECK, handler: configCheck },
  ...AUDIT_COMMANDS,
  ...PLAN_COMMANDS,
  { spec: SIMULATE, handler: simulateCommand },
  { spec: DEMO, handler: demo },
  { spec: HELP, handler: help },
];

/** Words that only group subcommands: `config check`, `audit query`. */
const GROUPS = ["config", "audit", "plan"] as const;

export function overview(): string {
  const width = Math.max(...COMMANDS.map(({ spec }) => spec.name.length));
  return [
    `${PROGRAM}: cancels AWS Organizations handshakes by rule, with an audit trail`,
    `usage: ${PROGRAM} COMMAND [OPTIONS]   (in the repository: npm run janitor -- COMMAND [OPTIONS])`,
    "",
    "commands:",
    ...COMMANDS.map(({ spec }) => `  ${spec.name.padEnd(width)}  ${spec.summary}`),
    "",
    `'${PROGRAM} COMMAND --help' (or -h) shows a command's options.`,
    `exit codes: ${exitCodesLine()}`,
    "environment: AUDIT_TABLE_NAME, AUDIT_RETENTION_DAYS, AUDIT_CHECKPOINT_BUCKET, JANITOR_CONFIG, NOTIFY_TOPIC_ARN (unset: no notifications), AWS_REGION, AWS_ENDPOINT_URL_ORGANIZATIONS, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_STS",
  ].join("\n");
}

function groupHelp(group: string): string {
  const members = COMMANDS.filter(({ spec }) => spec.name.startsWith(`${group} `));
  return [
    "usage:",
    ...members.map(({ spec }) => `  ${synopsis(spec)}`),
    "",
    ...members.map(({ spec }) => `${spec.name}: ${spec.summary}`),
    "",
    `'${PROGRAM} ${group} SUBCOMMAND --help' shows a subcommand's options.`,
  ].join("\n");
}

const isHelpFlag = (word: string | undefined) => word === "--help" || word === "-h";

type Resolved =
  | { command: Command; rest: string[] }
  | { group: string; rest: string[] }
  | { unknown: string };

/** Finds the command the first words name; a group word alone, or a word nothing has. */
function resolve(argv: readonly string[]): Resolved {
  const [first, second] = argv;
  const command =
    COMMANDS.find(({ spec }) => spec.name === `${first} ${second}`) ??
    COMMANDS.find(({ spec }) => spec.name === first);
  if (command) return { command, rest: argv.slice(command.spec.name.split(" ").length) };
  if ((GROUPS as readonly string[]).includes(first ?? "")) return { group: first ?? "", rest: argv.slice(1) };
  return { unknown: first ?? "" };
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const { out } = io;
  if (argv.length === 0) return usageError(io, overview());
  if (isHelpFlag(argv[0])) {
    out(overview());
    return ExitCode.Done;
  }
  const resolved = resolve(argv);
  if ("unknown" in resolved) {
    const known = COMMANDS.map(({ spec }) => spec.name).join(", ");
    return usageError(io, `unknown command '${resolved.unknown}' (known: ${known}; see '${PROGRAM} --help')`);
  }
  if ("group" in resolved) {
    const [sub] = resolved.rest;
    if (isHelpFlag(sub)) {
      out(groupHelp(resolved.group));
      return ExitCode.Done;
    }
    if (sub === undefined) return usageError(io, groupHelp(resolved.group));
    const known = COMMANDS.filter(({ spec }) => spec.name.startsWith(`${resolved.group} `))
      .map(({ spec }) => spec.name.split(" ")[1])
      .join(", ");
    return usageError(io, `${resolved.group}: unknown subcommand '${sub}' (known: ${known})`);
  }
  // Help is answered before the command runs: nothing is called, no variable is needed.
  if (helpRequested(resolved.command.spec, resolved.rest)) {
    out(commandHelp(resolved.command.spec));
    return ExitCode.Done;
  }
  return resolved.command.handler(resolved.rest, io);
}

async function configCheck(argv: string[], { out, env }: CliIo): Promise<number> {
  const { values } = parseCommandArgs(CONFIG_CHECK, argv);
  const path = values.config ?? parseSettings(env).settings.janitorConfig;
  if (!path) throw new ConfigError(["--config: required (or set JANITOR_CONFIG)"]);
  // Reasons and globs are free text from the file: a control character is shown, not obeyed.
  const described = describeConfig(await loadConfig(path), new Date());
  out(described.split("\n").map(visible).join("\n"));
  return ExitCode.Done;
}

/**
 * The demo runs the repository's local tools (the emulator, DynamoDB Local through Java). It is
 * loaded only when asked for, and the installed bundle leaves it out, so the installed command
 * says what it needs instead of failing on a missing module.
 */
async function demo(argv: string[], { out, err }: CliIo): Promise<number> {
  parseCommandArgs(DEMO, argv);
  let module: typeof import("../../devtools/demo.js");
  try {
    module = await import("../../devtools/demo.js");
  } catch (error) {
    const missing = fileURLToPath(new URL("../../devtools/demo.js", import.meta.url));
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND" && String(error).includes(missing)) {
      err(
        "demo: not part of the installed command: it runs the repository's local emulator and DynamoDB Local (Java 17 or later); in a clone of the repository: npm ci && npm start\n",
      );
      return ExitCode.Error;
    }
    throw error;
  }
  return module.demoCommand(out);
}

async function help(argv: string[], io: CliIo): Promise<number> {
  const { out } = io;
  const { positionals } = parseCommandArgs(HELP, argv);
  if (positionals.length === 0) {
    out(overview());
    return ExitCode.Done;
  }
  const resolved = resolve(positionals);
  if ("command" in resolved && resolved.rest.length === 0) {
    out(commandHelp(resolved.command.spec));
    return ExitCode.Done;
  }
  if ("group" in resolved && resolved.rest.length === 0) {
    out(groupHelp(resolved.group));
    return ExitCode.Done;
  }
  return usageError(io, `help: no command '${positionals.join(" ")}' (see '${PROGRAM} --help')`);
}

function usageError(io: CliIo, text: string): number {
  io.err(`${text}\n`);
  return ExitCode.Invalid;
}

/**
 * DynamoDB's answer to any call on a table that does not exist, wherever the store wrapped it.
 * The one line says which table, where, and the two ways out.
 */
function missingTableLine(error: unknown, io: CliIo): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth += 1) {
    if (current.name === "ResourceNotFoundException") {
      // As the clients were built: the settings' region and endpoint.
      const { settings } = parseSettings(io.env);
      const table = settings.auditTableName ?? "";
      const region = settings.region;
      const endpoint = settings.endpoints.dynamodb;
      const where = endpoint ? `region ${region}, endpoint ${endpoint}` : `region ${region}`;
      return `audit table '${table}' does not exist (${where}): create it with 'audit init', or set AUDIT_TABLE_NAME to the deployed table (handshake-janitor-<stage>-audit)`;
    }
    current = current.cause;
  }
  return undefined;
}

/**
 * One invocation as bin.ts runs it: the exit code of `main`, or of the error it failed with,
 * reported on `io.err`. Never rejects.
 */
export async function invoke(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    return await main(argv, io);
  } catch (error) {
    return reportError(error, argv.includes("--verbose"), io);
  }
}

/**
 * Expected errors are one line each on stderr; a stack trace only with --verbose. Each line goes
 * through `visible`: an issue may quote what the table or a service holds (a plan's decision, an
 * error message), and no control character of it reaches the terminal.
 */
function reportError(error: unknown, verbose: boolean, io: CliIo): number {
  if (error instanceof ConfigError) {
    for (const issue of error.issues) io.err(`${visible(issue)}\n`);
    return ExitCode.Invalid;
  }
  const missing = missingTableLine(error, io);
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  io.err(missing ? `${visible(missing)}\n` : `error: ${visible(message.split("\n")[0] ?? "")}\n`);
  if (verbose && error instanceof Error && error.stack) {
    io.err(`${error.stack.split("\n").map(visible).join("\n")}\n`);
  }
  return ExitCode.Error;
}
