import { domainToASCII, domainToUnicode } from "node:url";

/*
 * Email globs: `*` matches any run of characters (also none), every other character is literal,
 * and the match is anchored at both ends. Matching is done by hand rather than by compiling to a
 * RegExp so that `.`, `+`, `(` and friends in a pattern can never act as regex syntax.
 *
 * Patterns and addresses are compared in one form, the *key*: the local part NFKC-normalised and
 * lower-cased, `@`, and the domain in its ASCII (punycode) form, lower case, one trailing dot
 * dropped. So `BOB@GMAIL.COM.`, full-width `ｇｍａｉｌ.com`, `gmail。com` and `bücher.example` /
 * `xn--bcher-kva.example` each compare as the one address they are delivered to.
 *
 * Normalising is what a deny list needs: an attacker's spelling must not escape it. It is not
 * enough for an allow list or an exemption, which must not be satisfied by a look-alike: the Kelvin
 * sign U+212A folds to `k`, so `bob@\u212Aontoso.com` has the key of `bob@kontoso.com`. An address
 * vouches for itself only when it is *plain*: a local part of printable ASCII (no `@`), and a
 * domain already written in the form normalisation produces (ASCII, or Unicode exactly as IDNA
 * maps it: lower case, no compatibility characters), with no empty label. Anything else can be
 * caught by a deny glob but never passes an allow glob or an exemption: fail closed, both ways.
 * A look-alike from another script (Cyrillic `а` in `exаmple.com`) is a different domain; it is
 * neither caught by `*@example.com` nor let through by it.
 */

/** An address in the form globs compare, and whether it is written plainly in that form. */
export interface EmailKey {
  key: string;
  plain: boolean;
}

const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;
const PLAIN_LOCAL = /^[\x21-\x3f\x41-\x7e]+$/;

function foldText(text: string): string {
  // Lower-casing can leave a sequence NFKC would compose (İ becomes i + U+0307); normalise again.
  return text.normalize("NFKC").toLowerCase().normalize("NFKC");
}

/** Lower-cases ASCII letters only: toLowerCase would turn the Kelvin sign into `k`. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

function splitAddress(text: string): { local: string; domain: string } | undefined {
  const at = text.lastIndexOf("@");
  if (at < 0) return undefined;
  const written = text.slice(at + 1);
  // `gmail.com.` is the fully qualified spelling of `gmail.com`; one dot, no more.
  return { local: text.slice(0, at), domain: written.endsWith(".") ? written.slice(0, -1) : written };
}

/**
 * Only non-ASCII domains go through IDNA: domainToASCII also parses IPv4 forms, turning `1.2.3`
 * into `1.2.0.3`, which an ASCII domain must not be put through.
 */
function domainKey(domain: string): { key: string; plain: boolean } {
  const labelsPresent = domain.split(".").every((label) => label.length > 0);
  if (PRINTABLE_ASCII.test(domain)) {
    return { key: asciiLower(domain), plain: labelsPresent && domain.length > 0 && !domain.includes("@") };
  }
  const ascii = domainToASCII(domain);
  if (ascii === "") return { key: foldText(domain), plain: false };
  return { key: ascii, plain: labelsPresent && domainToUnicode(ascii) === domain };
}

export function emailKey(address: string): EmailKey {
  const parts = splitAddress(address);
  if (parts === undefined) return { key: foldText(address), plain: false };
  const domain = domainKey(parts.domain);
  return {
    key: `${foldText(parts.local)}@${domain.key}`,
    plain: PLAIN_LOCAL.test(parts.local) && domain.plain,
  };
}

type PatternForm = { key: string } | { problem: string };

function patternForm(pattern: string): PatternForm {
  const parts = splitAddress(pattern);
  if (parts === undefined) return { key: foldText(pattern) };
  if (!PRINTABLE_ASCII.test(parts.local)) {
    return { problem: "must have a local part of ASCII characters" };
  }
  const labels: string[] = [];
  for (const label of parts.domain.split(".")) {
    if (PRINTABLE_ASCII.test(label)) {
      labels.push(asciiLower(label));
      continue;
    }
    if (label.includes("*")) {
      return { problem: `has '*' in the non-ASCII domain label '${label}'; write that label in full` };
    }
    const ascii = domainToASCII(label);
    if (ascii === "") return { problem: `has '${label}', which is not a valid domain label` };
    const normal = domainToUnicode(ascii);
    if (normal !== label) {
      // Name the code points: a Kelvin sign and a K look the same in a terminal.
      const odd = [...new Set([...label].filter((c) => c > "\x7f" && !normal.includes(c)))];
      const codes = odd.map(
        (c) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`,
      );
      return {
        problem: `has the domain label '${label}' (${codes.join(", ")}), which is not written in normal form; write '${normal}'`,
      };
    }
    labels.push(ascii);
  }
  return { key: `${asciiLower(parts.local)}@${labels.join(".")}` };
}

// Patterns come from the config, a few dozen at most; each is put in key form once, not once per
// handshake. The bound only guards a long-lived process against configs that keep changing.
const patternKeys = new Map<string, string>();

function patternKey(pattern: string): string {
  let key = patternKeys.get(pattern);
  if (key === undefined) {
    const form = patternForm(pattern);
    // A pattern with a problem never reaches a run (config validation rejects it); fold it anyway.
    key = "key" in form ? form.key : foldText(pattern);
    if (patternKeys.size >= 10_000) patternKeys.clear();
    patternKeys.set(pattern, key);
  }
  return key;
}

function globMatch(pattern: string, text: string): boolean {
  const parts = pattern.split("*");
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

/** Whether the address, however spelled, compares equal to the glob: what a deny list asks. */
export function matchesGlob(pattern: string, address: string | EmailKey): boolean {
  const key = typeof address === "string" ? emailKey(address) : address;
  return globMatch(patternKey(pattern), key.key);
}

/**
 * Whether the glob vouches for the address: it matches, and the address is written plainly.
 * What an allow list and an exemption ask, so that a look-alike spelling never passes.
 */
export function vouchesFor(pattern: string, address: string | EmailKey): boolean {
  const key = typeof address === "string" ? emailKey(address) : address;
  return key.plain && matchesGlob(pattern, key);
}

/** Addresses as unlike each other as real ones get; a glob that matches them all matches anyone. */
const PROBE_ADDRESSES = [
  "a@b.co",
  "0@0.io",
  "first.last+tag@mail.sub.example.org",
  "x_y-z@xn--bcher-kva.example",
  "zz@zz.zz",
];
// Keyed on first use: only the CLI's `config check` asks, never a Lambda run.
let probes: EmailKey[] | undefined;

/** `*@*`, `*@*.*` and the like: a glob that lets every address through (or catches every one). */
export function matchesEveryAddress(pattern: string): boolean {
  if (pattern.replace(/[*@]/g, "").length === 0) return true;
  probes ??= PROBE_ADDRESSES.map(emailKey);
  return probes.every((probe) => matchesGlob(pattern, probe));
}

/** Why a string cannot serve as an email glob, or undefined when it can. */
export function globProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return "must not be empty";
  if (/\s/.test(pattern)) return "must not contain spaces";
  // A bare domain such as "example.com" is the likeliest slip; it would match no address at all.
  if (!pattern.includes("@")) return `must contain '@', as in '*@${pattern}'`;
  const form = patternForm(pattern);
  return "problem" in form ? form.problem : undefined;
}
