import type { DirectoryPerson, DirectorySnapshot, DirectorySource } from "../domain/directory/model.js";
import type { PostgresPushedDirectoryStore, PushedGroup, PushedPerson } from "../storage/directory-pushed-store.js";

export const ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/** Flattens a SCIM User resource into the attributes rules and templates use (lower-case keys). */
export function personAttributes(resource: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, value: unknown) => {
    if (typeof value === "string" && value !== "") out[key] = value;
  };
  put("username", resource.userName);
  put("displayname", resource.displayName);
  put("title", resource.title);
  put("usertype", resource.userType);
  const name = (resource.name ?? {}) as Record<string, unknown>;
  put("givenname", name.givenName);
  put("familyname", name.familyName);
  const enterprise = (resource[ENTERPRISE_USER] ?? {}) as Record<string, unknown>;
  for (const key of ["employeeNumber", "department", "division", "organization", "costCenter"]) put(key.toLowerCase(), enterprise[key]);
  return out;
}

export function primaryMail(resource: Record<string, unknown>): string | null {
  const emails = Array.isArray(resource.emails) ? (resource.emails as { value?: unknown; primary?: unknown }[]) : [];
  const chosen = emails.find((email) => email.primary === true) ?? emails[0];
  return typeof chosen?.value === "string" ? chosen.value : null;
}

/** A CSV import keeps its mapped attributes and mail as they are (see domain/directory/esr-mapping.ts). */
function csvAttributes(resource: Record<string, unknown>): Record<string, string> {
  const attributes = (resource.attributes ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(attributes).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

function toPerson(person: Omit<PushedPerson, "created" | "updated">, kind: "scim" | "csv"): DirectoryPerson {
  const csv = kind === "csv";
  return {
    id: person.id,
    username: person.userName,
    mail: csv ? (typeof person.resource.mail === "string" ? person.resource.mail : null) : primaryMail(person.resource),
    attributes: csv ? csvAttributes(person.resource) : personAttributes(person.resource),
    disabled: !person.active,
    groupIds: [],
  };
}

/** A pushed source's rows as a directory snapshot (also used to preview a CSV before it is stored). */
export function pushedSnapshot(
  source: string,
  kind: "scim" | "csv",
  people: readonly Omit<PushedPerson, "created" | "updated">[],
  groups: readonly Omit<PushedGroup, "created" | "updated">[],
): DirectorySnapshot {
  const byId = new Map(people.map((person) => [person.id, toPerson(person, kind)]));
  const groupIds = new Set(groups.map((group) => group.id));
  const directoryGroups = groups.map((group) => {
    const subgroupIds: string[] = [];
    for (const memberId of group.memberIds) {
      const person = byId.get(memberId);
      if (person) person.groupIds.push(group.id);
      else if (groupIds.has(memberId)) subgroupIds.push(memberId);
    }
    return { id: group.id, name: group.displayName, subgroupIds };
  });
  return { source, people: [...byId.values()], groups: directoryGroups };
}

/** A source whose people and groups are pushed to Handover (SCIM, CSV import) and kept in its database. */
export class PushedDirectorySource implements DirectorySource {
  constructor(
    readonly name: string,
    readonly kind: "scim" | "csv",
    private readonly store: PostgresPushedDirectoryStore,
  ) {}

  async snapshot(): Promise<DirectorySnapshot> {
    const { people, groups } = await this.store.all(this.name);
    return pushedSnapshot(this.name, this.kind, people, groups);
  }

  async test(): Promise<{ ok: boolean; message: string }> {
    const { people, groups } = await this.store.all(this.name);
    return { ok: people.length > 0, message: `${people.length} people and ${groups.length} groups pushed so far` };
  }
}
