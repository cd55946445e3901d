import { createAuditStore } from "./aws/audit/index.js";
import { createCheckpointStore } from "./aws/checkpoints.js";
import { type ClientOptions, type Clients, createClients, requestHandlerOf } from "./aws/clients.js";
import { createWhoAmI } from "./aws/identity.js";
import { createOrganizationsAdapter } from "./aws/organizations.js";
import { createSnsNotifier } from "./aws/sns.js";
import type { SweepLogger } from "./domain/logger.js";
import { attemptBoundMs } from "./fencing-settings.js";
import type { NotifierPort } from "./notify/notify.js";
import type { BackoffPolicy } from "./resilience/backoff.js";
import { type Environment, loadSettings, requireTable, type Settings } from "./settings.js";
import { type SweepDeps, sweepPorts } from "./sweep/types.js";

export interface WireOptions extends ClientOptions {
  /** Clients built earlier (a Lambda container keeps its own); absent, they are built from the settings. */
  clients?: Clients;
  /** Called on each retried throttle of an Organizations call, for metrics. */
  onThrottle?: (operation: string) => void;
  /** The Organizations adapter's backoff (the real-time handler retries a throttled cancel longer). */
  organizationsPolicy?: BackoffPolicy;
}

/**
 * The one place the application is assembled from its settings: the SDK clients, the
 * Organizations adapter, the audit store (which also holds the handshake claims) and, when
 * NOTIFY_TOPIC_ARN is set, the SNS notifier. The Lambda handlers, the CLI and the demo all come
 * through here. A missing AUDIT_TABLE_NAME is a ConfigError, before anything is called.
 */
export function wire(settings: Settings, options: WireOptions = {}) {
  const tableName = requireTable(settings);
  const clients =
    options.clients ??
    createClients(settings, options.credentials ? { credentials: options.credentials } : {});
  const audit = createAuditStore({
    client: clients.dynamodb,
    tableName,
    ...(settings.auditRetentionDays === undefined ? {} : { retentionDays: settings.auditRetentionDays }),
    leaseDurationMs: settings.fencing.leaseMs,
    fenceMarginMs: settings.fencing.marginMs,
  });
  const notifier: NotifierPort | undefined =
    settings.notifyTopicArn === undefined
      ? undefined
      : createSnsNotifier({ client: clients.sns, topicArn: settings.notifyTopicArn });
  const organizations = createOrganizationsAdapter({
    client: clients.organizations,
    ...(options.onThrottle ? { onThrottle: options.onThrottle } : {}),
    ...(options.organizationsPolicy ? { policy: options.organizationsPolicy } : {}),
  });
  /** Each live run's checkpoint, when AUDIT_CHECKPOINT_BUCKET is set (docs/checkpoints.md). */
  const checkpoints =
    settings.checkpointBucket === undefined
      ? undefined
      : createCheckpointStore({
          bucket: settings.checkpointBucket,
          table: tableName,
          region: settings.region,
          ...(settings.endpoints.s3 === undefined ? {} : { endpoint: settings.endpoints.s3 }),
          ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
          // A stalled S3 ends the checkpoint write as a timeout, named in the summary, never as a hang.
          requestHandler: requestHandlerOf(settings.fencing),
          ...(settings.auditRetentionDays === undefined
            ? {}
            : { retentionDays: settings.auditRetentionDays }),
        });
  /** The fencing margin and the bound on one CancelHandshake attempt (docs/fencing.md). */
  const fencing = { marginMs: settings.fencing.marginMs, attemptMs: attemptBoundMs(settings.fencing) };
  /** Everything a sweep is handed from here: the entry points add the clock and the logger. */
  const sweepDeps = {
    organizations,
    // The audit ports, each of one concern, all kept in the audit table.
    ...sweepPorts(audit),
    /** The trail read as evidence before a run extends it (src/evidence/findings.ts). */
    evidence: audit,
    // Handshake claims live in the audit table beside the runs.
    claims: audit,
    /** The plans of four eyes (docs/approval.md). */
    plans: audit,
    /** The handshake ledger (docs/audit.md): what every run sees, kept in the audit table. */
    ledger: audit,
    fencing,
    ...(checkpoints === undefined ? {} : { checkpoints }),
  } satisfies Omit<SweepDeps, "now" | "logger">;
  return {
    settings,
    tableName,
    clients,
    organizations,
    /** The audit table, whose reader the CLI's audit commands use. */
    audit,
    claims: audit,
    notifier,
    checkpoints,
    /** The plans of four eyes, kept in the audit table (docs/approval.md). */
    plans: audit,
    /** Who is calling (STS GetCallerIdentity): the maker or approver of a plan. */
    whoAmI: createWhoAmI({
      region: settings.region,
      ...(settings.endpoints.sts === undefined ? {} : { endpoint: settings.endpoints.sts }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      // A stalled STS ends as a timeout, as every other call of a run does, never as a hang.
      requestHandler: requestHandlerOf(settings.fencing),
    }),
    fencing,
    sweepDeps,
  };
}

export type App = ReturnType<typeof wire>;

/** What a sweep (or an apply) is handed of the application: its ports, the clock and the logger. */
export function sweepDepsOf(app: App, logger: SweepLogger): SweepDeps {
  return { ...app.sweepDeps, now: () => new Date(), logger };
}

/** AUDIT_RETENTION_DAYS as an audit store option: absent when unset, so nothing expires. */
export function retention(env: Environment): { retentionDays?: number } {
  const days = loadSettings(env).auditRetentionDays;
  return days === undefined ? {} : { retentionDays: days };
}
