/**
 * The depth of an event's JSON, checked before any schema reads it: a schema with recursive parts
 * (a handshake's resources hold resources) would otherwise recurse as deep as the event is nested
 * and end in a RangeError that Lambda retries, instead of one line about the event.
 */

/** No event the janitor reads nests deeper than this; CloudTrail's own go to about ten. */
export const MAX_EVENT_DEPTH = 64;

/** How many path segments the problem's line names before it elides the rest. */
const SHOWN_SEGMENTS = 8;

/**
 * One line naming where `event` first nests deeper than `maxDepth` levels, or undefined. Walks
 * the value without recursion, so a pathological event cannot exhaust the stack here either.
 */
export function eventDepthProblem(event: unknown, maxDepth = MAX_EVENT_DEPTH): string | undefined {
  const stack: { value: unknown; path: readonly string[] }[] = [{ value: event, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: readonly string[] };
    if (typeof value !== "object" || value === null) continue;
    if (path.length >= maxDepth) {
      const shown = path.slice(0, SHOWN_SEGMENTS).join(".");
      return `event.${shown}${path.length > SHOWN_SEGMENTS ? ".…" : ""}: nested more than ${maxDepth} levels deep; no event the janitor reads is`;
    }
    for (const [key, child] of Object.entries(value)) stack.push({ value: child, path: [...path, key] });
  }
  return undefined;
}
