import { InviteAccountToOrganizationCommand } from "@aws-sdk/client-organizations";
import { wire } from "../src/app.js";
import { renderSummary } from "../src/cli/render.js";
import type { JanitorConfig } from "../src/config/config.js";
import { decisionOf } from "../src/policy/approval.js";
import type { Settings } from "../src/settings.js";
import { applyPlan } from "../src/sweep/apply.js";
import { silentLogger, sweep } from "../src/sweep/sweep.js";
import { LOCAL_CREDENTIALS } from "./stack-env.js";

/**
 * Four eyes in the demo (docs/approval.md): under `approval: required` a live run records a plan
 * instead of cancelling; a second person, with credentials of their own (the emulator's STS names
 * the caller after the access key), approves it; the apply cancels exactly what was approved.
 * The same steps as `run`, `approve` and `apply` on the command line, in this process.
 */
export async function fourEyesStep(
  settings: Settings,
  config: JanitorConfig,
  stamp: string,
  out: (text: string) => void,
): Promise<boolean> {
  out("\n== four eyes: one person plans, another approves, the janitor applies exactly that ==");
  const maker = wire(settings, { credentials: LOCAL_CREDENTIALS });
  const approver = wire(settings, { credentials: { accessKeyId: "approver", secretAccessKey: "local" } });
  const strict: JanitorConfig = { ...config, approval: "required" };
  const { id, summary: planned } = await inviteAndRun(maker, strict, `demo-${stamp}-plan`, "weekend.project");
  const planId = planned.plan?.planId ?? "";
  out(`invited weekend.project@gmail.com (${id}); a live run under approval: required:`);
  out(renderSummary(planned));

  const approverId = await approver.whoAmI();
  const { maker: plannedBy, note } = await approveAll(
    approver,
    planId,
    "reviewed: personal address, CHG-2041",
  );
  out(`\nplan ${planId}: made by ${plannedBy}, approved by ${approverId.arn} ("${note}")`);
  const applied = await applyApproved(approver, strict, planId);
  out("the apply, through the same lease, claims, fencing and audit as any sweep:");
  out(renderSummary(applied));
  const early = await approveMeansCancelNow({ maker, approver }, strict, stamp, out);
  return planned.counts.PLANNED === 1 && applied.counts.CANCELED === 1 && early;
}

type App = ReturnType<typeof wire>;

/** The maker invites `<user>@gmail.com` and runs live over that one invitation, as `run --handshake` does. */
async function inviteAndRun(maker: App, config: JanitorConfig, runId: string, user: string) {
  const email = `${user}@gmail.com`;
  const sent = await maker.clients.organizations.send(
    new InviteAccountToOrganizationCommand({ Target: { Type: "EMAIL", Id: email } }),
  );
  const id = sent.Handshake?.Id ?? "";
  const makerId = await maker.whoAmI();
  const summary = await sweep(
    { config, runId, trigger: "cli", actor: makerId.arn, handshakeIds: [id], identity: makerId },
    { ...maker.sweepDeps, now: () => new Date() },
  );
  return { id, summary };
}

/** Someone other than the maker approves the whole plan, as `approve ID --note` does. */
async function approveAll(approver: App, planId: string, note: string) {
  const stored = await approver.plans.readPlan(planId);
  if (stored === undefined) throw new Error(`plan ${planId} is not on record`);
  const decision = decisionOf(stored.plan, await approver.whoAmI(), {
    verdict: "approved",
    at: new Date().toISOString(),
    note,
    handshakeIds: stored.plan.entries.map((entry) => entry.handshakeId),
  });
  await approver.plans.decidePlan(decision);
  return { maker: stored.plan.maker, note };
}

/** `apply ID` by the approver. */
async function applyApproved(approver: App, config: JanitorConfig, planId: string) {
  const decided = await approver.plans.readPlan(planId);
  if (decided === undefined) throw new Error(`plan ${planId} is not on record`);
  const by = (await approver.whoAmI()).arn;
  return applyPlan(
    { config, stored: decided, trigger: "cli", actor: by },
    { ...approver.sweepDeps, now: () => new Date(), logger: silentLogger },
  );
}

/**
 * Under a rule with a grace period the run marks and plans at once; approving the plan cuts the
 * grace period short: the apply cancels the handshake now, not in 24 hours.
 */
async function approveMeansCancelNow(
  people: { maker: App; approver: App },
  config: JanitorConfig,
  stamp: string,
  out: (text: string) => void,
): Promise<boolean> {
  const { maker, approver } = people;
  const graced: JanitorConfig = {
    ...config,
    rules: config.rules.map((rule) => (rule.id === "outside-email" ? { ...rule, graceHours: 24 } : rule)),
  };
  const { id, summary: marked } = await inviteAndRun(maker, graced, `demo-${stamp}-mark`, "side.project");
  const planId = marked.plan?.planId ?? "";
  out(
    `\ninvited side.project@gmail.com (${id}); outside-email now has graceHours: 24, so the run marks and plans at once:`,
  );
  out(renderSummary(marked));
  await approveAll(approver, planId, "no need to wait 24 h, CHG-2043");
  const applied = await applyApproved(approver, graced, planId);
  out(`\nplan ${planId} approved; the apply cancels it now, its grace period cut short:`);
  out(renderSummary(applied));
  out(`${id}: canceled at ${applied.endedAt}; its mark was due at ${marked.actions[0]?.cancelAfter}`);
  return marked.counts.MARKED === 1 && applied.counts.CANCELED === 1;
}
