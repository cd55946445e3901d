import { InviteAccountToOrganizationCommand } from "@aws-sdk/client-organizations";
import { wire } from "../src/app.js";
import { exitCodeFor } from "../src/cli/exit-codes.js";
import { renderSummary } from "../src/cli/render.js";
import { loadYamlReader, parseConfig } from "../src/config/config.js";
import { notifyRun } from "../src/notify/notify.js";
import { sleep } from "../src/resilience/backoff.js";
import type { Settings } from "../src/settings.js";
import { type RunSummary, sweep } from "../src/sweep/sweep.js";
import { DEFAULT_TOPIC_ARN, startSnsEmulator } from "./sns-emulator.js";
import { LOCAL_CREDENTIALS } from "./stack-env.js";

/** 0.001 h is 3.6 s: a grace period the demo can wait out. A real one is hours. */
const DEMO_GRACE_HOURS = 0.001;
/** A run during the grace period is shown only when it can finish inside it, on a busy machine too. */
const WAIT_RUN_MARGIN_MS = 2_000;
/** The wait for the grace period is bounded: this many polls of half a second at most. */
const MAX_POLLS = 40;

const GRACE_CONFIG = `
version: 1
dryRun: false
rules:
  - id: personal-email
    type: email
    deny: ["*@gmail.com"]
    actionTypes: [INVITE]
    graceHours: ${DEMO_GRACE_HOURS}
`;

/**
 * The demo's notification step: a local SNS endpoint, two new invitations to personal addresses,
 * a rule with a grace period of seconds. The first run marks them and says so; a run during the
 * grace period does nothing; after it, a run cancels them and says so. `settings` point at the
 * demo's local Organizations emulator and DynamoDB Local; the step adds its SNS endpoint and topic.
 */
export async function graceAndNotifyDemo(out: (text: string) => void, settings: Settings): Promise<number> {
  const sns = await startSnsEmulator();
  try {
    const topicArn = DEFAULT_TOPIC_ARN;
    const app = wire(
      { ...settings, notifyTopicArn: topicArn, endpoints: { ...settings.endpoints, sns: sns.endpoint } },
      { credentials: LOCAL_CREDENTIALS },
    );
    const { clients, notifier } = app;
    const ports = { ...app.sweepDeps, audit: app.audit, now: () => new Date() };
    await loadYamlReader();
    const config = parseConfig(GRACE_CONFIG, "grace.yaml");
    out(`== grace period and notifications (SNS on ${sns.endpoint}) ==`);
    out(`rule personal-email with graceHours: ${DEMO_GRACE_HOURS} (${DEMO_GRACE_HOURS * 3600} s)`);

    const handshakeIds: string[] = [];
    for (const email of ["contractor.one@gmail.com", "contractor.two@gmail.com"]) {
      const answer = await clients.organizations.send(
        new InviteAccountToOrganizationCommand({ Target: { Type: "EMAIL", Id: email }, Notes: "demo" }),
      );
      if (answer.Handshake?.Id) handshakeIds.push(answer.Handshake.Id);
    }
    out(`invited ${handshakeIds.length} personal addresses: ${handshakeIds.join(", ")}\n`);

    const stamp = new Date().toISOString().replace(/[-:.]/g, "");
    const runs: RunSummary[] = [];
    const run = async (name: string) => {
      const summary = await sweep(
        { config, runId: `demo-${stamp}-${name}`, trigger: "cli", actor: "demo", handshakeIds },
        ports,
      );
      if (notifier !== undefined) await notifyRun(summary, { notifier, audit: ports.audit });
      runs.push(summary);
      return summary;
    };

    const marked = await run("mark");
    out(`-- first run: marked, nothing canceled --\n${renderSummary(marked)}\n`);
    const due = Math.max(
      ...marked.actions.map((a) => Date.parse(a.cancelAfter ?? "")).filter(Number.isFinite),
    );
    if (due - Date.now() > WAIT_RUN_MARGIN_MS) {
      const left = ((due - Date.now()) / 1000).toFixed(1);
      const waiting = await run("wait");
      out(
        `-- a run during the grace period (${left} s left): ${waiting.actions.length} decisions, nothing done --\n`,
      );
    }
    for (let poll = 0; poll < MAX_POLLS && Date.now() < due; poll += 1) await sleep(500);
    const canceled = await run("cancel");
    out(`-- after the grace period: canceled --\n${renderSummary(canceled)}\n`);

    const published = sns.published();
    out(`== ${published.length} notifications published to ${topicArn} ==`);
    for (const message of published) out(`Subject: ${message.subject ?? ""}\n${message.message}\n`);
    const worst = runs.map((summary) => exitCodeFor(summary.status)).find((code) => code !== 0);
    return worst ?? 0;
  } finally {
    await sns.stop();
  }
}
