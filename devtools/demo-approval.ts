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
  const sent = await maker.clients.organizations.send(
    new InviteAccountToOrganizationCommand({ Target: { Type: "EMAIL", Id: "weekend.project@gmail.com" } }),
  );
  const id = sent.Handshake?.Id ?? "";
  const strict: JanitorConfig = { ...config, approval: "required" };
  const makerId = await maker.whoAmI();
  const planned = await sweep(
    {
      config: strict,
      runId: `demo-${stamp}-plan`,
      trigger: "cli",
      actor: makerId.arn,
      handshakeIds: [id],
      identity: makerId,
    },
    { ...maker.sweepDeps, now: () => new Date() },
  );
  const planId = planned.plan?.planId ?? "";
  out(`invited weekend.project@gmail.com (${id}); a live run under approval: required:`);
  out(renderSummary(planned));

  const approverId = await approver.whoAmI();
  const stored = await approver.plans.readPlan(planId);
  if (stored === undefined) throw new Error(`plan ${planId} is not on record`);
  const decision = decisionOf(stored.plan, approverId, {
    verdict: "approved",
    at: new Date().toISOString(),
    note: "reviewed: personal address, CHG-2041",
    handshakeIds: stored.plan.entries.map((entry) => entry.handshakeId),
  });
  await approver.plans.decidePlan(decision);
  out(`\nplan ${planId}: made by ${stored.plan.maker}, approved by ${approverId.arn} ("${decision.note}")`);

  const decided = await approver.plans.readPlan(planId);
  if (decided === undefined) throw new Error(`plan ${planId} is not on record`);
  const applied = await applyPlan(
    { config: strict, stored: decided, trigger: "cli", actor: approverId.arn },
    { ...approver.sweepDeps, now: () => new Date(), logger: silentLogger },
  );
  out("the apply, through the same lease, claims, fencing and audit as any sweep:");
  out(renderSummary(applied));
  return planned.counts.PLANNED === 1 && applied.counts.CANCELED === 1;
}
