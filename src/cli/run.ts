import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { auditTableName, EXIT_LEASE_HELD, exitCodeFor, wire } from "../app.js";
import { createClients } from "../aws/clients.js";
import { loadConfig } from "../core/config.js";
import { ConfigError, LeaseHeldError } from "../core/errors.js";
import { validateSelection } from "../core/plan.js";
import { type RunSummary, type SweepLogger, silentLogger, sweep } from "../core/sweep.js";
import { parseCommandArgs } from "./args.js";
import { renderSummary } from "./render.js";

export const RUN_OPTIONS = {
  config: { type: "string" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  rule: { type: "string", multiple: true },
  handshake: { type: "string", multiple: true },
  "time-budget": { type: "string" },
  "run-id": { type: "string" },
  actor: { type: "string" },
  verbose: { type: "boolean" },
  wait: { type: "string" },
} as const;

/** While waiting for the lease, it is looked at again this often at most. */
const LEASE_POLL_MS = 1_000;

export async function runCommand(argv: string[], out: (text: string) => void): Promise<number> {
  const args = parseCommandArgs("run", argv, RUN_OPTIONS);
  const issues: string[] = [];
  const configPath = args.config ?? process.env.JANITOR_CONFIG;
  if (!configPath) issues.push("--config: required (or set JANITOR_CONFIG)");
  let budgetMs: number | undefined;
  if (args["time-budget"] !== undefined) {
    const seconds = Number(args["time-budget"]);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      issues.push(`--time-budget: '${args["time-budget"]}' is not a positive number of seconds`);
    } else budgetMs = seconds * 1000;
  }
  let waitMs = 0;
  if (args.wait !== undefined) {
    const seconds = Number(args.wait);
    if (args.wait.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
      issues.push(`--wait: '${args.wait}' is not a number of seconds (0 or more)`);
    } else waitMs = seconds * 1000;
  }
  if (args["run-id"] !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(args["run-id"])) {
    issues.push(`--run-id: '${args["run-id"]}' must be 1-128 letters, digits or . _ : -`);
  }
  let tableName = "";
  try {
    tableName = auditTableName();
  } catch (error) {
    if (error instanceof ConfigError) issues.push(...error.issues);
    else throw error;
  }
  const config = configPath ? await loadConfig(configPath).catch(collect(issues)) : undefined;
  const only = { ruleIds: args.rule ?? [], handshakeIds: args.handshake ?? [] };
  if (config) issues.push(...validateSelection(config, only));
  if (issues.length > 0 || !config) throw new ConfigError(issues);

  const started = Date.now();
  const runId = args["run-id"] ?? newRunId(new Date(started));
  const logger = args.verbose ? stderrLogger : silentLogger;
  const { organizations, audit } = wire(createClients(), tableName);
  const waitUntil = started + waitMs;
  let summary: RunSummary | undefined;
  // Bounded twice: by the time --wait allows, and by the number of looks that time can hold.
  for (let look = 0; summary === undefined; look += 1) {
    // The time budget is the run's own: it starts when the run does, after any wait.
    const runStarted = Date.now();
    try {
      summary = await sweep(
        {
          config,
          runId,
          trigger: "cli",
          actor: args.actor ?? `${userInfo().username}@cli`,
          dryRun: args["dry-run"] === true,
          ...(only.ruleIds.length > 0 ? { ruleIds: only.ruleIds } : {}),
          ...(only.handshakeIds.length > 0 ? { handshakeIds: only.handshakeIds } : {}),
          ...(budgetMs !== undefined ? { deadline: runStarted + budgetMs } : {}),
        },
        { organizations, audit, now: () => new Date(), logger },
      );
    } catch (error) {
      if (!(error instanceof LeaseHeldError)) throw error;
      const left = waitUntil - Date.now();
      if (left <= 0 || look > waitMs / 100) {
        process.stderr.write(`${error.message}\n`);
        return EXIT_LEASE_HELD;
      }
      logger.info("waiting for the lease", { holder: error.holder.runId, since: error.holder.since });
      await sleep(Math.max(100, Math.min(left, LEASE_POLL_MS, error.holder.expiresAt - Date.now())));
    }
  }
  out(args.json ? JSON.stringify(summary) : renderSummary(summary));
  return exitCodeFor(summary.status);
}

/** Sortable by time, unique without coordination. */
export function newRunId(now: Date): string {
  return `cli-${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`;
}

function collect(issues: string[]) {
  return (error: unknown) => {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.issues);
    return undefined;
  };
}

const stderrLogger: SweepLogger = Object.fromEntries(
  (["debug", "info", "warn", "error"] as const).map((level) => [
    level,
    (message: string, extra?: Record<string, unknown>) =>
      process.stderr.write(`${JSON.stringify({ level, message, ...extra })}\n`),
  ]),
) as unknown as SweepLogger;
