/** Four eyes in the config (docs/approval.md): which rules wait for approval, and for how long. */
import { DEFAULT_PLAN_EXPIRY_HOURS, type JanitorConfig } from "./config.js";

/** Whether a cancellation the rule selects waits for approval: the rule's own setting, else the config's. */
export function requiresApproval(config: JanitorConfig, ruleId: string): boolean {
  const rule = config.rules.find((candidate) => candidate.id === ruleId);
  return (rule?.approval ?? config.approval ?? "none") === "required";
}

/** Whether any cancellation under this config can wait for approval. */
export function usesApproval(config: JanitorConfig): boolean {
  return config.approval === "required" || config.rules.some((rule) => rule.approval === "required");
}

/** How long a plan made under this config can be approved and applied, in milliseconds. */
export function planLifetimeMs(config: JanitorConfig): number {
  return (config.approvalExpiryHours ?? DEFAULT_PLAN_EXPIRY_HOURS) * 3_600_000;
}
