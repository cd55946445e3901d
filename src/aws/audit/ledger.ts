/**
 * The handshake ledger's store (src/ports/ledger.ts, docs/audit.md "The ledger"). Each handshake
 * has one record, `LEDGER#<handshakeId>/STATE`, with its last known state; each change a run sees
 * is an entry of that run, `RUN#<runId>/LEDGER#<seq>`, in the run's own ledger chain whose head
 * the run item holds (ledgerHead, ledgerLength) under its seal. A batch of changes is one
 * transaction: the entries, their records (each conditional on the state the run read) and the
 * head (conditional on the run being unsealed and the head being where it was).
 */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { AuditWriteError } from "../../domain/errors.js";
import { CHAIN_GENESIS } from "../../evidence/integrity.js";
import { ledgerHash } from "../../evidence/ledger.js";
import type { HandshakeLedger, KnownHandshake, LedgerChange, LedgerWriteResult } from "../../ports/ledger.js";
import { AUDIT_INDEXES } from "../audit-table.js";
import { eq, queryInput, updateExpression } from "./expressions.js";
import { expiry, runKey, toItem } from "./items.js";
import {
  isCoverageItem,
  knownOf,
  LISTED,
  ledgerCoverageItem,
  ledgerEntryItem,
  ledgerRecordItem,
  ledgerRecordKey,
} from "./ledger-items.js";
import { cancellationCodes, requestToken, type TableIo, writeError } from "./table-io.js";

/** Changes per transaction: two items each (entry and record) and the run's head, within 100. */
const CHANGES_PER_TRANSACTION = 40;

interface Head {
  hash: string;
  length: number;
}

export function createLedgerStore(
  io: TableIo,
  options: { retentionDays: number | undefined },
): HandshakeLedger {
  const heads = new Map<string, Head>();

  async function headOf(runId: string): Promise<Head> {
    const known = heads.get(runId);
    if (known !== undefined) return known;
    const run = await io.getItem(runKey(runId), writeError);
    if (run === undefined) throw new AuditWriteError(`audit ledger: run ${runId} has no run item`);
    return { hash: run.ledgerHead?.S ?? CHAIN_GENESIS, length: Number(run.ledgerLength?.N ?? "0") };
  }

  /** The record's write for one change: a new record, or its state moved on from the one read. */
  function recordWrite(change: LedgerChange): TransactWriteItem {
    const { entry, from } = change;
    const ttl = toItem(expiry(entry.at, options.retentionDays));
    if (from === undefined) {
      return {
        Put: {
          TableName: io.tableName,
          Item: { ...ledgerRecordItem(entry), ...ttl },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      };
    }
    const gone = entry.kind === "GONE";
    const sets: Record<string, unknown> = {
      changedAt: entry.at,
      changedRun: entry.runId,
      ...expiry(entry.at, options.retentionDays),
      ...(gone ? { goneAt: entry.at } : { state: entry.state, listedKey: LISTED }),
      ...(entry.escaped === true ? { escaped: true } : {}),
    };
    const update = updateExpression(sets, gone ? ["listedKey"] : ["goneAt"]);
    return {
      Update: {
        ...update,
        TableName: io.tableName,
        Key: ledgerRecordKey(entry.handshakeId),
        ConditionExpression: `#fromState = :fromState AND ${from.gone ? "attribute_exists" : "attribute_not_exists"}(#fromGone)`,
        ExpressionAttributeNames: {
          ...update.ExpressionAttributeNames,
          "#fromState": "state",
          "#fromGone": "goneAt",
        },
        ExpressionAttributeValues: {
          ...update.ExpressionAttributeValues,
          ...toItem({ ":fromState": from.state }),
        },
      },
    };
  }

  /** Writes `changes` after `head` in one transaction; false when a record's condition failed. */
  async function writeBatch(
    runId: string,
    head: Head,
    changes: readonly LedgerChange[],
  ): Promise<Head | undefined> {
    let { hash, length } = head;
    const items: TransactWriteItem[] = [];
    for (const change of changes) {
      length += 1;
      const prev = hash;
      hash = ledgerHash(prev, change.entry, length);
      const entryItem = {
        ...ledgerEntryItem(change.entry, { seq: length, prev, hash }),
        ...toItem(expiry(change.entry.at, options.retentionDays)),
      };
      items.push({
        Put: { TableName: io.tableName, Item: entryItem, ConditionExpression: "attribute_not_exists(pk)" },
      });
      items.push(recordWrite(change));
    }
    items.push({
      Update: {
        TableName: io.tableName,
        Key: runKey(runId),
        UpdateExpression: "SET ledgerHead = :head, ledgerLength = :length",
        ConditionExpression:
          head.length === 0
            ? "attribute_exists(pk) AND attribute_not_exists(seal) AND attribute_not_exists(ledgerLength)"
            : "attribute_exists(pk) AND attribute_not_exists(seal) AND ledgerLength = :was",
        ExpressionAttributeValues: toItem({
          ":head": hash,
          ":length": length,
          ...(head.length === 0 ? {} : { ":was": head.length }),
        }),
      },
    });
    try {
      await io.transact({
        TransactItems: items,
        // Its retry, after an answer lost, is not refused by the head it moved itself.
        ClientRequestToken: requestToken(runId, "ledger", hash),
      });
      return { hash, length };
    } catch (error) {
      const codes = cancellationCodes(error);
      const recordRefused = codes.some(
        (code, index) => index % 2 === 1 && index < items.length - 1 && code === "ConditionalCheckFailed",
      );
      const headRefused = codes[items.length - 1] === "ConditionalCheckFailed";
      if (recordRefused && !headRefused) return undefined;
      throw writeError(`ledger of run ${runId}`, error);
    }
  }

  return {
    async listedHandshakes() {
      const known = new Map<string, KnownHandshake>();
      let covered = false;
      for await (const item of io.query(queryInput(AUDIT_INDEXES.listed, [eq("listedKey", LISTED)], []))) {
        if (isCoverageItem(item)) {
          covered = true;
          continue;
        }
        const id = item.ledgerId?.S;
        const state = id === undefined ? undefined : knownOf(item);
        if (id !== undefined && state !== undefined) known.set(id, state);
      }
      return { known, covered };
    },

    async enterCoverage(runId, at) {
      // Recorded already (by an earlier run, or a concurrent one): the first stays.
      await io.putNew(ledgerCoverageItem(runId, at));
    },
    async knownHandshakes(ids) {
      const known = new Map<string, KnownHandshake>();
      if (ids.length === 0) return known;
      for (const item of await io.batchGet([...new Set(ids)].map(ledgerRecordKey))) {
        const id = (item.pk?.S ?? "").replace(/^LEDGER#/, "");
        const state = knownOf(item);
        if (state !== undefined) known.set(id, state);
      }
      return known;
    },

    async recordChanges(runId, changes): Promise<LedgerWriteResult> {
      let head = await headOf(runId);
      let written = 0;
      const skipped: string[] = [];
      for (let start = 0; start < changes.length; start += CHANGES_PER_TRANSACTION) {
        const batch = changes.slice(start, start + CHANGES_PER_TRANSACTION);
        const moved = await writeBatch(runId, head, batch);
        if (moved !== undefined) {
          head = moved;
          written += batch.length;
          heads.set(runId, head);
          continue;
        }
        // Another run recorded one of these first: one by one, and what it recorded is skipped.
        for (const change of batch) {
          const one = await writeBatch(runId, head, [change]);
          if (one === undefined) skipped.push(change.entry.handshakeId);
          else {
            head = one;
            written += 1;
            heads.set(runId, head);
          }
        }
      }
      return { written, skipped };
    },
  };
}
