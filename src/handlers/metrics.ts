import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { OUTCOMES } from "../domain/outcomes.js";
import type { RunSummary } from "../sweep/sweep.js";
import {
  ESCAPED_METRIC,
  INTEGRITY_FINDINGS_METRIC,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  RUN_NOT_COMPLETED_METRIC,
} from "./metric-names.js";

/**
 * The janitor's CloudWatch metrics, written as Embedded Metric Format log lines: no PutMetricData
 * call, so no extra IAM permission and no network time inside the run. serverless.yml's alarms
 * read RUN_NOT_COMPLETED_METRIC (metric-names.ts) under these names and dimensions.
 */

/** `functionName`: AWS_LAMBDA_FUNCTION_NAME, from the settings ("local" outside Lambda). */
export function createMetrics(functionName: string): Metrics {
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: METRICS_SERVICE,
    // Per function, so that two stages deployed in one account do not share one alarm's data.
    defaultDimensions: { functionName },
  });
}

export function recordThrottle(metrics: Metrics): void {
  metrics.addMetric("ThrottledRetries", MetricUnit.Count, 1);
}

export function recordSummary(metrics: Metrics, summary: RunSummary): void {
  metrics.addMetric("Listed", MetricUnit.Count, summary.listed);
  metrics.addMetric("Matched", MetricUnit.Count, summary.matched);
  metrics.addMetric("Canceled", MetricUnit.Count, summary.counts.CANCELED ?? 0);
  // Zeros too: a graph with gaps cannot tell "nothing happened" from "the janitor did not run".
  for (const outcome of OUTCOMES) {
    metrics.addMetric(`Outcome_${outcome}`, MetricUnit.Count, summary.counts[outcome] ?? 0);
  }
  metrics.addMetric("RunDuration", MetricUnit.Milliseconds, summary.durationMs);
  const notCompleted = summary.status === "BLOCKED" || summary.status === "FAILED";
  metrics.addMetric(RUN_NOT_COMPLETED_METRIC, MetricUnit.Count, notCompleted ? 1 : 0);
  metrics.addMetric(INTEGRITY_FINDINGS_METRIC, MetricUnit.Count, summary.findings?.length ?? 0);
  // Handshakes a rule would have selected that their invitee closed before the janitor acted.
  metrics.addMetric(ESCAPED_METRIC, MetricUnit.Count, summary.ledger?.escaped.length ?? 0);
}

/** 1 when the run's notification could not be published, 0 when it was; absent without one. */
export const NOTIFY_FAILED_METRIC = "NotifyFailed";

export function recordNotify(metrics: Metrics, failed: boolean): void {
  metrics.addMetric(NOTIFY_FAILED_METRIC, MetricUnit.Count, failed ? 1 : 0);
}
