import { z } from "zod";
import { ConfigError } from "../core/errors.js";
import type { Trigger } from "../core/outcomes.js";

/** What one invocation asks for, whichever way it came. */
export interface InvocationRequest {
  trigger: Trigger;
  runId: string;
  actor: string;
  dryRun?: boolean;
  ruleIds?: string[];
  handshakeIds?: string[];
  note?: string;
}

const HANDSHAKE_ID = /^h-[0-9a-z]{8,32}$/;

/** EventBridge's scheduled event; only the fields the janitor reads are checked. */
const scheduledEvent = z.object({
  id: z.string().min(1),
  source: z.literal("aws.events"),
  "detail-type": z.literal("Scheduled Event"),
  resources: z.array(z.string()).optional(),
  time: z.string().optional(),
});

/** The manual-invoke event of the contract: every field optional, nothing else allowed. */
const manualEvent = z.strictObject({
  dryRun: z.boolean().optional(),
  rules: z.array(z.string().min(1)).optional(),
  handshakeIds: z.array(z.string().regex(HANDSHAKE_ID, "must match ^h-[0-9a-z]{8,32}$")).optional(),
  reason: z.string().min(1).max(1024).optional(),
  actor: z.string().min(1).max(256).optional(),
});

function isScheduledShape(event: unknown): boolean {
  return typeof event === "object" && event !== null && "source" in event && "detail-type" in event;
}

/**
 * Turns the raw event into a request, or throws ConfigError with one line per problem before
 * anything is called. `requestId` is Lambda's: an async retry of the same invocation keeps it,
 * so a retried manual run does nothing twice, as the scheduled event's `id` does for the cron.
 */
export function parseEvent(event: unknown, requestId: string, functionName: string): InvocationRequest {
  if (isScheduledShape(event)) {
    const parsed = scheduledEvent.safeParse(event);
    if (!parsed.success) throw new ConfigError(issueLines(parsed.error));
    return {
      trigger: "scheduled",
      runId: parsed.data.id,
      actor: parsed.data.resources?.[0] ?? "eventbridge-schedule",
    };
  }
  const parsed = manualEvent.safeParse(event ?? {});
  if (!parsed.success) throw new ConfigError(issueLines(parsed.error));
  const { dryRun, rules, handshakeIds, reason, actor } = parsed.data;
  return {
    trigger: "manual",
    runId: `manual-${requestId}`,
    actor: actor ?? `lambda-invoke:${functionName}`,
    ...(dryRun !== undefined ? { dryRun } : {}),
    ...(rules ? { ruleIds: rules } : {}),
    ...(handshakeIds ? { handshakeIds } : {}),
    ...(reason ? { note: reason } : {}),
  };
}

function issueLines(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = ["event", ...issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))]
      .join("")
      .replace(/^event\./, "event.");
    if (issue.code === "unrecognized_keys") {
      return `${path}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")} (known: dryRun, rules, handshakeIds, reason, actor)`;
    }
    if (issue.code === "invalid_type") return `${path}: must be ${issue.expected}`;
    return `${path}: ${issue.message}`;
  });
}
