import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import { auditTableName, exitCodeFor, wire } from "../app.js";
import { createClients } from "../aws/clients.js";
import { createSnsNotifier, notifyTopicArnFromEnv } from "../aws/sns.js";
import { loadConfig } from "../core/config.js";
import { ConfigError } from "../core/errors.js";
import { notifyRun } from "../core/notify.js";
import { validateSelection } from "../core/plan.js";
import { type SweepLogger, silentLogger, sweep } from "../core/sweep.js";
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
} as const;

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
  let topicArn: string | undefined;
  try {
    topicArn = notifyTopicArnFromEnv();
  } catch (error) {
    collect(issues)(error);
  }
  const config = configPath ? await loadConfig(configPath).catch(collect(issues)) : undefined;
  const only = { ruleIds: args.rule ?? [], handshakeIds: args.handshake ?? [] };
  if (config) issues.push(...validateSelection(config, only));
  if (issues.length > 0 || !config) throw new ConfigError(issues);

  const started = Date.now();
  const clients = createClients();
  const { organizations, audit } = wire(clients, tableName);
  const summary = await sweep(
    {
      config,
      runId: args["run-id"] ?? newRunId(new Date(started)),
      trigger: "cli",
      actor: args.actor ?? `${userInfo().username}@cli`,
      dryRun: args["dry-run"] === true,
      ...(only.ruleIds.length > 0 ? { ruleIds: only.ruleIds } : {}),
      ...(only.handshakeIds.length > 0 ? { handshakeIds: only.handshakeIds } : {}),
      ...(budgetMs !== undefined ? { deadline: started + budgetMs } : {}),
    },
    { organizations, audit, now: () => new Date(), logger: args.verbose ? stderrLogger : silentLogger },
  );
  if (topicArn !== undefined) {
    const notified = await notifyRun(
      summary,
      { notifier: createSnsNotifier({ client: clients.sns, topicArn }), audit },
      { showTargets: config.notify?.showTargets === true },
    );
    // The summary on stdout stays exactly the run's; the notification is reported beside it.
    if (!notified.published && notified.reason === "failed") {
      process.stderr.write(`notification not published (recorded on the run): ${notified.error}\n`);
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
