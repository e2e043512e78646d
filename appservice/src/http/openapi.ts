import { z } from "zod";
import { API, API_PREFIX, errorResponseSchema, type RouteContract } from "./contract.js";

const jsonSchema = (schema: z.ZodType, io: "input" | "output") => z.toJSONSchema(schema, { io, unrepresentable: "any" });

function parameters(route: RouteContract): unknown[] {
  const out: unknown[] = [];
  for (const [where, schema] of [
    ["path", route.params],
    ["query", route.query],
  ] as const) {
    if (!schema) continue;
    const shape = jsonSchema(schema, "input") as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, property] of Object.entries(shape.properties ?? {})) {
      out.push({ name, in: where, required: where === "path" || (shape.required ?? []).includes(name), schema: property });
    }
  }
  return out;
}

/** The OpenAPI 3.1 document, generated from the same route table and schemas the server uses. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [operationId, route] of Object.entries(API) as [string, RouteContract][]) {
    const openApiPath = `${API_PREFIX}${route.path.replace(/:(\w+)/g, "{$1}")}`;
    const roles = route.access === "public" ? "none" : route.access === "session" ? "any role" : route.access.join(", ");
    paths[openApiPath] ??= {};
    (paths[openApiPath] as Record<string, unknown>)[route.method] = {
      operationId,
      summary: route.summary,
      description: `Roles: ${roles}.`,
      ...(route.access === "public" ? { security: [] } : {}),
      parameters: parameters(route),
      ...(route.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(route.body, "input") } } } } : {}),
      responses: {
        [String(route.status ?? 200)]: { description: "Success", content: { "application/json": { schema: jsonSchema(route.response, "output") } } },
        default: { description: "Error", content: { "application/json": { schema: jsonSchema(errorResponseSchema, "output") } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Handover admin API", version },
    servers: [{ url: "/" }],
    components: { securitySchemes: { session: { type: "apiKey", in: "cookie", name: "handover_session" } } },
    security: [{ session: [] }],
    paths,
  };
}
