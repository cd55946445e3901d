import { maskEmails } from "../domain/mask.js";
import type { Outcome } from "../domain/outcomes.js";
import type { ActionSummary, RunSummary } from "../sweep/types.js";

/**
 * The one message a run sends (src/notify/notify.ts publishes it to SNS), as a pure function of the
 * run summary. Only a run with news has one: something marked, canceled, failed or blocked, or the
 * run itself failed. Every text that came from a handshake, the config or the table is hostile
 * input on its way to a mail client or a chat window: control characters are escaped, emails are
 * masked as the logs mask them unless the config says `notify: { showTargets: true }`, and no
 * field grows without bound.
 */

/** SNS: "at most 100 characters: ASCII letters, numbers, punctuation, spaces; no line breaks". */
export const SUBJECT_MAX = 100;
/** SNS refuses a message over 256 KB: 262,144 bytes of its UTF-8 encoding. */
export const MESSAGE_MAX_BYTES = 262_144;
/** No single field of an item (a reason, an error) takes more than this many characters. */
export const FIELD_MAX = 1_000;

export type DigestRun = Pick<
  RunSummary,
  "runId" | "status" | "dryRun" | "trigger" | "actor" | "counts" | "actions" | "replayed"
> & {
  error?: string;
  findings?: readonly string[];
  plan?: RunSummary["plan"];
  /** The handshake ledger's findings: the escaped handshakes are news. */
  ledger?: Pick<NonNullable<RunSummary["ledger"]>, "escaped">;
};

/** At most this many escaped handshakes are named one by one; the rest are counted. */
export const ESCAPED_LISTED_MAX = 50;

export interface DigestOptions {
  /** Print target emails as they are (config `notify.showTargets`); default masked. */
  showTargets?: boolean;
  /** Who sent the invitation, for a real-time run about one handshake. */
  sender?: string;
  /** For tests of the summarised form; default MESSAGE_MAX_BYTES. */
  maxBytes?: number;
}

export interface Digest {
  subject: string;
  message: string;
  /** True when the items did not all fit and the message lists only the first ones. */
  summarised: boolean;
}

/** The outcomes that are news, in the order the message lists them, with their headings. */
const NEWS: readonly { outcome: Outcome; verb: string; heading: string }[] = [
  { outcome: "CANCELED", verb: "canceled", heading: "Canceled" },
  {
    outcome: "MARKED",
    verb: "marked",
    heading: "Marked: canceled after the grace period if they still match then",
  },
  {
    outcome: "PLANNED",
    verb: "planned",
    heading: "Planned: canceled only once someone other than the maker approves the plan",
  },
  {
    outcome: "STALE_PLAN",
    verb: "stale",
    heading: "Stale: approved, but changed since the plan, so not canceled",
  },
  { outcome: "FAILED", verb: "failed", heading: "Failed: not canceled, look into them" },
  { outcome: "BLOCKED", verb: "blocked", heading: "Blocked by the safety cap: nothing was canceled" },
];

/**
 * Escapes what could break a line or fool a reader: C0 and C1 controls, DEL, the Unicode line and
 * paragraph separators and the bidirectional overrides that reorder what a reader sees.
 */
export function escapeControls(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g,
    (char) => {
      if (char === "\n") return "\\n";
      if (char === "\r") return "\\r";
      if (char === "\t") return "\\t";
      return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
    },
  );
}

/** A subject SNS accepts: printable ASCII only, one line, at most SUBJECT_MAX characters. */
export function safeSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, "?").trim();
  return ascii.length <= SUBJECT_MAX ? ascii : `${ascii.slice(0, SUBJECT_MAX - 3)}...`;
}

function field(text: string, showTargets: boolean): string {
  // Cut first: masking scans the text, and a field from a hostile source can be any length.
  const cut = text.length <= FIELD_MAX ? text : text.slice(0, FIELD_MAX);
  const shown = escapeControls(showTargets ? cut : maskEmails(cut));
  return shown.length <= FIELD_MAX ? shown : `${shown.slice(0, FIELD_MAX - 1)}…`;
}

function itemLine(action: ActionSummary, showTargets: boolean): string {
  const f = (text: string) => field(text, showTargets);
  const target = action.target === "" ? "(no target)" : f(action.target);
  const parts = [`- ${f(action.handshakeId)} ${f(action.action)} to ${target}`, `rule ${f(action.ruleId)}`];
  if (action.cancelAfter !== undefined) parts.push(`cancel after ${f(action.cancelAfter)}`);
  parts.push(f(action.reason));
  if (action.error !== undefined) parts.push(`error: ${f(action.error)}`);
  return parts.join(" | ");
}

function newsOf(run: DigestRun): ActionSummary[] {
  const outcomes = new Set(NEWS.map((n) => n.outcome));
  return run.actions.filter((action) => outcomes.has(action.outcome));
}

/** The subject: what happened, in a few words. */
export function digestSubject(run: DigestRun): string {
  const parts = NEWS.map(({ outcome, verb }) => {
    const count = run.actions.filter((action) => action.outcome === outcome).length;
    return count > 0 ? `${count} ${verb}` : "";
  }).filter((part) => part !== "");
  const escaped = run.ledger?.escaped.length ?? 0;
  if (escaped > 0) parts.push(`${escaped} escaped`);
  if (run.status === "FAILED") parts.push("run failed");
  if ((run.findings?.length ?? 0) > 0) parts.push(`${run.findings?.length} integrity findings`);
  const dry = run.dryRun ? " (dry run)" : "";
  return safeSubject(`handshake-janitor${dry}: ${parts.join(", ")}`);
}

/** What the message says of the run's plan: how to approve it, or who approved what it applied. */
function planLines(run: DigestRun, f: (text: string) => string): string[] {
  const { plan } = run;
  if (plan === undefined) return [];
  if (plan.approver !== undefined) {
    return [`applies plan ${f(plan.planId)}, made by ${f(plan.maker)}, approved by ${f(plan.approver)}`];
  }
  return [
    `plan ${f(plan.planId)} (made by ${f(plan.maker)}) awaits approval until ${f(plan.expiresAt)}`,
    `Approve (someone other than the maker): handshake-janitor approve ${f(plan.planId)} --note TEXT`,
    `Review: handshake-janitor plan show ${f(plan.planId)}`,
  ];
}

/** The escaped handshakes: a rule would have selected each, and its invitee closed it first. */
function escapedLines(
  escaped: NonNullable<DigestRun["ledger"]>["escaped"],
  f: (text: string) => string,
): string[] {
  if (escaped.length === 0) return [];
  const named = escaped.slice(0, ESCAPED_LISTED_MAX).map((e) => {
    const rule = e.ruleId === undefined ? "" : ` | rule ${f(e.ruleId)}`;
    return `- ${f(e.handshakeId)} ${f(e.action)} to ${f(e.target)} | ${f(e.state)}${rule}`;
  });
  const left = escaped.length - named.length;
  return [
    "",
    `Escaped (${escaped.length}): a rule would have selected these, and they were closed by their invitee before the janitor acted`,
    ...named,
    ...(left > 0 ? [`… and ${left} more; run \`handshake-janitor audit handshakes --verdict escaped\``] : []),
  ];
}

/** undefined when the run has nothing to say (and for a replayed run: it said it already). */
export function buildDigest(run: DigestRun, options: DigestOptions = {}): Digest | undefined {
  const news = newsOf(run);
  const findings = run.findings ?? [];
  const escaped = run.ledger?.escaped ?? [];
  if (
    run.replayed ||
    (news.length === 0 && run.status !== "FAILED" && findings.length === 0 && escaped.length === 0)
  )
    return undefined;
  const showTargets = options.showTargets === true;
  const maxBytes = options.maxBytes ?? MESSAGE_MAX_BYTES;
  const f = (text: string) => field(text, showTargets);

  const head = [
    `handshake-janitor run ${f(run.runId)}: ${run.status}${run.dryRun ? " (dry run: nothing canceled)" : ""}`,
    `triggered by ${f(run.trigger)}, actor ${f(run.actor)}`,
  ];
  if (options.sender !== undefined) head.push(`invitation sent by ${f(options.sender)}`);
  if (run.error !== undefined) head.push(`run error: ${f(run.error)}`);
  if (findings.length > 0) {
    // First: the trail itself is not as it was sealed, which no outcome below can outweigh.
    head.push(
      "",
      `Integrity findings (${findings.length}): the audit trail is not as it was sealed. Look into each, then: handshake-janitor audit acknowledge F-... --note "..."`,
      ...findings.map((finding) => `- ${f(finding)}`),
    );
  }
  head.push(...planLines(run, f), ...escapedLines(escaped, f));
  const counts = Object.entries(run.counts)
    .filter(([, count]) => (count ?? 0) > 0)
    .map(([outcome, count]) => `${outcome} ${count}`)
    .join(", ");
  const audit = `Details: handshake-janitor audit query --run ${f(run.runId)}`;
  const tail = ["", `Counts: ${counts || "none"}`, audit];

  const lines = new Map(news.map((action) => [action, itemLine(action, showTargets)]));
  const sections: string[][] = NEWS.map(({ outcome, heading }) => {
    const items = news.filter((action) => action.outcome === outcome);
    return items.length === 0
      ? []
      : ["", `${heading} (${items.length}):`, ...items.map((a) => lines.get(a) ?? "")];
  });
  const full = [...head, ...sections.flat(), ...tail].join("\n");
  const subject = digestSubject(run);
  if (Buffer.byteLength(full, "utf8") <= maxBytes) return { subject, message: full, summarised: false };
  const message = summarised(run, news, lines, head, tail, showTargets, maxBytes);
  return { subject, message, summarised: true };
}

/**
 * Too large to send whole: counts per outcome and rule, then as many items as fit, then how many
 * were left out and where to find them. Never dropped, never over the limit.
 */
function summarised(
  run: DigestRun,
  news: readonly ActionSummary[],
  lines: ReadonlyMap<ActionSummary, string>,
  head: readonly string[],
  tail: readonly string[],
  showTargets: boolean,
  maxBytes: number,
): string {
  const perRule = new Map<string, number>();
  for (const action of news) {
    const key = `${action.outcome} by rule ${field(action.ruleId, showTargets)}`;
    perRule.set(key, (perRule.get(key) ?? 0) + 1);
  }
  const top = [
    ...head,
    "",
    `${news.length} handshakes are news; too many to list in one message.`,
    "Per outcome and rule:",
    ...[...perRule].map(([key, count]) => `- ${key}: ${count}`),
    "",
    "The first of them:",
  ];
  const bytes = (lines: readonly string[]) => Buffer.byteLength(lines.join("\n"), "utf8");
  // Room for the "and M more" line, whatever M is.
  const more = (left: number) =>
    `… and ${left} more; run \`handshake-janitor audit query --run ${field(run.runId, showTargets)}\``;
  const reserve = bytes([...top, ...tail]) + Buffer.byteLength(`\n${more(news.length)}\n`, "utf8") + 2;
  const listed: string[] = [];
  let used = reserve;
  for (const action of news) {
    const line = lines.get(action) ?? "";
    const size = Buffer.byteLength(line, "utf8") + 1;
    if (used + size > maxBytes) break;
    listed.push(line);
    used += size;
  }
  const left = news.length - listed.length;
  return [...top, ...listed, ...(left > 0 ? [more(left)] : []), ...tail].join("\n");
}
