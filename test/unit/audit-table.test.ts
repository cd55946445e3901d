import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { auditTableCloudFormationProperties, auditTableDefinition } from "../../src/aws/audit-table.js";
import { ensureAuditTable } from "../../src/aws/audit-table-init.js";

describe("auditTableDefinition", () => {
  const definition = auditTableDefinition("audit");

  it("keys items by run partition and item sort key", () => {
    expect(definition.KeySchema).toEqual([
      { AttributeName: "pk", KeyType: "HASH" },
      { AttributeName: "sk", KeyType: "RANGE" },
    ]);
  });

  it("defines the query indexes of the actions and the ledger; only the listed index projects part of its items", () => {
    const indexes = (definition.GlobalSecondaryIndexes ?? []).map((index) => [
      index.IndexName,
      index.KeySchema?.map((key) => `${key.AttributeName}:${key.KeyType}`).join(" "),
      index.Projection?.ProjectionType,
    ]);

    expect(indexes).toEqual([
      ["byHandshake", "handshakeId:HASH at:RANGE", "ALL"],
      ["byRule", "ruleId:HASH at:RANGE", "ALL"],
      ["byTime", "timeKey:HASH at:RANGE", "ALL"],
      ["pending", "pendingKey:HASH at:RANGE", "ALL"],
      ["population", "popKey:HASH popAt:RANGE", "ALL"],
      ["listed", "listedKey:HASH ledgerId:RANGE", "INCLUDE"],
      ["lifecycle", "ledgerKey:HASH at:RANGE", "ALL"],
    ]);
  });

  it("declares exactly the attributes used as keys, as CreateTable requires", () => {
    const keyAttributes = new Set(
      [
        definition.KeySchema ?? [],
        ...(definition.GlobalSecondaryIndexes ?? []).map((index) => index.KeySchema ?? []),
      ]
        .flat()
        .map((key) => key.AttributeName),
    );

    const declared = (definition.AttributeDefinitions ?? []).map((attribute) => attribute.AttributeName);

    expect(new Set(declared)).toEqual(keyAttributes);
    expect(declared).toHaveLength(keyAttributes.size);
  });

  it("bills on demand, encrypts with KMS and protects against deletion", () => {
    expect(definition.BillingMode).toBe("PAY_PER_REQUEST");
    expect(definition.SSESpecification).toEqual({ Enabled: true, SSEType: "KMS" });
    expect(definition.DeletionProtectionEnabled).toBe(true);
  });
});

describe("auditTableCloudFormationProperties", () => {
  it("carries the same keys and indexes as the CreateTable definition", () => {
    const definition = auditTableDefinition("audit");

    const properties = auditTableCloudFormationProperties("audit");

    expect(properties.TableName).toBe("audit");
    expect(properties.KeySchema).toEqual(definition.KeySchema);
    expect(properties.AttributeDefinitions).toEqual(definition.AttributeDefinitions);
    expect(properties.GlobalSecondaryIndexes).toEqual(definition.GlobalSecondaryIndexes);
  });

  it("adds point-in-time recovery and spells the settings as CloudFormation does", () => {
    const properties = auditTableCloudFormationProperties({ Ref: "AuditTableName" });

    expect(properties).toMatchObject({
      TableName: { Ref: "AuditTableName" },
      BillingMode: "PAY_PER_REQUEST",
      DeletionProtectionEnabled: true,
      SSESpecification: { SSEEnabled: true, SSEType: "KMS" },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(properties).not.toHaveProperty("TimeToLiveSpecification");
  });

  it("enables TTL only on the attribute it is given", () => {
    const properties = auditTableCloudFormationProperties("audit", { ttlAttribute: "expiresAt" });

    expect(properties.TimeToLiveSpecification).toEqual({ AttributeName: "expiresAt", Enabled: true });
  });
});

describe("ensureAuditTable on an existing table", () => {
  /** A table as DescribeTable shows it: every index of the definition, `creating` still CREATING. */
  function fakeClient(creating: string, calls: string[]): DynamoDBClient {
    const definition = auditTableDefinition("audit");
    const table = {
      TableName: "audit",
      TableStatus: "ACTIVE",
      KeySchema: definition.KeySchema,
      BillingModeSummary: { BillingMode: "PAY_PER_REQUEST" },
      GlobalSecondaryIndexes: (definition.GlobalSecondaryIndexes ?? []).map((index) => ({
        ...index,
        IndexStatus: index.IndexName === creating ? "CREATING" : "ACTIVE",
      })),
    };
    return {
      send: async (command: { constructor: { name: string } }) => {
        calls.push(command.constructor.name);
        if (command instanceof CreateTableCommand) {
          throw Object.assign(new Error("Table already exists"), { name: "ResourceInUseException" });
        }
        if (command instanceof DescribeTableCommand) return { Table: table };
        throw new Error(`unexpected ${command.constructor.name}`);
      },
    } as unknown as DynamoDBClient;
  }

  it("waits for an index still being created, and gives up after its bound, saying how to go on", async () => {
    const calls: string[] = [];
    const said: string[] = [];

    const ensured = ensureAuditTable(fakeClient("listed", calls), "audit", {
      maxWaitSeconds: 3,
      progress: (line) => said.push(line),
    });

    await expect(ensured).rejects.toThrow(
      "audit table audit: index listed not ACTIVE after 3 s (table ACTIVE, index CREATING); DynamoDB goes on creating it: run audit init again to wait for it",
    );
    expect(said[0]).toBe("audit table audit: index listed is being created; waiting until it is ACTIVE");
    expect(calls.filter((name) => name === "DescribeTableCommand").length).toBeGreaterThan(2);
    expect(calls).not.toContain("UpdateTableCommand");
  });
});
