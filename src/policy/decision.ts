import type { Exemption } from "../config/config.js";
import type { Handshake } from "../domain/handshake.js";
import type { OpenMark } from "../ports/records.js";

/**
 * What the planner decided about one handshake some rule matched (or failed on). Its own module,
 * so that the planner and the grace logic it hands decisions through share it without importing
 * each other.
 */
export type Decision =
  | {
      kind: "cancel";
      handshake: Handshake;
      ruleId: string;
      matchedRules: string[];
      reason: string;
      /** The open mark this cancel fulfils or supersedes: closed once the outcome is final. */
      closesMark?: OpenMark;
    }
  | {
      /** Selected by a rule with a grace period: recorded as MARKED, cancelled by a later run. */
      kind: "mark";
      handshake: Handshake;
      ruleId: string;
      matchedRules: string[];
      reason: string;
      cancelAfter: string;
      closesMark?: OpenMark;
    }
  | {
      /** A marked handshake that is not cancelled after all: its mark is closed with `outcome`. */
      kind: "close";
      handshake: Handshake;
      ruleId: string;
      matchedRules: string[];
      reason: string;
      outcome: "EXEMPTED" | "STATE_CHANGED" | "ALREADY_CLOSED";
      closesMark: OpenMark;
    }
  | {
      kind: "exempted";
      handshake: Handshake;
      ruleId: string;
      matchedRules: string[];
      /** The first matching rule's reason, then `; exempted: ` and the exemption's reason. */
      reason: string;
      exemption: Exemption;
      closesMark?: OpenMark;
    }
  | {
      /** A rule threw on this handshake: doubt, so it is never canceled. */
      kind: "failed";
      handshake: Handshake;
      /** The first rule that threw. */
      ruleId: string;
      /** The rules that did match, if any. */
      matchedRules: string[];
      reason: string;
      error: string;
    };
