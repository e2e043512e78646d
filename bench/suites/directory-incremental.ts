import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import type { LdapSourceConfig } from "../../appservice/src/config/directory.js";
import { LdapDirectorySource, type LdapSnapshotStore } from "../../appservice/src/directory/ldap-source.js";
import { desiredState } from "../../appservice/src/domain/directory/desired.js";
import { IdentityTemplate } from "../../appservice/src/domain/directory/identity.js";
import type { IncrementalState, LdapRecord } from "../../appservice/src/domain/directory/ldap-incremental.js";
import type { DirectorySnapshot, SyncRule } from "../../appservice/src/domain/directory/model.js";
import { type ActualRoom, planMembership } from "../../appservice/src/domain/directory/planner.js";
import type { LdapReadRecord } from "../../appservice/src/storage/directory-ldap-store.js";
import { startSlapd } from "../../tests/harness/slapd.js";
import { round, type SuiteResult } from "../figures.js";
import { oneRoomPerGroup } from "./directory-rules.js";

const exec = promisify(execFile);
const PEOPLE = 10_000;
const GROUPS = 200;
const CHURN = 0.01;
const SERVER = "bench.test";
const BOT = `@handover:${SERVER}`;

/** The stored copy kept in memory: the bench measures LDAP reading and planning, not PostgreSQL. */
class MemoryStore implements LdapSnapshotStore {
  private saved: { state: IncrementalState; last: LdapReadRecord; readAt: Date } | null = null;
  private readonly records = new Map<string, LdapRecord>();

  async state() {
    return this.saved ? { ...this.saved.state, last: this.saved.last, readAt: this.saved.readAt } : null;
  }

  async entries() {
    return [...this.records.values()];
  }

  async save(_source: string, read: LdapReadRecord, state: IncrementalState, records: readonly LdapRecord[], left: readonly LdapRecord[] = []) {
    if (read.kind === "full") this.records.clear();
    for (const record of records) this.records.set(`${record.kind}:${record.dn}`, record);
    for (const record of left) this.records.delete(`${record.kind}:${record.dn}`);
    this.saved = { state, last: read, readAt: new Date() };
  }
}

async function ldif(url: string, bindDn: string, password: string, tool: "ldapadd" | "ldapmodify", text: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "handover-bench-ldif-"));
  try {
    const file = join(dir, "changes.ldif");
    writeFileSync(file, text);
    await exec(tool, ["-x", "-H", url, "-D", bindDn, "-w", password, "-f", file], { maxBuffer: 64 << 20 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function plan(snapshot: DirectorySnapshot, rules: SyncRule[], actual: Map<string, ActualRoom>): { ms: number; actions: number } {
  const started = performance.now();
  const desired = desiredState([snapshot], rules, new IdentityTemplate("{username}", SERVER));
  const result = planMembership(desired, actual, [], {
    serverName: SERVER,
    botUserId: BOT,
    exempt: new Set(),
    leaverPolicy: { action: "none", graceMs: 0, endSessions: false },
    now: new Date(),
  });
  return { ms: performance.now() - started, actions: result.actions.length };
}

/**
 * Incremental LDAP runs against a real OpenLDAP (Debian slapd): a full read of 10,000 people and
 * 200 groups, 1% churn, then an incremental read (modifyTimestamp) merged into the stored copy.
 * Both snapshots are planned against the same converged homeserver, to show whether planning
 * time changes (it should not: the planner always sees the whole merged directory).
 */
export async function directoryIncremental(): Promise<SuiteResult> {
  const slapd = await startSlapd({ sizeLimit: 500 });
  try {
    const person = (i: number) => `uid=u${i},ou=people,${slapd.baseDn}`;
    const people = Array.from(
      { length: PEOPLE },
      (_, i) => `dn: ${person(i)}\nobjectClass: inetOrgPerson\nuid: u${i}\ncn: u${i}\nsn: u${i}\ntitle: ${i % 20 === 0 ? "Consultant" : "Nurse"}\n`,
    );
    const groups = Array.from({ length: GROUPS }, (_, g) => {
      const members = Array.from({ length: PEOPLE / GROUPS }, (_, m) => `member: ${person(g * (PEOPLE / GROUPS) + m)}`).join("\n");
      return `dn: cn=team-${g},ou=groups,${slapd.baseDn}\nobjectClass: groupOfNames\ncn: team-${g}\n${members}\n`;
    });
    await ldif(slapd.url, slapd.bindDn, slapd.bindPassword, "ldapadd", [...people, ...groups].join("\n"));

    const config = {
      name: "ad",
      url: slapd.url,
      bindDn: slapd.bindDn,
      bindPassword: slapd.bindPassword,
      userBase: `ou=people,${slapd.baseDn}`,
      userFilter: "(objectClass=inetOrgPerson)",
      groupBase: `ou=groups,${slapd.baseDn}`,
      groupFilter: "(objectClass=groupOfNames)",
      usernameAttribute: "uid",
      mailAttribute: "mail",
      attributes: ["title"],
      disabled: { attribute: "employeeType", mode: "equals", value: "disabled" },
      pageSize: 500,
      timeout: 60_000,
      incremental: { marker: "modifyTimestamp", fullEvery: 86_400_000 },
    } satisfies LdapSourceConfig;
    const store = new MemoryStore();
    const source = new LdapDirectorySource(config, store);
    const naive = new LdapDirectorySource({ ...config, incremental: undefined });

    let started = performance.now();
    const before = await source.snapshot();
    const fullReadMs = performance.now() - started;

    // The homeserver converged on the directory as it was.
    const rules: SyncRule[] = oneRoomPerGroup(before.groups, SERVER);
    const converged = desiredState([before], rules, new IdentityTemplate("{username}", SERVER));
    const actual = new Map<string, ActualRoom>();
    for (const [roomId, members] of converged.rooms) {
      const room: ActualRoom = { roomId, members: new Map([[BOT, "join"]]), users: { [BOT]: 100 }, usersDefault: 0, botCanManage: true };
      for (const [userId, member] of members) {
        room.members.set(userId, "join");
        if (member.level !== 0) room.users[userId] = member.level;
      }
      actual.set(roomId, room);
    }

    // 1% churn, a second later (modifyTimestamp has one-second resolution): title changes and movers.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const churned = Math.round(PEOPLE * CHURN);
    const changes: string[] = [];
    for (let n = 0; n < churned; n++) {
      const i = (n * 97) % PEOPLE;
      if (n % 2 === 0) changes.push(`dn: ${person(i)}\nchangetype: modify\nreplace: title\ntitle: ${i % 20 === 0 ? "Nurse" : "Consultant"}\n`);
      else {
        const from = Math.floor(i / (PEOPLE / GROUPS));
        const to = (from + 1) % GROUPS;
        changes.push(`dn: cn=team-${from},ou=groups,${slapd.baseDn}\nchangetype: modify\ndelete: member\nmember: ${person(i)}\n`);
        changes.push(`dn: cn=team-${to},ou=groups,${slapd.baseDn}\nchangetype: modify\nadd: member\nmember: ${person(i)}\n`);
      }
    }
    await ldif(slapd.url, slapd.bindDn, slapd.bindPassword, "ldapmodify", changes.join("\n"));

    started = performance.now();
    const incremental = await source.snapshot();
    const incrementalReadMs = performance.now() - started;
    const read = (await store.state())?.last;
    started = performance.now();
    const full = await naive.snapshot();
    const naiveReadMs = performance.now() - started;

    const planFull = plan(full, rules, actual);
    const planIncremental = plan(incremental, rules, actual);
    if (planFull.actions !== planIncremental.actions) throw new Error(`incremental plan differs: ${planIncremental.actions} actions, full ${planFull.actions}`);
    return {
      figures: {
        "directory_incremental.people": PEOPLE,
        "directory_incremental.first_full_read_ms": round(fullReadMs),
        "directory_incremental.full_read_ms": round(naiveReadMs),
        "directory_incremental.incremental_read_ms": round(incrementalReadMs),
        "directory_incremental.entries_changed": read?.changed ?? -1,
        "directory_incremental.plan_ms_full": round(planFull.ms),
        "directory_incremental.plan_ms_incremental": round(planIncremental.ms),
        "directory_incremental.plan_actions": planFull.actions,
      },
      targets: [],
      notes: [
        `directory_incremental: real slapd, ${PEOPLE} people in ${GROUPS} groups, ${churned} changed (titles, movers); the incremental read fetched ${read?.changed ?? "?"} changed entries (${read?.kind}) and merged them into the stored copy (kept in memory here; PostgreSQL in Handover).`,
        "directory_incremental: plan time does not change with incremental reads: the planner always plans over the whole merged directory, and both snapshots give the same plan.",
      ],
    };
  } finally {
    await slapd.stop();
  }
}
