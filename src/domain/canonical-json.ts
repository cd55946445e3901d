/**
 * The one canonical JSON of the project: what the audit chain hashes (src/evidence/integrity.ts) and
 * what a config's hash is taken over (src/config/config.ts).
 */

/**
 * JSON with object keys sorted by UTF-16 code unit, undefined members dropped, no whitespace.
 * For the values audit items hold (strings, integers, booleans, arrays) this is the text RFC 8785
 * (JSON Canonicalization Scheme) gives, so a hash can be recomputed without this code.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  // A date as the ISO-8601 text it stands for (a parsed config may hold one).
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((entry) => canonicalJson(entry ?? null)).join(",")}]`;
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
      return JSON.stringify(value);
    case "object": {
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, inner]) => inner !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  }
}
