import type { Environment } from "../settings.js";

/**
 * What a command reads and writes besides its arguments. bin.ts hands in the process's own;
 * another caller (the report screenshot script, a test driving many commands in one process)
 * hands in its own streams and environment, and nothing else changes.
 */
export interface CliIo {
  /** The command's result, a block of text at a time; a final newline is added when missing. */
  out(text: string): void;
  /** Problems, warnings and --verbose logs, each written as given, ending in a newline. */
  err(text: string): void;
  /** The environment the settings are parsed from; absent, the process's. */
  env?: Environment;
}

/** A command: its own arguments (after the command's words) in, the exit code out. */
export type CommandHandler = (argv: string[], io: CliIo) => Promise<number>;

/** A block of `out` as written: ending in one newline, which is added when missing. */
export function outBlock(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

export const processIo: CliIo = {
  out: (text) => {
    process.stdout.write(outBlock(text));
  },
  err: (text) => {
    process.stderr.write(text);
  },
};
