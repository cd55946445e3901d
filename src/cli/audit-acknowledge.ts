import { userInfo } from "node:os";
import { wire } from "../app.js";
import { ConfigError } from "../domain/errors.js";
import { FINDING_ID } from "../evidence/findings.js";
import { defineCommand, parseCommandArgs } from "./args.js";
import { settingsOrIssues, TABLE_ENV } from "./audit-shared.js";
import { ExitCode } from "./exit-codes.js";
import { visible } from "./format.js";
import type { CliIo } from "./io.js";

/** `audit acknowledge`: who looked into an integrity finding, and what they found. */

export const AUDIT_ACKNOWLEDGE = defineCommand({
  name: "audit acknowledge",
  summary: "record that someone looked into an integrity finding, with a note; once per finding",
  operands: "FINDING",
  options: {
    note: { type: "string", value: "TEXT", description: "what was found and done (required)" },
    actor: {
      type: "string",
      value: "NAME",
      description: "who acknowledges it, recorded with the note (default: user@cli)",
    },
  },
  details: [
    "FINDING is an id `audit verify` names (F- and 12 hex digits): a run found the audit trail not as it was sealed before it extended it, and recorded that under its own seal.",
    "Acknowledging does not make the data intact, only acknowledged: `audit verify` then says the finding on stderr with who acknowledged it and why, instead of counting it as a problem. The damage itself, if it is still there, is still a problem.",
  ],
  exitCodes: `${ExitCode.Done} recorded; ${ExitCode.Invalid} invalid arguments, an unknown finding, or one acknowledged already (the first acknowledgement stands); ${ExitCode.Error} error`,
  environment: TABLE_ENV,
});

export async function acknowledge(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(AUDIT_ACKNOWLEDGE, argv);
  const issues: string[] = [];
  const [id, ...extra] = positionals;
  if (id === undefined) issues.push("FINDING: give the id of the finding, as audit verify names it (F-...)");
  else if (!FINDING_ID.test(id))
    issues.push(`FINDING: ${visible(id)} is not a finding id (F- and 12 hex digits)`);
  if (extra.length > 0) issues.push(`FINDING: one finding at a time, not ${positionals.length}`);
  const note = values.note?.trim();
  if (note === undefined || note === "") issues.push("--note: say what was found and done; it is required");
  const settings = settingsOrIssues(io.env, issues);
  if (issues.length > 0 || id === undefined || note === undefined) throw new ConfigError(issues);
  const { audit } = wire(settings);
  const ack = { actor: values.actor ?? `${userInfo().username}@cli`, note, at: new Date().toISOString() };
  const answer = await audit.acknowledgeFinding(id, ack);
  if (answer === "unknown") {
    io.err(`FINDING: no run recorded finding ${id}\n`);
    return ExitCode.Invalid;
  }
  if (answer === "acknowledged already") {
    const first = await audit.findingAcknowledgement(id);
    io.err(
      `FINDING: ${id} was acknowledged already${first ? ` by ${visible(first.actor)} at ${first.at}: ${visible(first.note)}` : ""}; that acknowledgement stands\n`,
    );
    return ExitCode.Invalid;
  }
  io.out(`acknowledged ${id} by ${visible(ack.actor)} at ${ack.at}`);
  return ExitCode.Done;
}
