/** EventBridge's scheduled event as documented, and as the console's test template sends it. */
export function scheduledEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: "0",
    id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "123456789012",
    time: "2026-10-08T16:53:06Z",
    region: "us-east-1",
    resources: ["arn:aws:events:us-east-1:123456789012:rule/handshake-janitor-hourly"],
    detail: {},
    ...overrides,
  };
}
