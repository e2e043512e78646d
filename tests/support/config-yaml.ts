import { stringify } from "yaml";
import type { z } from "zod";
import { formatDuration } from "../../appservice/src/config/duration.js";
import type { HandoverConfig } from "../../appservice/src/config/schema.js";
import { configSchema } from "../../appservice/src/config/schema.js";

type Def = {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
};
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under defaults, optionals and refinements. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (["default", "prefault", "optional", "nullable", "readonly", "catch", "nonoptional"].includes(def.type) && def.innerType) current = def.innerType;
    else return current;
  }
}

/** A duration() of the config schema: a string-or-number input piped into a transform to milliseconds. */
function isDuration(schema: z.ZodType): boolean {
  const def = defOf(schema);
  return def.type === "pipe" && def.in !== undefined && defOf(def.in).type === "union" && def.out !== undefined && defOf(def.out).type === "transform";
}

function render(schema: z.ZodType | undefined, value: unknown): unknown {
  if (value === undefined || value === null || schema === undefined) return value;
  const inner = unwrap(schema);
  if (typeof value === "number" && isDuration(inner)) return formatDuration(value);
  // A duration inside a union (`removalWindow: off | 24h`): the written form that reads back the same.
  if (typeof value === "number") {
    for (const written of [formatDuration(value), "off"]) {
      const read = schema.safeParse(written);
      if (read.success && read.data === value) return written;
    }
    return value;
  }
  const def = defOf(inner);
  if (def.type === "pipe" && def.in) return render(def.in, value);
  if (Array.isArray(value)) return value.map((item) => render(def.element, item));
  if (typeof value === "object" && def.type === "object" && def.shape) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, render(def.shape?.[key], item)]));
  }
  return value;
}

/**
 * A loaded config written back as the YAML a trust would write: durations (milliseconds once
 * loaded) as "90s", "15m", "30d" again, since the loader refuses bare numbers. For tests that run
 * the CLI or a second process with the config of a running Handover.
 */
export function configYaml(config: HandoverConfig): string {
  return stringify(writtenConfig(config));
}

/** The same, as the object a trust's YAML would parse to (to change before writing). */
export function writtenConfig(config: HandoverConfig): Record<string, unknown> {
  return render(configSchema, config) as Record<string, unknown>;
}
