import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import type { z } from "zod";
import { configSchema, type HandoverConfig } from "./schema.js";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

const ENV_PREFIX = "HANDOVER__";

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

function envValue(raw: string): unknown {
  if (/^-?\d+$/.test(raw)) return Number(raw);
  if (raw === "true" || raw === "false") return raw === "true";
  if (raw.startsWith("{") || raw.startsWith("[")) return JSON.parse(raw);
  return raw;
}

/**
 * Env overrides: HANDOVER__DATABASE__URL sets database.url, HANDOVER__HOMESERVER__ADMIN_ACCESS_TOKEN
 * sets homeserver.adminAccessToken (double underscore between levels, snake case within one).
 */
export function applyEnvOverrides(document: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const merged = structuredClone(document);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).split("__").map(camel);
    let node: Record<string, unknown> = merged;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node[key] = typeof next === "object" && next !== null ? next : {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = envValue(raw);
  }
  return merged;
}

export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.join(".") || "(root)";
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => `${path === "(root)" ? "" : `${path}.`}${key}: unknown key`).join("\n  ");
    }
    // A bad record key (e.g. a malformed user ID under access.roles) carries the reason inside.
    const inner = issue.code === "invalid_key" ? issue.issues[0]?.message : undefined;
    return `${path}: ${inner ? `invalid key: ${inner}` : issue.message}`;
  });
}

export function parseConfig(document: unknown, env: NodeJS.ProcessEnv = {}): HandoverConfig {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new ConfigError(["(root): expected a YAML mapping"]);
  }
  const result = configSchema.safeParse(applyEnvOverrides(document as Record<string, unknown>, env));
  if (!result.success) throw new ConfigError(describeIssues(result.error));
  const problems = crossSectionProblems(result.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data;
}

/** Settings that only work with another section, which the schema of each section cannot see. */
function crossSectionProblems(config: HandoverConfig): string[] {
  if (Object.keys(config.access.roleGroups).length > 0 && config.directory === undefined) {
    return ["access.roleGroups: roles from directory groups need a `directory` section with a source (LDAP, SCIM or CSV) that reports the groups"];
  }
  return [];
}

export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<HandoverConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError([`(file): cannot read ${path}: ${(error as Error).message}`]);
  }
  let document: unknown;
  try {
    document = parse(text) ?? {};
  } catch (error) {
    throw new ConfigError([`(file): ${path} is not valid YAML: ${(error as Error).message}`]);
  }
  return parseConfig(document, env);
}
