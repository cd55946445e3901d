/**
 * The handshake ledger (docs/audit.md, "The ledger"): every handshake the janitor has seen, its
 * last known state, and one entry per thing that happened to it as the janitor saw it. Entries
 * are items of the run that saw them, chained per run and covered by the run's seal. Implemented
 * in src/aws/audit/ledger.ts.
 */

/** The verdict on a handshake under the config in force when it was first seen. */
export const LEDGER_VERDICTS = ["compliant", "selected", "exempted"] as const;
export type LedgerVerdict = (typeof LEDGER_VERDICTS)[number];

/** What a ledger entry records: first sight, a state change, leaving the service's listing. */
export const LEDGER_KINDS = ["SEEN", "STATE", "GONE"] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/** The verdict and what it rests on. */
export interface LedgerJudgement {
  verdict: LedgerVerdict;
  /** selected or exempted: the first matching rule. */
  ruleId?: string;
  /** selected: whether the rule marks first (grace period) or cancels. */
  selection?: "mark" | "cancel";
  /** exempted: the exemption's reason, with its handshake id, email or account. */
  exemption?: string;
  configHash: string;
}

/** The handshake as the listing showed it when first seen. */
export interface LedgerSnapshot {
  action: string;
  state: string;
  target?: string;
  targetType?: string;
  requester?: string;
  requestedAt?: string;
  expiresAt?: string;
  notes?: string;
}

/** One ledger entry: the attributes its chain hash covers (LEDGER_ATTRIBUTES). */
export interface LedgerEntry extends Partial<LedgerSnapshot>, Partial<LedgerJudgement> {
  runId: string;
  handshakeId: string;
  kind: LedgerKind;
  /** ISO-8601 UTC instant the run saw it. */
  at: string;
  /** SEEN and STATE: the state seen; STATE: the one before it. */
  state?: string;
  previousState?: string;
  /** A rule would have selected it, and the invitee closed it (accepted, declined) before the janitor acted. */
  escaped?: boolean;
  /** What the listing entry lacked or held unknown (a SEEN entry), so it is recorded with what it has. */
  flags?: string[];
}

/** Every attribute of a ledger entry, in the order a person reads them: what its chain hash covers. */
export const LEDGER_ATTRIBUTES = [
  "at",
  "runId",
  "handshakeId",
  "kind",
  "state",
  "previousState",
  "action",
  "target",
  "targetType",
  "requester",
  "requestedAt",
  "expiresAt",
  "notes",
  "verdict",
  "ruleId",
  "selection",
  "exemption",
  "configHash",
  "escaped",
  "flags",
] as const satisfies readonly (keyof LedgerEntry)[];

/** A handshake's last known state, as the ledger keeps it (one item per handshake). */
export interface LedgerRecord extends LedgerSnapshot, LedgerJudgement {
  handshakeId: string;
  firstSeenAt: string;
  firstSeenRun: string;
  /** The state it was first seen in (`state` is the last known one). */
  firstSeenState?: string;
  /** When and by which run the state was last seen to change (first sight counts). */
  changedAt: string;
  changedRun: string;
  /** When a full listing first no longer held it. */
  goneAt?: string;
  escaped?: boolean;
  flags?: string[];
}

/** A ledger item that does not read as one: what could be read, and why not the rest. */
export type UnreadableLedgerRecord = Partial<LedgerRecord> & { handshakeId: string; unreadable: string };
export type ReadLedgerRecord = (LedgerRecord & { unreadable?: undefined }) | UnreadableLedgerRecord;
export type ReadLedgerEntry =
  | (LedgerEntry & { unreadable?: undefined })
  | (Partial<LedgerEntry> & {
      handshakeId: string;
      unreadable: string;
    });

/** What a run knows of a handshake before it looks at the listing: its state and the verdict. */
export interface KnownHandshake {
  state: string;
  verdict?: LedgerVerdict;
  /** The rule of a selected or exempted verdict. */
  ruleId?: string;
  gone: boolean;
}

/** A change the run writes: the entry, and the last known state it moves from (absent: first sight). */
export interface LedgerChange {
  entry: LedgerEntry;
  from?: KnownHandshake;
}

/** How a run's ledger writes went. */
export interface LedgerWriteResult {
  /** Entries written, in the run's ledger chain. */
  written: number;
  /** Changes another run had recorded first (nothing written for them), by their entries' handshakes. */
  skipped: readonly string[];
}

/** What a run over the organization reads of the ledger before it compares the listing. */
export interface ListedHandshakes {
  known: Map<string, KnownHandshake>;
  /** Whether the ledger records its first full listing of the organization (LedgerCoverage). */
  covered: boolean;
}

/** The ledger's first full listing of the organization: it covers the organization from then. */
export interface LedgerCoverage {
  /** When that run started, before its listing. */
  at: string;
  runId: string;
}

export interface HandshakeLedger {
  /**
   * What is known of every handshake still in the service's listing as last seen (not gone), for
   * a run over the whole organization: one Query of a sparse index.
   */
  listedHandshakes(): Promise<ListedHandshakes>;
  /** What is known of these handshakes (any, gone or not); absent: never seen. */
  knownHandshakes(ids: readonly string[]): Promise<Map<string, KnownHandshake>>;
  /**
   * Writes the changes as entries of `runId`'s ledger chain, each with its handshake's last known
   * state, conditionally on that state being what the run read (another run recording the same
   * change first is skipped, not doubled).
   */
  recordChanges(runId: string, changes: readonly LedgerChange[]): Promise<LedgerWriteResult>;
  /**
   * Records, once, that `runId` (started at `at`) entered a full listing of the organization;
   * a coverage already recorded is kept.
   */
  enterCoverage(runId: string, at: string): Promise<void>;
}

/** What `audit handshakes` and `audit handshake` read of the ledger, by Query only. */
export interface LedgerReader {
  /** The records of the handshakes requested in [since, until) (population index, one Query per month). */
  queryPopulation(range: { since: Date; until: Date }): AsyncIterable<ReadLedgerRecord>;
  /** One handshake's record (undefined: never seen) and its entries in time (lifecycle index). */
  handshakeLedger(handshakeId: string): Promise<{ record?: ReadLedgerRecord; entries: ReadLedgerEntry[] }>;
  /** The ledger's first full listing of the organization; undefined while none is recorded. */
  ledgerCoverage(): Promise<LedgerCoverage | undefined>;
}
