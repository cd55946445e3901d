import { afterAll, beforeAll, expect, test } from "vitest";
import { graceAndNotifyDemo } from "../../devtools/demo-notify.js";
import { loadSettings } from "../../src/settings.js";
import { type Stack, stackEnv, startStack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack([]);
});
afterAll(async () => {
  await stack?.stop();
});

test("the demo's notification step marks, waits out the grace period, cancels, and prints both messages", async () => {
  const tableName = await stack.newTable();
  const lines: string[] = [];

  // The settings of the local stack's variables; the process's environment is left alone.
  const code = await graceAndNotifyDemo(
    (text) => lines.push(text),
    loadSettings(stackEnv(stack.org, stack.db, tableName)),
  );

  const output = lines.join("\n");
  expect(code, output).toBe(0);
  expect(output).toMatch(/-- first run: marked, nothing canceled --\n.*\n.* MARKED 2\n/);
  // Shown when the machine is quick enough to run it inside the grace period; then it does nothing.
  const during = /-- a run during the grace period \([\d.]+ s left\): (\d+) decisions/.exec(output);
  if (during) expect(during[1]).toBe("0");
  expect(output).toMatch(/-- after the grace period: canceled --\n.*\n.* CANCELED 2\n/);
  expect(output).toContain("== 2 notifications published to ");
  expect(output).toContain("Subject: handshake-janitor: 2 marked");
  expect(output).toContain("Subject: handshake-janitor: 2 canceled");
  const invited = stack.org.handshakes().filter((h) => h.Parties.some((p) => p.Id.endsWith("@gmail.com")));
  expect(invited.map((h) => h.State)).toEqual(["CANCELED", "CANCELED"]);
  // The SNS endpoint was the step's own setting: the process's environment never had it.
  expect(process.env.AWS_ENDPOINT_URL_SNS).toBeUndefined();
});
