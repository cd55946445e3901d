/**
 * Characters that act on whoever reads them rather than being read: C0 controls, DEL and C1
 * controls (a terminal acts on them: ESC starts a sequence that can clear the screen or set the
 * window title, U+009B is a one-character CSI) and the bidi embeddings, overrides and isolates,
 * which reorder what a person reads (U+202A–E, U+2066–9). Audit values are free text from outside
 * (a handshake's notes, an email address), so every output shows them as escapes instead.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** What JSON.stringify leaves raw of those: DEL, C1 and the bidi controls (it escapes C0 itself). */
const RAW_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** The one escape of a character, as a JSON string would write it. */
function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * Text as people may safely see it: every control character shown as an escape, `\x1b` for C0,
 * DEL and C1, `\u202e` for the bidi controls. A backslash is left as it is, so a value that spells
 * `\x1b` reads the same as an escaped ESC; either way nothing is acted on.
 */
export function visible(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}

/**
 * Text for a page: as `visible`, except the line breaks and tabs a browser shows as white space.
 */
export function visibleOnPage(text: string): string {
  return text.replace(CONTROL, (c) => (c === "\n" || c === "\t" || c === "\r" ? c : visible(c)));
}

/**
 * JSON whose every control character is an escape, so that a value read back is exactly the
 * value written and nothing in the text acts on a terminal or reorders it for a reader.
 */
export function jsonText(value: unknown): string {
  return (JSON.stringify(value) ?? "null").replace(RAW_IN_JSON, unicodeEscape);
}
