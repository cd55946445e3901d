/**
 * Partition key prefixes that IAM policies name (`dynamodb:LeadingKeys`, scripts/template-parts.ts).
 * Kept free of imports so that the template is built without loading the store.
 */

/** Plan decisions: written by approvers only; the janitor's roles are denied writing them. */
export const DECISION_KEY_PREFIX = "DECISION#";

/** Integrity findings (src/aws/audit/findings.ts): written by runs, and by plan commands refusing a plan. */
export const FINDING_KEY_PREFIX = "FINDING#";

/** Acknowledgements of findings (`audit acknowledge`): the janitor's roles are denied writing them. */
export const ACK_KEY_PREFIX = "ACK#";

/** What the janitor's roles may never write, whatever else their policies allow. */
export const JANITOR_DENIED_KEY_PREFIXES = [DECISION_KEY_PREFIX, ACK_KEY_PREFIX] as const;

/** What an approver writes: its decision, and the finding a plan it was shown is refused as. */
export const APPROVER_KEY_PREFIXES = [DECISION_KEY_PREFIX, FINDING_KEY_PREFIX] as const;
