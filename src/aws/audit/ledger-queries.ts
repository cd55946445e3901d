/**
 * The ledger's reads for people (src/ports/ledger.ts LedgerReader): the population of a period
 * and one handshake's lifecycle, each by Query. What does not read is returned flagged.
 */
import type { LedgerReader } from "../../ports/ledger.js";
import { AUDIT_INDEXES } from "../audit-table.js";
import { eq, monthsBetween, queryInput } from "./expressions.js";
import { toItem } from "./items.js";
import {
  LEDGER_COVERAGE_KEY,
  ledgerRecordKey,
  populationKey,
  readLedgerEntry,
  readLedgerRecord,
} from "./ledger-items.js";
import type { TableIo } from "./table-io.js";

export function createLedgerQueries(io: TableIo): LedgerReader {
  return {
    async *queryPopulation({ since, until }) {
      const low = since.toISOString();
      const high = new Date(until.getTime() - 1).toISOString();
      for (const month of monthsBetween(since, until)) {
        const input = queryInput(
          AUDIT_INDEXES.population,
          [eq("popKey", populationKey(month)), { kind: "between", name: "popAt", low, high }],
          [],
        );
        for await (const item of io.query(input)) yield readLedgerRecord(item);
      }
    },

    async ledgerCoverage() {
      const item = await io.getItem(toItem(LEDGER_COVERAGE_KEY));
      const at = item?.at?.S;
      const runId = item?.runId?.S;
      return at === undefined || runId === undefined ? undefined : { at, runId };
    },

    async handshakeLedger(handshakeId) {
      const stored = await io.getItem(ledgerRecordKey(handshakeId));
      const entries = [];
      const input = queryInput(AUDIT_INDEXES.lifecycle, [eq("ledgerKey", `LEDGER#${handshakeId}`)], []);
      for await (const item of io.query(input)) entries.push(readLedgerEntry(item).read);
      return { ...(stored === undefined ? {} : { record: readLedgerRecord(stored) }), entries };
    },
  };
}
