/**
 * The emulator's seeded randomness: one small generator that every random choice (faults, page
 * sizes, ids, tokens, request ids) draws from, each purpose on a stream of its own, so the same
 * seed always gives the same run. The fault proxy and the tests' virtual time use it too.
 */

/** mulberry32: tiny, fast and good enough to make fault injection repeatable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function hex32(random: () => number): string {
  return Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join("");
}

/** 8-4-4-4-12 hex digits, as in x-amzn-RequestId. */
export function randomRequestId(random: () => number): string {
  const hex = hex32(random);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A version 4 UUID, as CloudTrail and EventBridge write their ids. */
export function randomUuid(random: () => number): string {
  const hex = hex32(random);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
