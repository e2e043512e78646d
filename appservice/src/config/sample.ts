import { stringify } from "yaml";
import { z } from "zod";
import { configSchema } from "./schema.js";

interface JsonSchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  enum?: unknown[];
}

function comment(text: string, indent: string): string {
  return text
    .split("\n")
    .map((line) => `${indent}# ${line}`)
    .join("\n");
}

function scalar(value: unknown): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

function render(node: JsonSchemaNode, depth: number): string[] {
  const indent = "  ".repeat(depth);
  const lines: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const required = (node.required ?? []).includes(key) && child.default === undefined;
    const notes = [child.description, child.enum ? `One of: ${child.enum.join(", ")}.` : undefined, required ? "Required." : undefined].filter(Boolean);
    if (notes.length > 0) lines.push(comment(notes.join(" "), indent));
    if (child.type === "object" && child.properties) {
      lines.push(`${indent}${key}:`, ...render(child, depth + 1));
      continue;
    }
    const value = child.examples?.[0] ?? child.default;
    if (value === undefined) {
      lines.push(`${indent}# ${key}:`);
    } else if (typeof value === "object" && value !== null) {
      const nested = stringify(value, { lineWidth: 0 })
        .trimEnd()
        .split("\n")
        .map((line) => `${indent}  ${line}`);
      lines.push(`${indent}${key}:`, ...nested);
    } else {
      lines.push(`${indent}${key}: ${scalar(value)}`);
    }
  }
  return lines;
}

/** config.sample.yaml, generated from the schema so the two never disagree. */
export function sampleConfig(): string {
  const schema = z.toJSONSchema(configSchema, {
    io: "input",
    unrepresentable: "any",
    // zod leaves examples out of the input schema wherever a value is parsed further (a
    // duration into milliseconds), but the examples are written the way people write the file.
    override: ({ zodSchema, jsonSchema }) => {
      const examples = z.globalRegistry.get(zodSchema)?.examples;
      if (Array.isArray(examples) && jsonSchema.examples === undefined) jsonSchema.examples = examples;
    },
  }) as JsonSchemaNode;
  return [
    "# Handover configuration. Generated from the config schema by `handover config sample`: do not edit by hand.",
    "# Any key can be overridden by an environment variable: HANDOVER__<SECTION>__<KEY_IN_SNAKE_CASE>,",
    "# e.g. HANDOVER__DATABASE__URL or HANDOVER__HOMESERVER__ADMIN_ACCESS_TOKEN.",
    "# Durations are written with their unit: 500ms, 90s, 15m, 8h, 30d, 2w.",
    ...render(schema, 0),
    "",
  ].join("\n");
}
