import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { DirectoryRunDetail, DirectoryStatus, PersonExplanation } from "../../appservice/src/http/contract.js";
import { type SlapdServer, startSlapd } from "../harness/slapd.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "directory_ldap_incremental");
const tag = `i${Date.now().toString(36)}`;

let slapd: SlapdServer;
let handover: Handover;
let portal: PortalSession;
let db: pg.Client;
let alice: TestUser;
const staff: Record<"amy" | "ben" | "cat", TestUser> = {} as never;
let ward7: string;

const person = (name: string) => `uid=${name}${tag},ou=people,${slapd.baseDn}`;
const GROUP = () => `cn=Ward7-${tag},ou=groups,${slapd.baseDn}`;
const addPerson = (name: string, title: string) =>
  slapd.add(person(name), { objectClass: ["inetOrgPerson"], uid: `${name}${tag}`, cn: name, sn: name, title, mail: `${name}${tag}@trust.test` });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(): Promise<DirectoryRunDetail> {
  return portal.ok<DirectoryRunDetail>("POST", "/directory/runs", { dryRun: false });
}

async function lastRead(): Promise<{ last_kind: string; last_reason: string | null; last_changed: number; high_water: string | null }> {
  const { rows } = await db.query("SELECT last_kind, last_reason, last_changed, high_water FROM directory_ldap_state WHERE source = 'ad'");
  return rows[0];
}

async function storedPeople(): Promise<string[]> {
  const { rows } = await db.query("SELECT dn FROM directory_ldap_entries WHERE source = 'ad' AND kind = 'person' ORDER BY dn");
  return rows.map((row: { dn: string }) => row.dn.split(",")[0] as string);
}

async function membership(user: TestUser): Promise<string | undefined> {
  return (await alice.members(ward7))[user.userId];
}

async function level(user: TestUser): Promise<number> {
  const levels = await alice.state<{ users?: Record<string, number>; users_default?: number }>(ward7, "m.room.power_levels");
  return levels.users?.[user.userId] ?? levels.users_default ?? 0;
}

beforeAll(async () => {
  slapd = await startSlapd();
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  alice = await TestUser.register(trust, `ialice${tag}`);
  for (const name of ["amy", "ben", "cat"] as const) staff[name] = await TestUser.register(trust, `${name}${tag}`);
  await addPerson("amy", "Staff Nurse");
  await addPerson("ben", "Staff Nurse");
  await slapd.add(GROUP(), { objectClass: ["groupOfNames"], cn: `Ward7-${tag}`, member: [person("amy"), person("ben")] });
  ward7 = await alice.createRoom("Ward 7 (incremental)");
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "admin" },
    directory: {
      schedule: "1h",
      exempt: [alice.userId],
      maxRemovalShare: 1,
      writesPerSecond: 50,
      leavers: { endSessions: false, action: "none", grace: "0s" },
      ldap: [
        {
          name: "ad",
          url: slapd.url,
          bindDn: slapd.bindDn,
          bindPassword: slapd.bindPassword,
          userBase: `ou=people,${slapd.baseDn}`,
          userFilter: `(&(objectClass=inetOrgPerson)(uid=*${tag})(!(employeeType=left)))`,
          groupBase: `ou=groups,${slapd.baseDn}`,
          groupFilter: "(objectClass=groupOfNames)",
          usernameAttribute: "uid",
          attributes: ["title"],
          disabled: { attribute: "employeeType", mode: "equals", value: "disabled" },
          incremental: { marker: "modifyTimestamp", fullEvery: "24h" },
        },
      ],
    },
  });
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
  await portal.ok("PUT", "/directory/rules/ward7", {
    id: "ward7",
    group: `Ward7-${tag}`,
    attribute: null,
    rooms: [ward7],
    joinMode: "force-join",
    power: [{ attribute: "title", equals: "Consultant", level: 50 }],
  });
}, 240_000);

afterAll(async () => {
  await handover?.stop();
  await db?.end();
  await slapd?.stop();
});

describe("incremental LDAP runs against a real OpenLDAP (modifyTimestamp)", () => {
  it("keeps a copy of the directory with a high-water mark; members are in the room", async () => {
    await run();
    expect(await membership(staff.amy)).toBe("join");
    expect(await membership(staff.ben)).toBe("join");
    expect(await storedPeople()).toEqual([`uid=amy${tag}`, `uid=ben${tag}`]);
    expect((await lastRead()).high_water).toMatch(/^\d{14}Z$/);
  });

  it("the next run reads only what changed: a joiner and the group they joined", async () => {
    await pause(1_100); // modifyTimestamp has one-second resolution
    await addPerson("cat", "Consultant");
    await slapd.modify(GROUP(), [{ operation: "add", attribute: "member", values: [person("cat")] }]);
    const result = await run();
    expect(await lastRead()).toMatchObject({ last_kind: "incremental", last_changed: 2 });
    expect(result.summary.people).toBe(3);
    expect(await membership(staff.cat)).toBe("join");
    expect(await level(staff.cat)).toBe(50);
  });

  it("an attribute change alone is one changed entry: power levels follow", async () => {
    await pause(1_100);
    await slapd.modify(person("amy"), [{ operation: "replace", attribute: "title", values: ["Consultant"] }]);
    await run();
    expect(await lastRead()).toMatchObject({ last_kind: "incremental", last_changed: 1 });
    expect(await level(staff.amy)).toBe(50);
  });

  it("a deletion is not seen incrementally; the periodic full read catches it and makes a leaver", async () => {
    await pause(1_100);
    await slapd.modify(GROUP(), [{ operation: "delete", attribute: "member", values: [person("ben")] }]);
    await slapd.remove(person("ben"));
    await run();
    expect((await lastRead()).last_kind).toBe("incremental");
    expect(await storedPeople()).toContain(`uid=ben${tag}`); // still in the copy: deletions need a full read
    expect(await membership(staff.ben)).toBe("leave"); // the group change was seen
    // The full-run interval has passed.
    await db.query("UPDATE directory_ldap_state SET full_at = now() - interval '2 days' WHERE source = 'ad'");
    await run();
    expect(await lastRead()).toMatchObject({ last_kind: "full", last_reason: "periodic full read (catches deletions)" });
    expect(await storedPeople()).toEqual([`uid=amy${tag}`, `uid=cat${tag}`]);
    const ben = await portal.ok<PersonExplanation>("GET", `/directory/people/${encodeURIComponent(staff.ben.userId)}`);
    expect(ben.inDirectory).toBe(false);
  });

  it("an incremental answer that looks wrong falls back to a full read", async () => {
    // A high-water mark from the future (a restored database, a clock moved back on the server).
    await db.query("UPDATE directory_ldap_state SET high_water = '20991231000000Z' WHERE source = 'ad'");
    await pause(1_100);
    await slapd.modify(person("amy"), [{ operation: "replace", attribute: "title", values: ["Staff Nurse"] }]);
    await run();
    const read = await lastRead();
    expect(read.last_kind).toBe("full");
    expect(read.last_reason).toMatch(/^fallback: the stored modifyTimestamp 20991231000000Z is ahead of/);
    expect(read.high_water).not.toBe("20991231000000Z");
    const status = await portal.ok<DirectoryStatus>("GET", "/directory");
    expect(status.sources[0]?.lastRead).toMatchObject({ kind: "full", reason: expect.stringMatching(/^fallback: /) });
    expect(await level(staff.amy)).toBe(0);
  });

  it("someone who leaves the people filter leaves the copy at once, without waiting for a full read", async () => {
    await pause(1_100);
    await slapd.modify(person("cat"), [{ operation: "add", attribute: "employeeType", values: ["left"] }]);
    await run();
    expect(await lastRead()).toMatchObject({ last_kind: "incremental", last_changed: 1 });
    expect(await storedPeople()).toEqual([`uid=amy${tag}`]);
    expect(await membership(staff.cat)).toBe("leave"); // seen active before, no longer listed: a leaver
  });
});
