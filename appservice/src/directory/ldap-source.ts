import type { Client, Entry } from "ldapts";
import type { LdapSourceConfig } from "../config/directory.js";
import { parseDuration } from "../config/duration.js";
import { DirectoryAnswerRefused, type DirectoryGroup, type DirectoryPerson, type DirectorySnapshot, type DirectorySource } from "../domain/directory/model.js";

const RANGED = /^member;range=(\d+)-(\*|\d+)$/i;

/** DNs compare case-insensitively and without spaces after separators. */
export function normaliseDn(dn: string): string {
  return dn
    .split(",")
    .map((part) => part.trim().toLowerCase())
    .join(",");
}

function values(entry: Entry, name: string): string[] {
  const key = Object.keys(entry).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  if (key === undefined) return [];
  const value = entry[key];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => (Buffer.isBuffer(item) ? item.toString("utf8") : String(item)));
}

/**
 * An LDAP or Active Directory source (ldapts): binds, reads people and groups with paged
 * searches, follows AD range retrieval for large groups, and resolves nesting through the
 * domain. A search the server truncates is refused, never taken as the whole directory.
 */
export class LdapDirectorySource implements DirectorySource {
  readonly kind = "ldap";
  readonly name: string;
  private readonly timeoutMs: number;

  constructor(private readonly config: LdapSourceConfig) {
    this.name = config.name;
    this.timeoutMs = parseDuration(config.timeout) ?? 30_000;
  }

  private async withClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
    // ldapts is loaded where an LDAP source is configured, not by every Handover.
    const { Client } = await import("ldapts");
    const client = new Client({ url: this.config.url, timeout: this.timeoutMs, connectTimeout: this.timeoutMs });
    try {
      await client.bind(this.config.bindDn, this.config.bindPassword);
      return await work(client);
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  async test(): Promise<{ ok: boolean; message: string }> {
    try {
      const count = await this.withClient(async (client) => {
        const { searchEntries } = await client.search(this.config.userBase, { scope: "base", attributes: ["1.1"] });
        return searchEntries.length;
      });
      return count === 1
        ? { ok: true, message: `Bound to ${this.config.url} and read ${this.config.userBase}` }
        : { ok: false, message: "The user base was not found" };
    } catch (error) {
      return { ok: false, message: `Could not read ${this.config.url}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  async snapshot(): Promise<DirectorySnapshot> {
    const config = this.config;
    const { peopleEntries, groupEntries } = await this.withClient(async (client) => {
      const search = async (base: string, filter: string, attributes: string[]) => {
        try {
          const { searchEntries } = await client.search(base, { scope: "sub", filter, attributes, paged: { pageSize: config.pageSize }, sizeLimit: 0 });
          return searchEntries;
        } catch (error) {
          if ((error as { name?: string }).name === "SizeLimitExceededError")
            throw new DirectoryAnswerRefused(this.name, "truncated", `Source ${this.name}: the server truncated the search of ${base}`);
          throw error;
        }
      };
      const peopleEntries = await search(config.userBase, config.userFilter, [
        config.usernameAttribute,
        config.mailAttribute,
        config.disabled.attribute,
        ...config.attributes,
      ]);
      const groupEntries = await search(config.groupBase, config.groupFilter, ["cn", "member"]);
      for (const entry of groupEntries) await this.completeRangedMembers(client, entry);
      return { peopleEntries, groupEntries };
    });

    const people = new Map<string, DirectoryPerson>();
    for (const entry of peopleEntries) {
      const username = values(entry, config.usernameAttribute)[0];
      if (!username) continue;
      const attributes: Record<string, string> = {};
      for (const name of config.attributes) {
        const value = values(entry, name)[0];
        if (value !== undefined) attributes[name.toLowerCase()] = value;
      }
      attributes[config.usernameAttribute.toLowerCase()] = username;
      people.set(normaliseDn(entry.dn), {
        id: normaliseDn(entry.dn),
        username,
        mail: values(entry, config.mailAttribute)[0] ?? null,
        attributes,
        disabled: this.isDisabled(values(entry, config.disabled.attribute)[0]),
        groupIds: [],
      });
    }
    const groupIds = new Set(groupEntries.map((entry) => normaliseDn(entry.dn)));
    const groups: DirectoryGroup[] = [];
    for (const entry of groupEntries) {
      const id = normaliseDn(entry.dn);
      const subgroupIds: string[] = [];
      for (const member of values(entry, "member").map(normaliseDn)) {
        const person = people.get(member);
        if (person) person.groupIds.push(id);
        else if (groupIds.has(member)) subgroupIds.push(member);
      }
      groups.push({ id, name: values(entry, "cn")[0] ?? id, subgroupIds });
    }
    if (people.size === 0) throw new DirectoryAnswerRefused(this.name, "empty", `Source ${this.name} found nobody under ${config.userBase}`);
    return { source: this.name, people: [...people.values()], groups };
  }

  private isDisabled(value: string | undefined): boolean {
    const { mode, value: disabledValue } = this.config.disabled;
    if (value === undefined) return false;
    if (mode === "ad-account-control") return (Number.parseInt(value, 10) & 0x2) === 0x2;
    return disabledValue !== undefined && value.toLowerCase() === disabledValue.toLowerCase();
  }

  /** AD returns at most MaxValRange members at once as `member;range=0-1499`: fetch the rest. */
  private async completeRangedMembers(client: Client, entry: Entry): Promise<void> {
    let key = Object.keys(entry).find((candidate) => RANGED.test(candidate));
    if (key === undefined) return;
    const members = values(entry, key);
    while (key !== undefined) {
      const match = RANGED.exec(key) as RegExpExecArray;
      if (match[2] === "*") break;
      const next = `member;range=${Number(match[2]) + 1}-*`;
      const { searchEntries } = await client.search(entry.dn, { scope: "base", attributes: [next] });
      const page = searchEntries[0];
      key = page ? Object.keys(page).find((candidate) => RANGED.test(candidate)) : undefined;
      if (page && key) members.push(...values(page, key));
    }
    entry.member = members;
  }
}
