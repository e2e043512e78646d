import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { DirectoryRule, DirectoryRunDetail, PersonExplanation } from "../../appservice/src/http/contract.js";
import { type SlapdServer, startSlapd } from "../harness/slapd.js";
import { configYaml } from "../support/config-yaml.js";
import { freshDatabase } from "../support/fresh-database.js";
import { type InstanceOptions, startHandover } from "../support/handover-instance.js";
import { ldapSource } from "../support/ldap-source.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

const execFileAsync = promisify(execFile);
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "directory_ldap");
const tag = Date.now().toString(36);

let slapd: SlapdServer;
let handover: Handover;
let portal: PortalSession;
let alice: TestUser; // ward manager: Handover admin, exempt from sync
const staff: Record<"amy" | "ben" | "cat" | "dan", TestUser> = {} as never;
let ward7Clinical: string; // created by Handover from the rule
let ward7Rota: string; // created by alice; Handover takes it with make_room_admin
let ward9: string;

const person = (name: string) => `uid=${name}${tag},ou=people,${slapd.baseDn}`;
const group = (name: string) => `cn=${name},ou=groups,${slapd.baseDn}`;

function directoryOptions(): InstanceOptions {
  return {
    roles: { [alice.userId]: "admin" },
    directory: {
      schedule: "1h",
      exempt: [alice.userId],
      maxRemovalShare: 0.35,
      // Each run here is judged alone: the window's sum over five people is directory-guard.test.ts's.
      removalWindow: "off",
      writesPerSecond: 50,
      leavers: { endSessions: true, action: "lock", grace: "0s" },
      ldap: [ldapSource(slapd, tag, { attributes: ["title", "departmentNumber"], pageSize: 2 })],
    },
  };
}

async function run(): Promise<DirectoryRunDetail> {
  return portal.ok<DirectoryRunDetail>("POST", "/directory/runs", { dryRun: false });
}

/** Room state through the admin API: Handover-created rooms have no test user in them to ask. */
async function roomState(roomId: string): Promise<{ type: string; state_key: string; content: Record<string, unknown> }[]> {
  const response = await fetch(`${trust.clientUrl}/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}/state`, {
    headers: { authorization: `Bearer ${trust.admin.accessToken}` },
  });
  return ((await response.json()) as { state: { type: string; state_key: string; content: Record<string, unknown> }[] }).state;
}

async function membership(roomId: string, user: TestUser): Promise<string | undefined> {
  const event = (await roomState(roomId)).find((candidate) => candidate.type === "m.room.member" && candidate.state_key === user.userId);
  return event?.content.membership as string | undefined;
}

async function level(roomId: string, user: TestUser): Promise<number> {
  const event = (await roomState(roomId)).find((candidate) => candidate.type === "m.room.power_levels");
  const levels = (event?.content ?? {}) as { users?: Record<string, number>; users_default?: number };
  return levels.users?.[user.userId] ?? levels.users_default ?? 0;
}

beforeAll(async () => {
  slapd = await startSlapd();
  alice = await TestUser.register(trust, `dalice${tag}`);
  for (const name of ["amy", "ben", "cat", "dan"] as const) staff[name] = await TestUser.register(trust, `${name}${tag}`);
  const add = (name: string, title: string) =>
    slapd.add(person(name), { objectClass: ["inetOrgPerson"], uid: `${name}${tag}`, cn: name, sn: name, title, mail: `${name}${tag}@trust.test` });
  await add("amy", "Staff Nurse");
  await add("ben", "Staff Nurse");
  await add("cat", "Consultant");
  await add("dan", "Healthcare Assistant");
  // Ward7-Clinical holds the nursing and doctors' groups: membership through nesting.
  await slapd.add(group(`Ward7-Nursing-${tag}`), { objectClass: ["groupOfNames"], cn: `Ward7-Nursing-${tag}`, member: [person("amy"), person("dan")] });
  await slapd.add(group(`Ward7-Doctors-${tag}`), { objectClass: ["groupOfNames"], cn: `Ward7-Doctors-${tag}`, member: [person("cat")] });
  await slapd.add(group(`Ward7-Clinical-${tag}`), {
    objectClass: ["groupOfNames"],
    cn: `Ward7-Clinical-${tag}`,
    member: [group(`Ward7-Nursing-${tag}`), group(`Ward7-Doctors-${tag}`)],
  });
  await slapd.add(group(`Ward9-Nursing-${tag}`), { objectClass: ["groupOfNames"], cn: `Ward9-Nursing-${tag}`, member: [slapd.bindDn] });

  ward7Rota = await alice.createRoom("Ward 7 rota");
  ward9 = await alice.createRoom("Ward 9");
  handover = await startHandover(trust, databaseUrl, directoryOptions());
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
}, 240_000);

afterAll(async () => {
  await handover?.stop();
  await slapd?.stop();
});

describe("directory sync from a real OpenLDAP to a real Synapse", () => {
  it("tests the LDAP source and creates a managed room from a rule", async () => {
    expect(await portal.ok("POST", "/directory/sources/ad/test")).toMatchObject({ ok: true });
    const rule: DirectoryRule = {
      id: `ward7-${tag}`,
      description: "Ward 7 clinical staff",
      group: `Ward7-Clinical-${tag}`,
      attribute: null,
      rooms: [ward7Rota],
      joinMode: "force-join",
      power: [{ attribute: "title", equals: "consultant", level: 50 }],
      enabled: true,
    };
    await portal.ok("PUT", `/directory/rules/${rule.id}`, rule);
    const updated = await portal.ok<DirectoryRule>("POST", `/directory/rules/${rule.id}/rooms`, { name: "Ward 7 clinical" });
    ward7Clinical = updated.rooms[1] as string;
    expect(updated.rooms).toHaveLength(2);
    await portal.ok("PUT", `/directory/rules/ward9-${tag}`, {
      id: `ward9-${tag}`,
      group: `Ward9-Nursing-${tag}`,
      attribute: null,
      rooms: [ward9],
      joinMode: "invite",
    });
  });

  it("puts group members (nested groups too) in the mapped rooms with power from attributes; a second run is a no-op", async () => {
    const preview = await portal.ok<DirectoryRunDetail>("POST", "/directory/preview", {});
    expect(preview.status).toBe("dry-run");
    expect(await membership(ward7Rota, staff.amy)).toBeUndefined();

    const first = await run();
    expect(first).toMatchObject({ status: "applied", summary: { failed: 0 } });
    for (const room of [ward7Clinical, ward7Rota]) {
      for (const name of ["amy", "cat", "dan"] as const) expect(await membership(room, staff[name])).toBe("join");
      expect(await membership(room, staff.ben)).toBeUndefined();
      expect(await level(room, staff.cat)).toBe(50);
      expect(await level(room, staff.amy)).toBe(0);
    }
    // The user can read the room like any member.
    await alice.send(ward7Rota, "Handover at 8");
    await eventually("amy to read the rota", async () => (await staff.amy.messages(ward7Rota)).some((event) => event.content.body === "Handover at 8"));

    const again = await run();
    expect(again.status).toBe("noop");
    expect(again.actionsTotal).toBe(0);

    const why = await portal.ok<PersonExplanation>("GET", `/directory/people/${encodeURIComponent(staff.cat.userId)}`);
    expect(why).toMatchObject({ inDirectory: true, source: "ad" });
    expect(why.groups).toEqual(expect.arrayContaining([`ward7-doctors-${tag}`, `ward7-clinical-${tag}`]));
    expect(why.rooms.map((room) => room.roomId).sort()).toEqual([ward7Clinical, ward7Rota].sort());
  });

  it("moves a mover in one run and adds a joiner", async () => {
    await slapd.modify(group(`Ward7-Nursing-${tag}`), [
      { operation: "delete", attribute: "member", values: [person("dan")] },
      { operation: "add", attribute: "member", values: [person("ben")] },
    ]);
    await slapd.modify(group(`Ward9-Nursing-${tag}`), [{ operation: "add", attribute: "member", values: [person("dan")] }]);
    // `handover sync --dry-run` shows the move and changes nothing.
    const configPath = join(mkdtempSync(join(tmpdir(), "handover-dir-cli-")), "config.yaml");
    writeFileSync(configPath, configYaml({ ...handover.config, web: { ...handover.config.web, portalDir: undefined } }));
    const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", "appservice/src/cli.ts", "sync", "--dry-run", "--config", configPath]);
    expect(stdout).toMatch(/status: dry-run/);
    expect(stdout).toContain(`kick         ${staff.dan.userId} in ${ward7Rota} (no-matching-rule)`);
    expect(await membership(ward7Rota, staff.dan)).toBe("join");
    const moved = await run();
    expect(moved.status).toBe("applied");
    for (const room of [ward7Clinical, ward7Rota]) {
      expect(await membership(room, staff.dan)).toBe("leave");
      expect(await membership(room, staff.ben)).toBe("join");
    }
    expect(await membership(ward9, staff.dan)).toBe("invite");
    const kicks = moved.actions.filter((action) => action.kind === "kick");
    expect(kicks.map((action) => action.why)).toEqual(["no-matching-rule", "no-matching-rule"]);
  });

  it("power levels follow a change of title", async () => {
    await slapd.modify(person("cat"), [{ operation: "replace", attribute: "title", values: ["Registrar"] }]);
    await slapd.modify(person("amy"), [{ operation: "replace", attribute: "title", values: ["Consultant"] }]);
    const changed = await run();
    expect(changed.actions.filter((action) => action.kind === "set-power")).toHaveLength(2); // one write per room
    expect(await level(ward7Rota, staff.cat)).toBe(0);
    expect(await level(ward7Rota, staff.amy)).toBe(50);
  });

  it("a disabled person is removed everywhere, logged out and locked; their client cannot read new messages", async () => {
    await slapd.modify(person("amy"), [{ operation: "add", attribute: "employeeType", values: ["disabled"] }]);
    const result = await run();
    expect(result.status).toBe("applied");
    expect(result.actions.map((action) => action.kind).sort()).toEqual(["end-sessions", "kick", "kick", "lock"]);
    for (const room of [ward7Clinical, ward7Rota]) expect(await membership(room, staff.amy)).toBe("leave");
    await alice.send(ward7Rota, "New patient in bay 3");
    await expect(staff.amy.messages(ward7Rota)).rejects.toThrow(/401|M_UNKNOWN_TOKEN/);
    const account = await fetch(`${trust.clientUrl}/_synapse/admin/v2/users/${encodeURIComponent(staff.amy.userId)}`, {
      headers: { authorization: `Bearer ${trust.admin.accessToken}` },
    });
    expect(((await account.json()) as { locked: boolean }).locked).toBe(true);
  });

  it("holds a run that would remove 40% of managed memberships; approving applies it", async () => {
    // Managed now: ben and cat in both ward 7 rooms, dan invited to ward 9: 5. Ben leaving removes 2.
    await slapd.modify(group(`Ward7-Nursing-${tag}`), [{ operation: "delete", attribute: "member", values: [person("ben")] }]);
    const held = await run();
    expect(held).toMatchObject({ status: "held", summary: { removals: 2, managedMemberships: 5 } });
    expect(held.reason).toMatch(/40%/);
    expect(await membership(ward7Rota, staff.ben)).toBe("join");
    // Asking again does not record the same held run twice.
    expect((await run()).id).toBe(held.id);

    const approved = await portal.ok<DirectoryRunDetail>("POST", `/directory/runs/${held.id}/approval`);
    expect(approved).toMatchObject({ id: held.id, status: "applied", decidedBy: alice.userId });
    expect(await membership(ward7Rota, staff.ben)).toBe("leave");

    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const audit = await db.query("SELECT action, actor, details FROM audit_log WHERE action LIKE 'directory.%' AND details->>'run' = $1 ORDER BY seq", [
      String(held.id),
    ]);
    await db.end();
    expect(audit.rows.map((row) => row.action)).toEqual(["directory.run.held", "directory.run.approved", "directory.member.remove", "directory.member.remove"]);
    expect(audit.rows[2].details).toMatchObject({ why: "no-matching-rule", room: expect.any(String), user: staff.ben.userId });
  });

  it("refuses an empty directory answer and changes nothing", async () => {
    await handover.stop();
    const options = directoryOptions();
    const ldap = options.directory?.ldap?.[0];
    if (ldap) ldap.userFilter = "(uid=nobody-at-all)";
    handover = await startHandover(trust, databaseUrl, options);
    portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
    const refused = await run();
    expect(refused.status).toBe("refused");
    expect(refused.reason).toMatch(/nobody/);
    expect(await membership(ward7Rota, staff.cat)).toBe("join");
  });
});
