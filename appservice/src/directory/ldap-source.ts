import { createHash } from "node:crypto";
import type { Client, Entry } from "ldapts";
import type { LdapSourceConfig } from "../config/directory.js";
import {
  actuallyChanged,
  type ChangeMarker,
  changedSinceFilter,
  checkIncrementalAnswer,
  generalizedTime,
  highestMarker,
  type LdapRecord,
  mergeChanged,
  planRead,
} from "../domain/directory/ldap-incremental.js";
import { DirectoryAnswerRefused, type DirectoryGroup, type DirectoryPerson, type DirectorySnapshot, type DirectorySource } from "../domain/directory/model.js";
import type { PostgresLdapSnapshotStore } from "../storage/directory-ldap-store.js";

export type LdapSnapshotStore = Pick<PostgresLdapSnapshotStore, "state" | "entries" | "save">;

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
 * domain. A search the server truncates is refused, never taken as the whole directory. With
 * `incremental` set it reads only entries changed since the last run and merges them into a copy
 * kept in PostgreSQL (domain/directory/ldap-incremental.ts has the rules).
 */
export class LdapDirectorySource implements DirectorySource {
  readonly kind = "ldap";
  readonly name: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly config: LdapSourceConfig,
    /** Where an incremental source keeps its copy of the directory; without it every read is full. */
    private readonly store: LdapSnapshotStore | null = null,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.name = config.name;
    this.timeoutMs = config.timeout;
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
    const incremental = this.config.incremental;
    if (!incremental || !this.store) {
      const records = await this.withClient((client) => this.read(client, null));
      return this.build(records);
    }
    return this.build(await this.readIncrementally(incremental.marker, incremental.fullEvery, this.store));
  }

  /** How the last read went (incremental sources only). */
  async lastRead(): Promise<{ kind: "full" | "incremental"; reason: string | null; changed: number; at: Date } | null> {
    const state = this.store && this.config.incremental ? await this.store.state(this.name) : null;
    return state ? { ...state.last, at: state.readAt } : null;
  }

  /**
   * Reads only what changed since the stored high-water mark and merges it into the stored copy;
   * a full read when none is stored, settings changed, `fullEvery` passed (deletions are only seen
   * then), or the incremental answer looks wrong.
   */
  private async readIncrementally(marker: ChangeMarker, fullEveryMs: number, store: LdapSnapshotStore): Promise<LdapRecord[]> {
    const now = this.clock();
    const fingerprint = this.fingerprint();
    const state = await store.state(this.name);
    const plan = planRead(state, { now, fullEveryMs, fingerprint });
    const full = async (reason: string) => {
      const records = await this.withClient((client) => this.read(client, null));
      if (!records.some((record) => record.kind === "person")) return records; // refused by build(); nothing stored
      const highWater = highestMarker(marker, records, null);
      await store.save(this.name, { kind: "full", reason, changed: records.length }, { highWater, fullAt: now, fingerprint }, records);
      return records;
    };
    if (plan.kind === "full" || !state) return full(plan.kind === "full" ? plan.reason : "first read");
    let changed: LdapRecord[];
    let left: LdapRecord[];
    let problem: string | null;
    try {
      ({ changed, left, problem } = await this.withClient(async (client) => {
        const answer = await this.read(client, { marker, since: plan.since });
        const gone = await this.leftTheFilters(client, marker, plan.since);
        const highest = await this.serverHighest(client, marker, now);
        return { changed: answer, left: gone, problem: checkIncrementalAnswer(marker, plan.since, [...answer, ...gone], highest) };
      }));
    } catch (error) {
      if (error instanceof DirectoryAnswerRefused) throw error;
      problem = `the incremental search failed (${error instanceof Error ? error.message : String(error)})`;
      changed = [];
      left = [];
    }
    if (problem) return full(`fallback: ${problem}`);
    const stored = new Map((await store.entries(this.name)).map((record) => [`${record.kind}:${record.dn}`, record]));
    changed = actuallyChanged(stored, changed);
    left = left.filter((record) => stored.has(`${record.kind}:${record.dn}`));
    const merged = mergeChanged(stored, changed, left);
    const highWater = highestMarker(marker, [...changed, ...left], state.highWater);
    await store.save(
      this.name,
      { kind: "incremental", reason: null, changed: changed.length + left.length },
      { highWater, fullAt: state.fullAt, fingerprint },
      changed,
      left,
    );
    return [...merged.values()];
  }

  /**
   * Entries changed since the mark that no longer match the people or group filter (disabled by a
   * filter clause, moved out of scope but still under the base): they leave the copy at once.
   */
  private async leftTheFilters(client: Client, marker: ChangeMarker, since: string): Promise<LdapRecord[]> {
    const config = this.config;
    const left: LdapRecord[] = [];
    for (const [kind, base, filter] of [
      ["person", config.userBase, config.userFilter],
      ["group", config.groupBase, config.groupFilter],
    ] as const) {
      const wrapped = filter.startsWith("(") ? filter : `(${filter})`;
      const { searchEntries } = await client.search(base, {
        scope: "sub",
        filter: changedSinceFilter(`(!${wrapped})`, marker, since),
        attributes: [marker],
        paged: { pageSize: config.pageSize },
        sizeLimit: 0,
      });
      for (const entry of searchEntries) left.push({ dn: normaliseDn(entry.dn), kind, attributes: {}, marker: values(entry, marker)[0] ?? null });
    }
    return left;
  }

  /** AD: rootDSE highestCommittedUSN; OpenLDAP (modifyTimestamp): our clock, allowing five minutes' skew. */
  private async serverHighest(client: Client, marker: ChangeMarker, now: Date): Promise<string | null> {
    if (marker === "modifyTimestamp") return generalizedTime(new Date(now.getTime() + 5 * 60_000));
    const { searchEntries } = await client.search("", { scope: "base", filter: "(objectClass=*)", attributes: ["highestCommittedUSN"] });
    const root = searchEntries[0];
    return root ? (values(root, "highestCommittedUSN")[0] ?? null) : null;
  }

  private fingerprint(): string {
    const c = this.config;
    const settings = [
      c.url,
      c.userBase,
      c.userFilter,
      c.groupBase,
      c.groupFilter,
      c.usernameAttribute,
      c.mailAttribute,
      c.attributes,
      c.disabled,
      c.incremental?.marker,
    ];
    return createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 32);
  }

  /** People and groups as plain records: all of them, or those changed since a marker. */
  private async read(client: Client, changedSince: { marker: ChangeMarker; since: string } | null): Promise<LdapRecord[]> {
    const config = this.config;
    const markerAttribute = config.incremental?.marker;
    const search = async (base: string, filter: string, attributes: string[]) => {
      const scoped = changedSince ? changedSinceFilter(filter, changedSince.marker, changedSince.since) : filter;
      try {
        const { searchEntries } = await client.search(base, {
          scope: "sub",
          filter: scoped,
          attributes: markerAttribute ? [...attributes, markerAttribute] : attributes,
          paged: { pageSize: config.pageSize },
          sizeLimit: 0,
        });
        return searchEntries;
      } catch (error) {
        if ((error as { name?: string }).name === "SizeLimitExceededError")
          throw new DirectoryAnswerRefused(this.name, "truncated", `Source ${this.name}: the server truncated the search of ${base}`);
        throw error;
      }
    };
    const personAttributes = [config.usernameAttribute, config.mailAttribute, config.disabled.attribute, ...config.attributes];
    const peopleEntries = await search(config.userBase, config.userFilter, personAttributes);
    const groupEntries = await search(config.groupBase, config.groupFilter, ["cn", "member"]);
    for (const entry of groupEntries) await this.completeRangedMembers(client, entry);
    const record = (entry: Entry, kind: LdapRecord["kind"], names: string[]): LdapRecord => ({
      dn: normaliseDn(entry.dn),
      kind,
      attributes: Object.fromEntries(names.map((name) => [name.toLowerCase(), values(entry, name)])),
      marker: markerAttribute ? (values(entry, markerAttribute)[0] ?? null) : null,
    });
    return [
      ...peopleEntries.map((entry) => record(entry, "person", personAttributes)),
      ...groupEntries.map((entry) => record(entry, "group", ["cn", "member"])),
    ];
  }

  private build(records: Iterable<LdapRecord>): DirectorySnapshot {
    const config = this.config;
    const first = (record: LdapRecord, name: string) => {
      const key = name.toLowerCase();
      return Object.hasOwn(record.attributes, key) ? record.attributes[key]?.[0] : undefined;
    };
    const people = new Map<string, DirectoryPerson>();
    const groupRecords: LdapRecord[] = [];
    for (const entry of records) {
      if (entry.kind === "group") {
        groupRecords.push(entry);
        continue;
      }
      const username = first(entry, config.usernameAttribute);
      if (!username) continue;
      const attributes: Record<string, string> = {};
      for (const name of config.attributes) {
        const value = first(entry, name);
        if (value !== undefined) attributes[name.toLowerCase()] = value;
      }
      attributes[config.usernameAttribute.toLowerCase()] = username;
      people.set(entry.dn, {
        id: entry.dn,
        username,
        mail: first(entry, config.mailAttribute) ?? null,
        attributes,
        disabled: this.isDisabled(first(entry, config.disabled.attribute)),
        groupIds: [],
      });
    }
    const groupIds = new Set(groupRecords.map((entry) => entry.dn));
    const groups: DirectoryGroup[] = [];
    for (const entry of groupRecords) {
      const subgroupIds: string[] = [];
      for (const member of (entry.attributes.member ?? []).map(normaliseDn)) {
        const person = people.get(member);
        if (person) person.groupIds.push(entry.dn);
        else if (groupIds.has(member)) subgroupIds.push(member);
      }
      groups.push({ id: entry.dn, name: first(entry, "cn") ?? entry.dn, subgroupIds });
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
