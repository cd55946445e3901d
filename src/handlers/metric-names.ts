/**
 * The names of the janitor's CloudWatch metrics (see metrics.ts). serverless.yml's alarms read
 * RUN_NOT_COMPLETED_METRIC under them; apart from metrics.ts, so that the template takes them
 * without loading Powertools.
 */
export const METRICS_NAMESPACE = "HandshakeJanitor";
export const METRICS_SERVICE = "handshake-janitor";
/** 1 when a run ended BLOCKED or FAILED, 0 otherwise: an alarm on its maximum fires on either. */
export const RUN_NOT_COMPLETED_METRIC = "RunNotCompleted";
/** How many integrity findings a run made before it extended the trail (src/evidence/findings.ts). */
export const INTEGRITY_FINDINGS_METRIC = "IntegrityFindings";

/** Per run: handshakes a rule would have selected that their invitee closed before the janitor acted. */
export const ESCAPED_METRIC = "Escaped";
