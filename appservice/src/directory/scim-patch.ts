import { HandoverError } from "../domain/errors.js";
import { ENTERPRISE_USER } from "./pushed-source.js";

/** One PatchOp operation (RFC 7644 3.5.2). Entra capitalises `op` ("Replace"); Okta does not. */
export interface PatchOperation {
  op: string;
  path?: string | undefined;
  value?: unknown;
}

type Json = Record<string, unknown>;

const FILTERED = /^(\w+)\[(\w+) eq "([^"]*)"\](?:\.(\w+))?$/;

/**
 * A PATCH path (or a key of a PATCH value) that names an object's prototype machinery. Walking it
 * would write to Object.prototype, which every object in the process shares (issue 12.2), so it
 * is refused whole before anything is changed: SCIM 400 `invalidPath`.
 */
export class ScimPathRefused extends HandoverError {
  readonly scimType = "invalidPath";
  constructor(path: string) {
    super("VALIDATION_FAILED", `PATCH path ${JSON.stringify(path)} names no SCIM attribute`);
    this.name = "ScimPathRefused";
  }
}

const PROTOTYPE_NAMES = new Set(["__proto__", "constructor", "prototype"]);

/** Refuses a path whose segments (dots, filter parts, schema URN parts) name prototype machinery. */
function checkPath(path: string): void {
  for (const segment of path.split(/[.[\]\s":]+/)) if (PROTOTYPE_NAMES.has(segment.toLowerCase())) throw new ScimPathRefused(path);
}

/** Refuses a PATCH value holding such a key at any depth (it is merged or stored as given). */
function checkKeys(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  for (const [key, inner] of Object.entries(value)) {
    checkPath(key);
    checkKeys(inner);
  }
}

/** Checks one operation's path and value before any of the operations is applied. */
function checkOperation(operation: PatchOperation): void {
  if (operation.path !== undefined) checkPath(operation.path);
  checkKeys(operation.value);
}

/** Entra sends booleans as "True"/"False" strings in PATCH. */
export function scimBoolean(value: unknown): unknown {
  if (typeof value === "string" && /^(true|false)$/i.test(value)) return value.toLowerCase() === "true";
  return value;
}

function splitPath(path: string): { container: "core" | "enterprise"; rest: string } {
  if (path.startsWith(`${ENTERPRISE_USER}:`)) return { container: "enterprise", rest: path.slice(ENTERPRISE_USER.length + 1) };
  return { container: "core", rest: path };
}

function setIn(target: Json, rest: string, op: "add" | "replace" | "remove", value: unknown): void {
  const filtered = FILTERED.exec(rest);
  if (filtered) {
    const [, attribute, key, expected, sub] = filtered as unknown as [string, string, string, string, string | undefined];
    const list = Array.isArray(target[attribute]) ? (target[attribute] as Json[]) : [];
    const index = list.findIndex((item) => String(item[key]) === expected);
    if (op === "remove") {
      if (index >= 0) {
        if (sub) delete (list[index] as Json)[sub];
        else list.splice(index, 1);
      }
    } else {
      const item: Json = index >= 0 ? (list[index] as Json) : { [key]: expected };
      if (sub) item[sub] = value;
      else Object.assign(item, value as Json);
      if (index < 0) list.push(item);
    }
    target[attribute] = list;
    return;
  }
  const parts = rest.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
    node = node[part] as Json;
  }
  const last = parts[parts.length - 1] as string;
  if (op === "remove") delete node[last];
  else if (op === "add" && Array.isArray(node[last]) && Array.isArray(value)) node[last] = [...(node[last] as unknown[]), ...value];
  else node[last] = last === "active" ? scimBoolean(value) : value;
}

function normaliseOp(op: string): "add" | "replace" | "remove" {
  const lower = op.toLowerCase();
  if (lower === "add" || lower === "replace" || lower === "remove") return lower;
  throw new HandoverError("VALIDATION_FAILED", `Unknown PATCH op ${op}`);
}

function enterprise(resource: Json): Json {
  if (typeof resource[ENTERPRISE_USER] !== "object" || resource[ENTERPRISE_USER] === null) resource[ENTERPRISE_USER] = {};
  return resource[ENTERPRISE_USER] as Json;
}

/** Applies PatchOp operations to a User resource; returns a new resource. */
export function patchUser(resource: Json, operations: readonly PatchOperation[]): Json {
  operations.forEach(checkOperation);
  const next = structuredClone(resource);
  for (const operation of operations) {
    const op = normaliseOp(operation.op);
    if (!operation.path) {
      if (op === "remove" || typeof operation.value !== "object" || operation.value === null) {
        throw new HandoverError("VALIDATION_FAILED", "A PATCH operation without a path needs an object value");
      }
      for (const [key, value] of Object.entries(operation.value as Json)) {
        const { container, rest } = splitPath(key);
        if (container === "enterprise") setIn(enterprise(next), rest, op, value);
        else if (key === ENTERPRISE_USER && typeof value === "object" && value !== null) Object.assign(enterprise(next), value);
        else setIn(next, key, op, value);
      }
      continue;
    }
    const { container, rest } = splitPath(operation.path);
    setIn(container === "enterprise" ? enterprise(next) : next, rest, op, operation.value);
  }
  return next;
}

const MEMBER_FILTER = /^members\[value eq "([^"]+)"\]$/;

/** Applies PatchOp operations to a group's name and member ids. */
export function patchGroup(
  group: { displayName: string; memberIds: string[] },
  operations: readonly PatchOperation[],
): { displayName: string; memberIds: string[] } {
  let displayName = group.displayName;
  const members = new Set(group.memberIds);
  operations.forEach(checkOperation);
  const ids = (value: unknown) => (Array.isArray(value) ? value : [value]).map((item) => String((item as { value?: unknown })?.value ?? ""));
  for (const operation of operations) {
    const op = normaliseOp(operation.op);
    const path = operation.path ?? "";
    const filtered = MEMBER_FILTER.exec(path);
    if (filtered) {
      if (op === "remove") members.delete(filtered[1] as string);
      else members.add(filtered[1] as string);
    } else if (path.toLowerCase() === "members") {
      if (op === "replace") members.clear();
      for (const id of op === "remove" && operation.value === undefined ? [...members] : ids(operation.value)) {
        if (op === "remove") members.delete(id);
        else if (id) members.add(id);
      }
    } else if (path === "displayName") {
      if (typeof operation.value !== "string") throw new HandoverError("VALIDATION_FAILED", "displayName must be a string");
      displayName = operation.value;
    } else if (path === "" && typeof operation.value === "object" && operation.value !== null) {
      const value = operation.value as Json;
      if (typeof value.displayName === "string") displayName = value.displayName;
      if (Array.isArray(value.members)) {
        if (op === "replace") members.clear();
        for (const id of ids(value.members)) if (id) members.add(id);
      }
    } else {
      throw new HandoverError("VALIDATION_FAILED", `Unsupported PATCH path ${path || "(none)"} on a group`);
    }
  }
  return { displayName, memberIds: [...members] };
}
