/**
 * Email globs: `*` matches any run of characters (also none), every other character is literal,
 * comparison is case-insensitive and anchored at both ends. Matching is done by hand rather than by
 * compiling to a RegExp so that `.`, `+`, `(` and friends in a pattern can never act as regex syntax.
 */
export function matchesGlob(pattern: string, value: string): boolean {
  // Domains are case-insensitive and mailboxes rarely distinguish case, so a deny list must not
  // miss "Bob@GMAIL.com" for want of folding.
  const parts = pattern.toLowerCase().split("*");
  const text = value.toLowerCase();
  const first = parts[0] ?? "";
  if (parts.length === 1) return text === first;
  const last = parts[parts.length - 1] ?? "";
  if (text.length < first.length + last.length) return false;
  if (!text.startsWith(first) || !text.endsWith(last)) return false;
  // Greedy leftmost placement of the middle pieces is optimal when `*` is the only wildcard.
  let at = first.length;
  const end = text.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = text.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** Why a string cannot serve as an email glob, or undefined when it can. */
export function globProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return "must not be empty";
  if (/\s/.test(pattern)) return "must not contain spaces";
  // A bare domain such as "example.com" is the likeliest slip; it would match no address at all.
  if (!pattern.includes("@")) return `must contain '@', as in '*@${pattern}'`;
  return undefined;
}
