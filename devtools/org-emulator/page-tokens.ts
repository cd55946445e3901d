/**
 * NextToken for ListHandshakesForOrganization: the offset of the next page and the filter it
 * belongs to, with a random nonce, signed with an HMAC keyed by the emulator's seed. A token that
 * was altered, forged or used with another filter answers InvalidInputException (INVALID_NEXT_TOKEN),
 * as the real service does.
 */
import { createHmac } from "node:crypto";
import { isRecord, WireError } from "./model.js";

export interface PageTokens {
  encode(offset: number, filterKey: string): string;
  /** The offset `token` carries, at most `total`; throws InvalidInputException otherwise. */
  decode(token: string, filterKey: string, total: number): number;
}

export function pageTokens(key: string, random: () => number): PageTokens {
  function sign(payload: string): string {
    return createHmac("sha256", key).update(payload).digest("base64url").slice(0, 22);
  }

  return {
    encode(offset, filterKey) {
      const nonce = Math.floor(random() * 0xffffffff).toString(36);
      const payload = Buffer.from(JSON.stringify({ o: offset, f: filterKey, n: nonce })).toString(
        "base64url",
      );
      return `${payload}.${sign(payload)}`;
    },
    decode(token, filterKey, total) {
      const invalid = new WireError("InvalidInputException", "The NextToken is not valid.", {
        Reason: "INVALID_NEXT_TOKEN",
      });
      const [payload, signature, ...rest] = token.split(".");
      if (
        payload === undefined ||
        signature === undefined ||
        rest.length > 0 ||
        sign(payload) !== signature
      ) {
        throw invalid;
      }
      let decoded: unknown;
      try {
        decoded = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
      } catch {
        throw invalid;
      }
      if (!isRecord(decoded) || decoded.f !== filterKey) throw invalid;
      const offset = decoded.o;
      if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0 || offset > total) {
        throw invalid;
      }
      return offset;
    },
  };
}
