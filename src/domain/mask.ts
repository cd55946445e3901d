/** Logs keep the domain (what rules care about) and hide the person: `j***@example.com`. */
export function maskEmail(value: string): string {
  const at = value.lastIndexOf("@");
  if (at <= 0) return value;
  return `${value[0]}***${value.slice(at)}`;
}

/**
 * Masks every email address inside free text. The text is cut into words at whitespace and
 * punctuation that cannot be part of an address, and a word with an `@` between other characters
 * is masked whole. A single pattern for "local@domain" searched anywhere would retry from every
 * position of a long word without an `@` (quadratic: 40,000 characters took 9 s); one pass over
 * the words is linear.
 */
export function maskEmails(text: string): string {
  return text.replace(/[^\s"',;<>()]+/g, (word) => {
    const at = word.indexOf("@");
    return at > 0 && word.lastIndexOf("@") < word.length - 1 ? maskEmail(word) : word;
  });
}
