import { type ParseArgsConfig, parseArgs } from "node:util";
import { ConfigError } from "../domain/errors.js";

/** The program's name as installed; in the repository it is `npm run janitor -- …`. */
export const PROGRAM = "handshake-janitor";

/** One option of a command: what node:util parseArgs needs, and the line of help that explains it. */
export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  /** The value's placeholder in the help (`FILE`, `ID`, `S`); string options only. */
  value?: string;
  /** Shown without brackets in the synopsis; the command itself checks that it is there. */
  required?: boolean;
  description: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/**
 * A command's options table is the single source of its parsing and of its help: the parser is
 * given exactly these options and the help lists exactly these, so the two cannot disagree.
 */
export interface CommandSpec<O extends OptionTable = OptionTable> {
  /** As typed after the program name: `run`, `audit query`. */
  name: string;
  summary: string;
  options: O;
  /** Words after the options in the synopsis (only `help` takes any). */
  operands?: string;
  /** Paragraphs after the option list: defaults, periods, what is written where. */
  details?: readonly string[];
  exitCodes?: string;
  environment?: string;
}

export const HELP_OPTION = {
  help: { type: "boolean", short: "h", description: "show this help and exit" },
} as const satisfies OptionTable;

export type WithHelp<O extends OptionTable> = O & typeof HELP_OPTION;

export function defineCommand<const O extends OptionTable>(spec: CommandSpec<O>): CommandSpec<WithHelp<O>> {
  return { ...spec, options: { ...spec.options, ...HELP_OPTION } };
}

export const EXIT_CODES_READ =
  "0 done; 1 error (e.g. the audit table does not exist); 2 invalid arguments, nothing called";

type ParserOptions = NonNullable<ParseArgsConfig["options"]>;

function parserOptions(options: OptionTable): ParserOptions {
  const parser: ParserOptions = {};
  for (const [name, option] of Object.entries(options)) {
    parser[name] = {
      type: option.type,
      ...(option.multiple ? { multiple: true } : {}),
      ...(option.short ? { short: option.short } : {}),
    };
  }
  return parser;
}

type Values<O extends OptionTable> = {
  [K in keyof O]?: O[K]["type"] extends "boolean"
    ? O[K]["multiple"] extends true
      ? boolean[]
      : boolean
    : O[K]["multiple"] extends true
      ? string[]
      : string;
};

/**
 * True when `--help` or `-h` is among the arguments as an option (not as the value of another
 * option, not after `--`). Decided before strict parsing, so `run --confg x --help` still helps.
 */
export function helpRequested(spec: CommandSpec, argv: readonly string[]): boolean {
  const { tokens } = parseArgs({
    args: [...argv],
    options: parserOptions(spec.options),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  return tokens.some((token) => token.kind === "option" && token.name === "help");
}

/**
 * node:util parseArgs, strict, over the command's options table, with its errors turned into the
 * CLI's one-line-per-problem form.
 */
export function parseCommandArgs<O extends OptionTable>(
  spec: CommandSpec<O>,
  argv: readonly string[],
): { values: Values<O>; positionals: string[] } {
  const options = parserOptions(spec.options);
  const known = Object.keys(options)
    .map((name) => `--${name}`)
    .join(", ");
  try {
    const parsed = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: spec.operands !== undefined,
    });
    return { values: parsed.values as Values<O>, positionals: parsed.positionals };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const text = error instanceof Error ? error.message : String(error);
    const option = /'(-{1,2}[^' ]+)/.exec(text)?.[1];
    const see = `see '${PROGRAM} ${spec.name} --help'`;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      throw new ConfigError([
        `${option ?? "argument"}: unknown option for '${spec.name}' (known: ${known}; ${see})`,
      ]);
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const value = /'([^']*)'/.exec(text)?.[1] ?? "";
      throw new ConfigError([`${spec.name}: unexpected argument '${value}' (options: ${known})`]);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const problem = text.replace(/^Option '[^']*' /, "").replace(/\s*\n\s*/g, " ");
      throw new ConfigError([`${option ?? "argument"}: ${problem}`]);
    }
    throw error;
  }
}

function optionLabel(name: string, option: OptionSpec): string {
  const long = `--${name}${option.type === "string" ? ` ${option.value ?? "VALUE"}` : ""}`;
  return option.short ? `-${option.short}, ${long}` : `    ${long}`;
}

/** `[--since D] [--rule ID]… --out FILE [-h]`: the options in table order. */
export function synopsis(spec: CommandSpec): string {
  const parts = Object.entries(spec.options).map(([name, option]) => {
    const text =
      name === "help" ? "-h" : `--${name}${option.type === "string" ? ` ${option.value ?? "VALUE"}` : ""}`;
    const shown = option.required ? text : `[${text}]`;
    return option.multiple ? `${shown}…` : shown;
  });
  return [PROGRAM, spec.name, ...parts, ...(spec.operands ? [spec.operands] : [])].join(" ");
}

/** The command's help: synopsis, summary, one line per option, details, exit codes. */
export function commandHelp(spec: CommandSpec): string {
  const entries = Object.entries(spec.options).map(([name, option]) => {
    const repeat = option.multiple ? " (repeatable)" : "";
    return [optionLabel(name, option), `${option.description}${repeat}`] as const;
  });
  const width = Math.max(...entries.map(([label]) => label.length));
  const lines = [`usage: ${synopsis(spec)}`, "", spec.summary, "", "options:"];
  for (const [label, description] of entries) lines.push(`  ${label.padEnd(width)}  ${description}`);
  for (const paragraph of spec.details ?? []) lines.push("", paragraph);
  if (spec.exitCodes) lines.push("", `exit codes: ${spec.exitCodes}`);
  if (spec.environment) lines.push(`environment: ${spec.environment}`);
  return lines.join("\n");
}

/** YYYY-MM-DD (start of that day, UTC) or a full ISO-8601 instant. */
export function parseDate(name: string, value: string | undefined, issues: string[]): Date | undefined {
  if (value === undefined) return undefined;
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const isoish =
    dayOnly || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value);
  const date = new Date(dayOnly ? `${value}T00:00:00Z` : value);
  if (!isoish || Number.isNaN(date.getTime())) {
    issues.push(`${name}: '${value}' is not a date (YYYY-MM-DD or ISO-8601 with a time zone)`);
    return undefined;
  }
  return date;
}

export function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  issues: string[],
): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  issues.push(`${name}: '${value}' is not one of ${allowed.join(", ")}`);
  return undefined;
}
