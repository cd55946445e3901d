/** Logs keep the domain (what rules care about) and hide the person: `j***@example.com`. */
export function maskEmail(value: string): string {
  const at = value.lastIndexOf("@");
  if (at <= 0) return value;
  return `${value[0]}***${value.slice(at)}`;
}

/** Masks every email address inside free text. */
export function maskEmails(text: string): string {
  return text.replace(/[^\s@"',;<>()]+@[^\s@"',;<>()]+/g, (match) => maskEmail(match));
}
