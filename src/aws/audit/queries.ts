/**
 * The read side for `audit query`, reports, export and verification (AuditReader): every method
 * is a Query or GetItem, never a Scan, served by the most selective key the filter allows. The
 * readers of a period yield an item that does not read in full as what could be read of it,
 * flagged `unreadable`, and carry on.
 */

import { ConfigError, JanitorError } from "../../domain/errors.js";
import type { ChainedLedgerEntry } from "../../evidence/ledger.js";
import type { ActionFilter, AuditReader, RunFilter, StoredAction } from "../../evidence/reader.js";
import type { AuditAction } from "../../ports/records.js";
import { AUDIT_INDEXES } from "../audit-table.js";
import { atRange, beginsWith, type Condition, eq, monthsBetween, queryInput } from "./expressions.js";
import { createFindingStore } from "./findings.js";
import { parseAction, parseRun, readAction, readRun, storedAction } from "./item-reading.js";
import { configKey, describeKey, type Item, ORG_CHAIN_KEY, runKey } from "./items.js";
import { readLedgerEntry } from "./ledger-items.js";
import { orgHeadOf, runEvidence } from "./seal.js";
import type { TableIo } from "./table-io.js";

/** A time-range query with no lower bound reads this far back. */
export const DEFAULT_QUERY_WINDOW_DAYS = 30;

export function createAuditQueries(io: TableIo, now: () => Date): AuditReader {
  const findingStore = createFindingStore(io);
  function timeRange(
    filter: { since?: Date; until?: Date },
    defaults: boolean,
  ): { since?: Date; until?: Date } {
    const until = filter.until ?? (defaults ? now() : undefined);
    const since =
      filter.since ??
      (defaults && until ? new Date(until.getTime() - DEFAULT_QUERY_WINDOW_DAYS * 86_400_000) : undefined);
    const issues: string[] = [];
    if (since && Number.isNaN(since.getTime())) issues.push("since: not a valid date");
    if (until && Number.isNaN(until.getTime())) issues.push("until: not a valid date");
    if (issues.length === 0 && since && until && since > until) {
      issues.push(`since: ${since.toISOString()} is after until ${until.toISOString()}`);
    }
    if (issues.length > 0) throw new ConfigError(issues.map((issue) => `audit query ${issue}`));
    return { ...(since ? { since } : {}), ...(until ? { until } : {}) };
  }

  async function* itemsByMonth(
    prefix: "ACTION" | "RUN" | "FINDING",
    range: { since?: Date; until?: Date },
    filters: Condition[],
  ): AsyncGenerator<Item> {
    const { since, until } = range;
    if (!since || !until) return;
    for (const month of monthsBetween(since, until)) {
      yield* io.query(
        queryInput(AUDIT_INDEXES.byTime, [eq("timeKey", `${prefix}#${month}`), ...atRange(range)], filters),
      );
    }
  }

  /** The action items of one run, from its partition. */
  function runActionItems(runId: string): AsyncIterable<Item> {
    return io.query(queryInput(undefined, [eq("pk", `RUN#${runId}`), beginsWith("sk", "ACTION#")], []));
  }

  /** The ledger entries of one run, from its partition, in chain order. */
  async function* runLedgerEntries(runId: string) {
    const entries = queryInput(undefined, [eq("pk", `RUN#${runId}`), beginsWith("sk", "LEDGER#")], []);
    for await (const item of io.query(entries)) yield readLedgerEntry(item);
  }

  return {
    async *queryActions(filter: ActionFilter = {}) {
      const criteria = {
        runId: filter.runId,
        handshakeId: filter.handshakeId,
        ruleId: filter.ruleId,
        outcome: filter.outcome,
      };
      const filtersExcept = (...keyed: (keyof typeof criteria)[]) =>
        Object.entries(criteria)
          .filter(([name, value]) => value !== undefined && !keyed.includes(name as keyof typeof criteria))
          .map(([name, value]) => eq(name, value as string));
      // An index keyed on one criterion, sorted by `at`: the range is part of the key condition.
      const byKey = (index: string, name: "handshakeId" | "ruleId", value: string) =>
        io.query(
          queryInput(index, [eq(name, value), ...atRange(timeRange(filter, false))], filtersExcept(name)),
        );

      let items: AsyncIterable<Item>;
      if (filter.runId !== undefined) {
        const range = timeRange(filter, false);
        // The run's item for the handshake and its conflict record, if any (src/evidence/conflicts.ts);
        // the handshakeId filter keeps out a longer id that begins with this one.
        const sk = beginsWith("sk", `ACTION#${filter.handshakeId ?? ""}`);
        // `at` is not a key of the base table, so a range with runId is a filter.
        items = io.query(
          queryInput(
            undefined,
            [eq("pk", `RUN#${filter.runId}`), sk],
            [...filtersExcept("runId"), ...atRange(range)],
          ),
        );
      } else if (filter.handshakeId !== undefined) {
        items = byKey(AUDIT_INDEXES.byHandshake, "handshakeId", filter.handshakeId);
      } else if (filter.ruleId !== undefined) {
        items = byKey(AUDIT_INDEXES.byRule, "ruleId", filter.ruleId);
      } else {
        items = itemsByMonth("ACTION", timeRange(filter, true), filtersExcept());
      }
      for await (const item of items) yield readAction(item).record;
    },

    async *listRuns(filter: RunFilter = {}) {
      for await (const item of itemsByMonth("RUN", timeRange(filter, true), [])) yield readRun(item);
    },

    async *runsBefore(until, floor) {
      if (floor >= until) return;
      // Newest first, month by month: a reader looking for the last run of a kind stops early.
      for (const month of monthsBetween(floor, until).reverse()) {
        const input = queryInput(
          AUDIT_INDEXES.byTime,
          [eq("timeKey", `RUN#${month}`), ...atRange({ since: floor, until })],
          [],
        );
        for await (const item of io.query({ ...input, ScanIndexForward: false })) yield readRun(item);
      }
    },

    async getRun(runId) {
      const item = await io.getItem(runKey(runId));
      return item === undefined ? undefined : parseRun(item);
    },

    async readChain(runId) {
      const runStored = await io.getItem(runKey(runId));
      const actions: StoredAction[] = [];
      const ledger: ChainedLedgerEntry[] = [];
      // One Query of the run's partition holds both chains, each in its order (ACTION# sorts
      // before LEDGER#): a run of a few hundred items is one page, not one per chain.
      for await (const item of io.query(queryInput(undefined, [eq("pk", `RUN#${runId}`)], []))) {
        const sk = item.sk?.S ?? "";
        if (sk.startsWith("ACTION#")) actions.push(storedAction(item));
        else if (sk.startsWith("LEDGER#")) ledger.push(readLedgerEntry(item));
      }
      if (runStored === undefined) return { actions, ledger };
      const run = runEvidence(runStored);
      return { head: run.head, actions, run, ledger };
    },

    async *exportRuns(filter: RunFilter = {}) {
      for await (const item of itemsByMonth("RUN", timeRange(filter, true), [])) {
        yield { ...runEvidence(item), read: readRun(item) };
      }
    },

    async *exportActions(filter: RunFilter = {}) {
      for await (const item of itemsByMonth("ACTION", timeRange(filter, true), [])) {
        yield storedAction(item);
      }
    },

    runLedger: runLedgerEntries,

    async getRunActions(runId) {
      const actions: AuditAction[] = [];
      for await (const item of runActionItems(runId)) actions.push(parseAction(item));
      return actions;
    },

    async runEvidence(runId) {
      const item = await io.getItem(runKey(runId));
      return item === undefined ? undefined : runEvidence(item);
    },

    findingAcknowledgement: (id) => findingStore.findingAcknowledgement(id),

    async *findingsIn(filter: RunFilter = {}) {
      for await (const item of itemsByMonth("FINDING", timeRange(filter, true), [])) {
        const finding = item.finding?.S;
        if (finding === undefined) continue;
        yield { finding, by: item.runId?.S ?? "?", at: item.at?.S ?? "" };
      }
    },

    async orgHead() {
      return orgHeadOf(await io.getItem(ORG_CHAIN_KEY));
    },

    async getConfig(hash) {
      const item = await io.getItem(configKey(hash));
      const config = item?.config?.S;
      if (item !== undefined && config === undefined) {
        throw new JanitorError(`audit item ${describeKey(item)}: config is not a string`);
      }
      return config;
    },
  };
}
