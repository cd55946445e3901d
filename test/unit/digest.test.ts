import { describe, expect, it } from "vitest";
import type { Outcome } from "../../src/domain/outcomes.js";
import {
  buildDigest,
  type DigestRun,
  escapeControls,
  MESSAGE_MAX_BYTES,
  SUBJECT_MAX,
  safeSubject,
} from "../../src/notify/digest.js";
import type { ActionSummary } from "../../src/sweep/sweep.js";

function action(n: number, outcome: Outcome, overrides: Partial<ActionSummary> = {}): ActionSummary {
  return {
    handshakeId: `h-${String(n).padStart(10, "0")}`,
    outcome,
    ruleId: "outside-email",
    matchedRules: ["outside-email"],
    action: "INVITE",
    target: `person${n}@gmail.com`,
    reason: "email matches a deny pattern",
    attempts: outcome === "CANCELED" ? 1 : 0,
    ...overrides,
  };
}

function run(actions: ActionSummary[], overrides: Partial<DigestRun> = {}): DigestRun {
  const counts: Partial<Record<Outcome, number>> = {};
  for (const a of actions) counts[a.outcome] = (counts[a.outcome] ?? 0) + 1;
  return {
    runId: "run-42",
    status: "COMPLETED",
    dryRun: false,
    trigger: "scheduled",
    actor: "events.amazonaws.com",
    counts,
    actions,
    replayed: false,
    ...overrides,
  };
}

describe("buildDigest: whether there is news", () => {
  it.each<{ name: string; outcomes: Outcome[]; status?: DigestRun["status"]; news: boolean }>([
    { name: "nothing matched", outcomes: [], news: false },
    { name: "only exempted and dry-run items", outcomes: ["EXEMPTED", "DRY_RUN"], news: false },
    { name: "only deferred items", outcomes: ["DEFERRED"], news: false },
    { name: "a cancel", outcomes: ["CANCELED"], news: true },
    { name: "a mark", outcomes: ["MARKED"], news: true },
    { name: "a failure", outcomes: ["FAILED"], news: true },
    { name: "a blocked run", outcomes: ["BLOCKED"], status: "BLOCKED", news: true },
    { name: "a run that failed before deciding", outcomes: [], status: "FAILED", news: true },
  ])("$name: news $news", ({ outcomes, status, news }) => {
    const digest = buildDigest(
      run(
        outcomes.map((o, i) => action(i, o)),
        status ? { status } : {},
      ),
    );
    expect(digest !== undefined).toBe(news);
  });

  it("a replayed run says nothing again", () => {
    expect(buildDigest(run([action(1, "CANCELED")], { replayed: true }))).toBeUndefined();
  });
});

describe("buildDigest: integrity findings", () => {
  it("are news on their own, named in the subject and first in the message, masked and escaped", () => {
    const finding =
      "F-0123456789ab: run run-41: item h-1 (#1): content altered (hash mismatch), target a@gmail.com\u202e";
    const digest = buildDigest(run([], { findings: [finding] }));

    expect(digest?.subject).toBe("handshake-janitor: 1 integrity findings");
    const lines = digest?.message.split("\n") ?? [];
    const heading = lines.findIndex((line) => line.startsWith("Integrity findings (1):"));
    expect(heading).toBeGreaterThan(0);
    expect(heading).toBeLessThan(lines.findIndex((line) => line.startsWith("Counts:")));
    expect(lines[heading]).toContain("audit acknowledge F-... --note");
    expect(lines[heading + 1]).toBe(
      "- F-0123456789ab: run run-41: item h-1 (#1): content altered (hash mismatch), target a***@gmail.com\\u202e",
    );
  });
});

describe("buildDigest: the subject", () => {
  it.each<{ outcomes: Outcome[]; subject: string }>([
    { outcomes: ["CANCELED", "CANCELED", "CANCELED"], subject: "handshake-janitor: 3 canceled" },
    {
      outcomes: ["CANCELED", "MARKED", "MARKED", "FAILED", "EXEMPTED"],
      subject: "handshake-janitor: 1 canceled, 2 marked, 1 failed",
    },
    { outcomes: ["BLOCKED", "BLOCKED"], subject: "handshake-janitor: 2 blocked" },
  ])("$subject", ({ outcomes, subject }) => {
    expect(buildDigest(run(outcomes.map((o, i) => action(i, o))))?.subject).toBe(subject);
  });

  it.each([
    { input: "a\nb\tc", expected: "a?b?c" },
    { input: "ünïcode", expected: "?n?code" },
    { input: "x".repeat(150), expected: `${"x".repeat(SUBJECT_MAX - 3)}...` },
  ])("safeSubject($input) is printable ASCII within the limit", ({ input, expected }) => {
    const subject = safeSubject(input);
    expect(subject).toBe(expected);
    expect(subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
    expect(subject).toMatch(/^[\x20-\x7e]*$/);
  });
});

describe("buildDigest: the items", () => {
  it("names each handshake by id, action, masked target, rule and reason, with cancelAfter on marks", () => {
    const marked = action(2, "MARKED", { cancelAfter: "2026-11-30T12:00:00.000Z" });
    const message = buildDigest(run([action(1, "CANCELED"), marked]))?.message ?? "";
    expect(message).toContain(
      "h-0000000001 INVITE to p***@gmail.com | rule outside-email | email matches a deny pattern",
    );
    expect(message).toContain(
      "h-0000000002 INVITE to p***@gmail.com | rule outside-email | cancel after 2026-11-30T12:00:00.000Z",
    );
    expect(message).not.toContain("person1@gmail.com");
    expect(message).toContain("audit query --run run-42");
  });

  it("shows targets unmasked when the config says so", () => {
    const message = buildDigest(run([action(1, "CANCELED")]), { showTargets: true })?.message ?? "";
    expect(message).toContain("person1@gmail.com");
  });

  it("masks emails inside reasons and errors too", () => {
    const failed = action(1, "FAILED", {
      reason: "x@corp.example asked",
      error: "Denied for y@corp.example",
    });
    const message = buildDigest(run([failed]))?.message ?? "";
    expect(message).toContain("x***@corp.example asked");
    expect(message).toContain("error: Denied for y***@corp.example");
  });

  it("names the sender of the invitation when given", () => {
    const message = buildDigest(run([action(1, "MARKED")]), {
      sender: "arn:aws:iam::111122223333:user/alice",
    })?.message;
    expect(message).toContain("invitation sent by arn:aws:iam::111122223333:user/alice");
  });

  it("escapes control characters from hostile fields, so no item spans two lines", () => {
    const hostile = action(1, "CANCELED", {
      reason: "line\nFAKE: canceled 99\u202e\u0007",
      action: "INVITE\r\n",
    });
    const message = buildDigest(run([hostile]))?.message ?? "";
    const lines = message.split("\n");
    expect(lines.filter((line) => line.startsWith("- "))).toHaveLength(1);
    expect(message).toContain("line\\nFAKE: canceled 99\\u202e\\u0007");
    const controls = [...message].filter((char) => char !== "\n" && (char < " " || char === "\u202e"));
    expect(controls).toEqual([]);
  });

  it.each([
    { input: "a\u0000b", expected: "a\\u0000b" },
    { input: "tab\there", expected: "tab\\there" },
    { input: "\u2028", expected: "\\u2028" },
    { input: "plain ünïcode stays", expected: "plain ünïcode stays" },
  ])("escapeControls($input)", ({ input, expected }) => {
    expect(escapeControls(input)).toBe(expected);
  });
});

describe("buildDigest: the size limit", () => {
  it("summarises a message over the limit: counts per outcome and rule, the first items, how many more", () => {
    const actions = Array.from({ length: 400 }, (_, i) =>
      action(i, i % 2 === 0 ? "CANCELED" : "MARKED", {
        reason: "r".repeat(900),
        ruleId: i < 100 ? "stale" : "outside",
      }),
    );
    const maxBytes = 20_000;
    const digest = buildDigest(run(actions), { maxBytes });
    expect(digest?.summarised).toBe(true);
    const message = digest?.message ?? "";
    expect(Buffer.byteLength(message, "utf8")).toBeLessThanOrEqual(maxBytes);
    expect(message).toContain("CANCELED by rule stale: 50");
    expect(message).toContain("MARKED by rule outside: 150");
    const listed = message.split("\n").filter((line) => line.startsWith("- h-")).length;
    expect(listed).toBeGreaterThan(0);
    expect(message).toContain(`and ${400 - listed} more; run \`handshake-janitor audit query --run run-42\``);
    expect(digest?.subject).toBe("handshake-janitor: 200 canceled, 200 marked");
  });

  it("keeps a message under the limit whole, and stays under SNS's 256 KB with multi-byte text", () => {
    const small = buildDigest(run([action(1, "CANCELED")]));
    expect(small?.summarised).toBe(false);
    const wide = Array.from({ length: 600 }, (_, i) => action(i, "CANCELED", { reason: "€".repeat(900) }));
    const digest = buildDigest(run(wide));
    expect(digest?.summarised).toBe(true);
    expect(Buffer.byteLength(digest?.message ?? "", "utf8")).toBeLessThanOrEqual(MESSAGE_MAX_BYTES);
  });
});

describe("buildDigest: escaped handshakes", () => {
  const escaped = (n: number) => ({
    handshakeId: `h-${String(n).padStart(10, "0")}`,
    action: "INVITE",
    target: `person${n}@gmail.com`,
    state: "ACCEPTED",
    ruleId: "outside-email",
  });

  it("are news on their own, named one by one with their rule, the target masked", () => {
    const digest = buildDigest(run([], { ledger: { escaped: [escaped(1), escaped(2)] } }));

    expect(digest?.subject).toBe("handshake-janitor: 2 escaped");
    expect(digest?.message).toContain("Escaped (2): a rule would have selected these");
    expect(digest?.message).toContain(
      "- h-0000000001 INVITE to p***@gmail.com | ACCEPTED | rule outside-email",
    );
    expect(digest?.message).not.toContain("person1@gmail.com");
  });

  it("are counted beyond the first ones named, never dropped", () => {
    const many = Array.from({ length: 60 }, (_, n) => escaped(n));

    const digest = buildDigest(run([], { ledger: { escaped: many } }));

    expect(digest?.message.split("\n").filter((line) => line.startsWith("- h-"))).toHaveLength(50);
    expect(digest?.message).toContain(
      "… and 10 more; run `handshake-janitor audit handshakes --verdict escaped`",
    );
  });
});
