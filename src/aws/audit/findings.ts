/**
 * Integrity findings in the audit table (src/evidence/findings.ts): one item per finding
 * (`FINDING#<id>` / `FINDING`), written by the run that found it, and its acknowledgement
 * (`ACK#<id>` / `ACK`), written once by `audit acknowledge`. Both are conditional puts: a
 * finding is recorded once, and an acknowledgement is never overwritten. Acknowledgements have a
 * partition key prefix of their own, which the janitor's roles are denied writing under
 * (scripts/template-parts.ts): the janitor cannot acknowledge away what it found.
 */
import { idOfFinding } from "../../evidence/findings.js";
import type { Acknowledgement } from "../../evidence/reader.js";
import { timeKey, toItem } from "./items.js";
import { ACK_KEY_PREFIX, FINDING_KEY_PREFIX } from "./key-prefixes.js";
import type { TableIo } from "./table-io.js";
import { writeError } from "./table-io.js";

/** What the janitor and the CLI read and write of findings. */
export interface FindingStore {
  /**
   * Puts each finding as an item of its own, once (a finding recorded already stays), on the
   * byTime index under `FINDING#<month>`: `by` is the run that made it, or what refused what
   * (`plan <id>`).
   */
  recordFindings(by: string, findings: readonly string[], at: string): Promise<void>;
  /** "unknown" when no run recorded the finding; "acknowledged already" leaves the first one. */
  acknowledgeFinding(
    id: string,
    ack: Acknowledgement,
  ): Promise<"recorded" | "unknown" | "acknowledged already">;
}

const findingKey = (id: string, sk: "FINDING" | "ACK") =>
  toItem({ pk: `${sk === "ACK" ? ACK_KEY_PREFIX : FINDING_KEY_PREFIX}${id}`, sk });

export function createFindingStore(io: TableIo): FindingStore & {
  findingAcknowledgement(id: string): Promise<Acknowledgement | undefined>;
} {
  return {
    async recordFindings(by, findings, at) {
      for (const finding of findings) {
        await io.putNew({
          ...findingKey(idOfFinding(finding), "FINDING"),
          ...toItem({ itemType: "finding", runId: by, finding, at, timeKey: timeKey("FINDING", at) }),
        });
      }
    },

    async acknowledgeFinding(id, ack) {
      if ((await io.getItem(findingKey(id, "FINDING"), writeError)) === undefined) return "unknown";
      const put = await io.putNew({
        ...findingKey(id, "ACK"),
        ...toItem({ itemType: "acknowledgement", actor: ack.actor, note: ack.note, at: ack.at }),
      });
      return put.created ? "recorded" : "acknowledged already";
    },

    async findingAcknowledgement(id) {
      const item = await io.getItem(findingKey(id, "ACK"));
      const actor = item?.actor?.S;
      if (item === undefined || actor === undefined) return undefined;
      return { actor, note: item.note?.S ?? "", at: item.at?.S ?? "" };
    },
  };
}
