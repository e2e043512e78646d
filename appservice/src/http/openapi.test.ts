import { describe, expect, it } from "vitest";
import { API } from "./contract.js";
import { STATUS_OF } from "./errors.js";
import { openApiDocument } from "./openapi.js";

describe("OpenAPI document", () => {
  it("describes every route of the table with its schemas", () => {
    const document = openApiDocument("1.0.0") as { paths: Record<string, Record<string, { operationId: string; requestBody?: unknown }>> };
    const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    expect(operations.sort()).toEqual(Object.keys(API).sort());
    expect(document.paths["/api/v1/rooms/{roomId}/classification"]?.put?.requestBody).toMatchObject({
      content: { "application/json": { schema: { properties: { kind: { enum: ["clinical", "operational"] } }, additionalProperties: false } } },
    });
  });

  it("maps every error code to a status", () => {
    for (const status of Object.values(STATUS_OF)) expect(status).toBeGreaterThanOrEqual(400);
  });
});
