import type { DirectoryPerson, DirectorySnapshot, DirectorySource } from "../domain/directory/model.js";
import type { PostgresPushedDirectoryStore, PushedPerson } from "../storage/directory-pushed-store.js";

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

function toPerson(person: PushedPerson): DirectoryPerson {
  return {
    id: person.id,
    username: person.userName,
    mail: primaryMail(person.resource),
    attributes: personAttributes(person.resource),
    disabled: !person.active,
    groupIds: [],
  };
}

/** A source whose people and groups are pushed to Handover (SCIM) and kept in its database. */
export class PushedDirectorySource implements DirectorySource {
  constructor(
    readonly name: string,
    readonly kind: "scim" | "csv",
    private readonly store: PostgresPushedDirectoryStore,
  ) {}

  async snapshot(): Promise<DirectorySnapshot> {
    const { people, groups } = await this.store.all(this.name);
    const byId = new Map(people.map((person) => [person.id, toPerson(person)]));
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
    return { source: this.name, people: [...byId.values()], groups: directoryGroups };
  }

  async test(): Promise<{ ok: boolean; message: string }> {
    const { people, groups } = await this.store.all(this.name);
    return { ok: people.length > 0, message: `${people.length} people and ${groups.length} groups pushed so far` };
  }
}
