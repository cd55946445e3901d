import type { Logger } from "@aws-lambda-powertools/logger";
import type { SweepLogger } from "../sweep/sweep.js";

/** Powertools' Logger as the core's SweepLogger, for both Lambda entry points. */
export function asSweepLogger(log: Logger): SweepLogger {
  return {
    debug: (message, extra) => log.debug(message, extra ?? {}),
    info: (message, extra) => log.info(message, extra ?? {}),
    warn: (message, extra) => log.warn(message, extra ?? {}),
    error: (message, extra) => log.error(message, extra ?? {}),
  };
}
