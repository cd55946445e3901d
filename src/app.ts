import { createAuditStore } from "./aws/audit/index.js";
import { createCheckpointStore } from "./aws/checkpoints.js";
import { type ClientOptions, type Clients, createClients } from "./aws/clients.js";
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
  return {
    settings,
    tableName,
    clients,
    organizations: createOrganizationsAdapter({
      client: clients.organizations,
      ...(options.onThrottle ? { onThrottle: options.onThrottle } : {}),
      ...(options.organizationsPolicy ? { policy: options.organizationsPolicy } : {}),
    }),
    /** The audit table, whose reader the CLI's audit commands use. */
    audit,
    // The audit ports a sweep is handed, each of one concern, all kept in the audit table.
    ...sweepPorts(audit),
    // Handshake claims live in the audit table beside the runs.
    claims: audit,
    notifier,
    /** Each live run's checkpoint, when AUDIT_CHECKPOINT_BUCKET is set (docs/checkpoints.md). */
    checkpoints:
      settings.checkpointBucket === undefined
        ? undefined
        : createCheckpointStore({
            bucket: settings.checkpointBucket,
            table: tableName,
            region: settings.region,
            ...(settings.endpoints.s3 === undefined ? {} : { endpoint: settings.endpoints.s3 }),
            ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
            ...(settings.auditRetentionDays === undefined
              ? {}
              : { retentionDays: settings.auditRetentionDays }),
          }),
    /** The plans of four eyes, kept in the audit table (docs/approval.md). */
    plans: audit,
    /** Who is calling (STS GetCallerIdentity): the maker or approver of a plan. */
    whoAmI: createWhoAmI({
      region: settings.region,
      ...(settings.endpoints.sts === undefined ? {} : { endpoint: settings.endpoints.sts }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    }),
    /** The fencing margin and the bound on one CancelHandshake attempt (docs/fencing.md). */
    fencing: { marginMs: settings.fencing.marginMs, attemptMs: attemptBoundMs(settings.fencing) },
  };
}

export type App = ReturnType<typeof wire>;

/** What a sweep (or an apply) is handed of the application: its ports, the clock and the logger. */
export function sweepDepsOf(app: App, logger: SweepLogger): SweepDeps {
  return {
    organizations: app.organizations,
    journal: app.journal,
    actions: app.actions,
    lease: app.lease,
    marks: app.marks,
    claims: app.claims,
    plans: app.plans,
    fencing: app.fencing,
    now: () => new Date(),
    logger,
    ...(app.checkpoints ? { checkpoints: app.checkpoints } : {}),
  };
}

/** AUDIT_RETENTION_DAYS as an audit store option: absent when unset, so nothing expires. */
export function retention(env: Environment): { retentionDays?: number } {
  const days = loadSettings(env).auditRetentionDays;
  return days === undefined ? {} : { retentionDays: days };
}
