import { createAuditStore } from "./aws/audit/index.js";
import { createCheckpointStore } from "./aws/checkpoints.js";
import { type ClientOptions, type Clients, createClients } from "./aws/clients.js";
import { createOrganizationsAdapter } from "./aws/organizations.js";
import { attemptBoundMs } from "./fencing-settings.js";
import type { NotifierPort } from "./notify/notify.js";
import type { BackoffPolicy } from "./resilience/backoff.js";
import { type Environment, loadSettings, requireTable, type Settings } from "./settings.js";
import { sweepPorts } from "./sweep/types.js";

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
  const topicArn = settings.notifyTopicArn;
  const notifier: NotifierPort | undefined =
    topicArn === undefined
      ? undefined
      : loadedOnFirstPublish(async () => {
          const [{ createSnsNotifier }, client] = await Promise.all([import("./aws/sns.js"), clients.sns()]);
          return createSnsNotifier({ client, topicArn });
        });
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
    /** The fencing margin and the bound on one CancelHandshake attempt (docs/fencing.md). */
    fencing: { marginMs: settings.fencing.marginMs, attemptMs: attemptBoundMs(settings.fencing) },
  };
}

export type App = ReturnType<typeof wire>;

/**
 * A notifier whose adapter and SNS client are loaded when the first message is published: most
 * runs have no news, and a cold start need not parse code that only a digest uses.
 */
function loadedOnFirstPublish(load: () => Promise<NotifierPort>): NotifierPort {
  let loaded: Promise<NotifierPort> | undefined;
  return {
    async publish(message, options) {
      // A failed load is not kept: the next publish tries again.
      loaded ??= load().catch((error: unknown) => {
        loaded = undefined;
        throw error;
      });
      return (await loaded).publish(message, options);
    },
  };
}

/** AUDIT_RETENTION_DAYS as an audit store option: absent when unset, so nothing expires. */
export function retention(env: Environment): { retentionDays?: number } {
  const days = loadSettings(env).auditRetentionDays;
  return days === undefined ? {} : { retentionDays: days };
}
