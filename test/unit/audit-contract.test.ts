import { sweepPorts } from "../../src/sweep/types.js";
import { auditPortContract } from "../support/audit-contract.js";
import { FakeAudit, FakeClaims } from "../support/fakes.js";

// The fake the unit tests run the sweep on, held to the same cases as the DynamoDB store
// (test/integration/audit-contract.test.ts).
auditPortContract("in-memory fake", async ({ now, leaseMs, marginMs }) => {
  const audit = new FakeAudit();
  audit.now = now;
  audit.leaseDurationMs = leaseMs;
  audit.marginMs = marginMs;
  const claims = new FakeClaims();
  claims.now = now;
  claims.marginMs = marginMs;
  claims.lease = () => audit.lease;
  return { ...sweepPorts(audit), claims };
});
