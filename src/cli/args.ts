import { type ParseArgsConfig, parseArgs } from "node:util";
import { ConfigError } from "../core/errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * node:util parseArgs, strict, with its errors turned into the CLI's one-line-per-problem form.
 * Every problem is reported at once, as for a config file.
 */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    const parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    return parsed.values;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const known = Object.keys(options)
      .map((name) => `--${name}`)
      .join(", ");
    const text = error instanceof Error ? error.message : String(error);
    const option = /'(-{1,2}[^' ]+)/.exec(text)?.[1];
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      throw new ConfigError([`${option ?? "argument"}: unknown option for '${command}' (known: ${known})`]);
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const value = /'([^']*)'/.exec(text)?.[1] ?? "";
      throw new ConfigError([`${command}: unexpected argument '${value}' (options: ${known})`]);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      throw new ConfigError([`${option ?? "argument"}: ${text.replace(/^Option '[^']*' /, "")}`]);
    }
    throw error;
  }
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
