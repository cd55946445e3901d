/**
 * The config as people read it: what `config check` prints (every setting, each rule with its
 * description and grace period, each exemption with its expiry) and the warnings about what is
 * valid but probably not meant.
 */
import { matchesEveryAddress } from "../domain/glob.js";
import { KNOWN_ACTION_TYPES } from "../domain/handshake.js";
import { describeGrace, describeRule } from "../rules/index.js";
import { usesApproval } from "./approval.js";
import {
  configHash,
  DEFAULT_PLAN_EXPIRY_HOURS,
  type Exemption,
  isExemptionActive,
  type JanitorConfig,
} from "./config.js";
import { formatPath, formatProblem, type Problem } from "./messages.js";

function describeTarget(exemption: Exemption): string {
  if (exemption.handshakeId !== undefined) return `handshake ${exemption.handshakeId}`;
  if (exemption.email !== undefined) return `email ${exemption.email}`;
  return `account ${exemption.accountId}`;
}

/** The effective config as `config check` prints it, warnings (see configWarnings) last. */
export function describeConfig(config: JanitorConfig, now: Date): string {
  const lines = [
    `version: ${config.version} (hash ${configHash(config)})`,
    config.dryRun
      ? "dryRun: true (nothing is canceled; set dryRun: false to cancel)"
      : "dryRun: false (matching handshakes are canceled)",
    `maxCancellationsPerRun: ${config.maxCancellationsPerRun}${config.maxCancellationsReason ? ` (${config.maxCancellationsReason})` : ""}`,
    ...describeApproval(config),
    `rules (${config.rules.length}, in order; the first match names the rule):`,
    ...config.rules.map(
      (rule) =>
        `  ${rule.id} [${rule.type}]: ${describeRule(rule)}${describeGrace(rule.graceHours)}${
          rule.approval === undefined ? "" : ` (approval: ${rule.approval})`
        }`,
    ),
    `exemptions (${config.exemptions.length}):`,
    ...config.exemptions.map((exemption) => {
      const expiry =
        exemption.until === undefined
          ? "no expiry"
          : `until ${exemption.until}${isExemptionActive(exemption, now) ? "" : ", EXPIRED"}`;
      return `  ${describeTarget(exemption)}: ${exemption.reason} (${expiry})`;
    }),
  ];
  const warnings = configWarnings(config, now);
  if (warnings.length > 0) lines.push(`warnings (${warnings.length}):`, ...warnings.map((w) => `  ${w}`));
  return lines.join("\n");
}

/** The four-eyes settings, only when the config uses them, so other configs read as before. */
function describeApproval(config: JanitorConfig): string[] {
  if (!usesApproval(config) && config.approval === undefined) return [];
  const hours = config.approvalExpiryHours ?? DEFAULT_PLAN_EXPIRY_HOURS;
  const note =
    config.approvalNoteRequire === undefined
      ? ""
      : `; an approval's note must contain a match for /${config.approvalNoteRequire}/ (RE2)`;
  return [
    `approval: ${config.approval ?? "none"} (a run records a plan instead of cancelling where approval is required; plans expire after ${hours} h${note})`,
  ];
}

/**
 * Things that are valid but probably not meant: exemptions already expired, email globs that match
 * every address (`*@*`, `*@*.*`), action types the
 * service does not (yet) have. `config check` prints them; a run does not stop for them.
 */
export function configWarnings(config: JanitorConfig, now: Date, source?: string): string[] {
  const problems: Problem[] = [];
  config.rules.forEach((rule, index) => {
    const actionTypes = "actionTypes" in rule.options ? rule.options.actionTypes : undefined;
    actionTypes?.forEach((action, at) => {
      if (!KNOWN_ACTION_TYPES.includes(action)) {
        problems.push({
          path: ["rules", index, "actionTypes", at],
          message: `'${action}' is not an action type the service has today (${KNOWN_ACTION_TYPES.join(", ")})`,
        });
      }
    });
  });
  config.rules.forEach((rule, index) => {
    if (rule.type !== "email") return;
    const lists = [
      ["allow", rule.options.allow, "this allow list lets every email target through"],
      ["deny", rule.options.deny, "every email invitation in scope is canceled"],
    ] as const;
    for (const [list, patterns, consequence] of lists) {
      patterns?.forEach((pattern, at) => {
        if (matchesEveryAddress(pattern)) {
          problems.push({
            path: ["rules", index, list, at],
            message: `'${pattern}' matches every address: ${consequence}`,
          });
        }
      });
    }
  });
  config.exemptions.forEach((exemption, index) => {
    if (exemption.email !== undefined && matchesEveryAddress(exemption.email)) {
      problems.push({
        path: ["exemptions", index, "email"],
        message: `'${exemption.email}' matches every address: this exemption protects every email target`,
      });
    }
  });
  config.exemptions.forEach((exemption, index) => {
    if (!isExemptionActive(exemption, now)) {
      problems.push({
        path: ["exemptions", index, "until"],
        message: `${exemption.until} has passed; this exemption no longer protects anything`,
      });
    }
  });
  return problems.map((p) =>
    source === undefined ? `${formatPath(p.path)}: ${p.message}` : formatProblem(source, p),
  );
}
