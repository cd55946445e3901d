/** Structured logging as Powertools' Logger offers it; the CLI passes a quiet one. */
export interface SweepLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLogger: SweepLogger = { debug() {}, info() {}, warn() {}, error() {} };
