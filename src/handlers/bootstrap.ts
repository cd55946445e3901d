import { stat } from "node:fs/promises";
import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { App } from "../app.js";
import { type JanitorConfig, loadConfig } from "../config/config.js";
import { type Environment, loadSettings, parseSettings, type Settings } from "../settings.js";
import { logInvocationError } from "./after-run.js";
import { createMetrics, recordThrottle } from "./metrics.js";

/**
 * What both Lambda entry points share: the application and the config, each built once per
 * execution environment and reused by later invocations, and the one middy chain around them.
 */

/**
 * What tells one environment's settings from another's. Settings hold no secret (credentials are
 * the SDK's to read and refresh), so the key holds none either.
 */
export function settingsKey(settings: Settings): string {
  return JSON.stringify(settings);
}

/**
 * The application of the environment's settings, wired on first use and kept: its clients keep
 * their connections and the CancelHandshake pacer keeps what it learned of the service's rate.
 * Wired again only when the settings differ (a test changes them; a deployed function never does).
 */
export function keptApplication(
  env: Environment | undefined,
  wireApp: (settings: Settings) => App,
): () => App {
  let kept: { key: string; app: App } | undefined;
  return () => {
    const settings = loadSettings(env);
    const key = settingsKey(settings);
    if (kept?.key !== key) kept = { key, app: wireApp(settings) };
    return kept.app;
  };
}

/**
 * The rules config, read and checked once per file and kept while the file is unchanged (the
 * artifact's copy never changes; a test may rewrite its file between invocations).
 */
export function keptConfig(): (path: string) => Promise<JanitorConfig> {
  const kept = new Map<string, { modified: number; config: JanitorConfig }>();
  return async (path) => {
    const modified = (await stat(path)).mtimeMs;
    const hit = kept.get(path);
    if (hit?.modified === modified) return hit.config;
    const config = await loadConfig(path);
    kept.set(path, { modified, config });
    return config;
  };
}

/** A handler in the middy chain both entry points use: Lambda context in the logs, metrics flushed, errors logged. */
export function lambdaHandler<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  logger: Logger,
  metrics: Metrics,
) {
  return middy(handler)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .onError((request) => logInvocationError(logger, request.error));
}

/** What one handler keeps for the life of its execution environment. */
export interface Kept {
  metrics: Metrics;
  application: () => App;
  config: (path: string) => Promise<JanitorConfig>;
}

/**
 * A Lambda handler over one environment's settings (the deployed one reads the process's; a test
 * builds its own, and no test changes process.env): its metrics, its application wired once by
 * `wireApp` with throttles counted, and its config. The handler goes through the middy chain.
 */
export function environmentHandler<E, R>(
  env: Environment | undefined,
  wireApp: (settings: Settings, options: { onThrottle: () => void }) => App,
  handle: (event: E, context: Context, kept: Kept) => Promise<R>,
  logger: Logger,
) {
  const metrics = createMetrics(parseSettings(env).settings.functionName);
  const kept: Kept = {
    metrics,
    application: keptApplication(env, (settings) =>
      wireApp(settings, { onThrottle: () => recordThrottle(metrics) }),
    ),
    config: keptConfig(),
  };
  return lambdaHandler((event: E, context: Context) => handle(event, context, kept), logger, metrics);
}
