import { createHash } from "node:crypto";
import type { RunRecord } from "../ports/records.js";
import { describeGrace, describeRule, findRuleKind, type RuleConfig } from "../rules/index.js";
import { describeScope } from "../rules/scope.js";
import { escapeHtml, table } from "./html-parts.js";

/** What the audit table holds for one config hash: its canonical JSON, or why it could not be read. */
export type ConfigOnRecord = { json: string } | { unreadable: string };

/**
 * The report's "config in force": for each config hash the period's runs applied, the rules and
 * exemptions as recorded, checked against the hash.
 */

interface StoredRule {
  id?: unknown;
  type?: unknown;
  options?: unknown;
  graceHours?: unknown;
}

interface StoredExemption {
  handshakeId?: unknown;
  email?: unknown;
  accountId?: unknown;
  reason?: unknown;
  until?: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The hash the sweep gives this canonical JSON (configHash: sha256, first 12 hex digits). */
function hashOf(json: string): string {
  return createHash("sha256").update(json).digest("hex").slice(0, 12);
}

function ruleRow(rule: StoredRule, index: number): string[] {
  const id = typeof rule.id === "string" ? rule.id : "";
  const type = typeof rule.type === "string" ? rule.type : "";
  const kind = findRuleKind(type);
  const parsed = kind?.options.safeParse(rule.options);
  const options = isObject(rule.options) ? rule.options : {};
  const actionTypes = Array.isArray(options.actionTypes) ? options.actionTypes.map(String) : undefined;
  // A kind this version does not know, or options it no longer accepts: shown as stored.
  const description =
    parsed?.success === true
      ? describeRule({ id, type, options: parsed.data } as RuleConfig)
      : `options as stored: ${JSON.stringify(rule.options)}`;
  return [
    String(index + 1),
    // Rule ids have no length limit: one longer than its column wraps.
    `<span class="mono">${escapeHtml(id)}</span>`,
    escapeHtml(type),
    escapeHtml(describeScope(actionTypes)),
    escapeHtml(`${description}${describeGrace(rule.graceHours)}`),
  ];
}

function exemptionRow(exemption: StoredExemption): string[] {
  const target =
    exemption.handshakeId !== undefined
      ? `handshake ${exemption.handshakeId}`
      : exemption.email !== undefined
        ? `email ${exemption.email}`
        : `account ${exemption.accountId}`;
  const until =
    exemption.until === undefined
      ? "no expiry"
      : /^\d{4}-\d{2}-\d{2}$/.test(String(exemption.until))
        ? `${exemption.until} (through the end of that day, UTC)`
        : String(exemption.until);
  return [escapeHtml(target), escapeHtml(exemption.reason), escapeHtml(until)];
}

export function configSection(
  hash: string,
  runs: readonly RunRecord[],
  record: ConfigOnRecord | undefined,
): string {
  const used = runs.filter((r) => r.configHash === hash);
  const first = used[0];
  const last = used[used.length - 1];
  const heading = `<h3>config <span class="mono">${escapeHtml(hash)}</span> (version ${escapeHtml(first?.configVersion)})</h3>
<p class="note">applied by ${used.length} run${used.length === 1 ? "" : "s"} of the period, started ${escapeHtml(first?.startedAt)}${used.length > 1 ? ` to ${escapeHtml(last?.startedAt)}` : ""}</p>`;
  if (record === undefined) {
    return `<section class="config" data-hash="${escapeHtml(hash)}">${heading}<p class="warn">config not on record (runs before configs were stored)</p></section>`;
  }
  if ("unreadable" in record) {
    return `<section class="config" data-hash="${escapeHtml(hash)}">${heading}<p class="warn">config could not be read: ${escapeHtml(record.unreadable)}</p></section>`;
  }
  let config: unknown;
  try {
    config = JSON.parse(record.json);
  } catch {
    config = undefined;
  }
  if (!isObject(config)) {
    return `<section class="config" data-hash="${escapeHtml(hash)}">${heading}<p class="warn">the config on record is not JSON: ${escapeHtml(record.json.slice(0, 200))}</p></section>`;
  }
  const matches = hashOf(record.json) === hash;
  const rules = Array.isArray(config.rules) ? (config.rules as StoredRule[]) : [];
  const exemptions = Array.isArray(config.exemptions) ? (config.exemptions as StoredExemption[]) : [];
  const check = matches
    ? `<p class="note">The config on record hashes to ${escapeHtml(hash)}: it is the one these runs applied.</p>`
    : `<p class="warn">The config on record does not hash to ${escapeHtml(hash)} (it hashes to ${escapeHtml(hashOf(record.json))}): it is not the one these runs applied.</p>`;
  return `<section class="config" data-hash="${escapeHtml(hash)}">${heading}${check}
<p class="note">dryRun: ${escapeHtml(config.dryRun)} · maxCancellationsPerRun: ${escapeHtml(config.maxCancellationsPerRun)} · rules evaluated in this order; the first match names the rule</p>
${table(
  [
    { header: "#", col: "w-narrow", numeric: true },
    { header: "rule id", col: "w-rule" },
    { header: "type", col: "w-num" },
    { header: "scope" },
    { header: "selects" },
  ],
  rules.map((rule, i) => ruleRow(isObject(rule) ? rule : {}, i)),
  `config-${escapeHtml(hash)}-rules`,
)}
${
  exemptions.length === 0
    ? '<p class="note">exemptions: none</p>'
    : table(
        [{ header: "exempted target" }, { header: "reason" }, { header: "until" }],
        exemptions.map((e) => exemptionRow(isObject(e) ? e : {})),
        `config-${escapeHtml(hash)}-exemptions`,
      )
}
</section>`;
}

/**
 * One self-contained page: inline CSS and SVG, no script, no font, no image, and a CSP that
 * forbids every fetch, so opening an archived report never reaches out anywhere.
 */
