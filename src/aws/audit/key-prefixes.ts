/**
 * Partition key prefixes that IAM policies name (`dynamodb:LeadingKeys`, scripts/template-parts.ts).
 * Kept free of imports so that the template is built without loading the store.
 */

/** Plan decisions: written by approvers only; the janitor's roles are denied writing them. */
export const DECISION_KEY_PREFIX = "DECISION#";

/**
 * A decision's attestation by its author, under their own unique id: `APPROVER#<userid>#<plan id>`.
 * IAM lets an approver write only under their own id, so a decision names its author truly.
 */
export const APPROVER_KEY_PREFIX = "APPROVER#";

export function approverKey(userId: string, planId: string): string {
  return `${APPROVER_KEY_PREFIX}${userId}#${planId}`;
}

/** Integrity findings (src/aws/audit/findings.ts): written by runs, and by plan commands refusing a plan. */
export const FINDING_KEY_PREFIX = "FINDING#";

/** Acknowledgements of findings (`audit acknowledge`): the janitor's roles are denied writing them. */
export const ACK_KEY_PREFIX = "ACK#";

/** What the janitor's roles may never write, whatever else their policies allow. */
export const JANITOR_DENIED_KEY_PREFIXES = [
  DECISION_KEY_PREFIX,
  APPROVER_KEY_PREFIX,
  ACK_KEY_PREFIX,
] as const;

/**
 * What an approver writes, as IAM patterns: the decision, its attestation under the approver's own
 * id (the policy variable `${aws:userid}`), and the finding a plan it was shown is refused as.
 */
export const APPROVER_KEY_PATTERNS = [
  DECISION_KEY_PREFIX,
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not JavaScript
  `${APPROVER_KEY_PREFIX}\${aws:userid}#`,
  FINDING_KEY_PREFIX,
] as const;
