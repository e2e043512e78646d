import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { DirectoryRunDetail } from "../../appservice/src/http/contract.js";
import { type SlapdServer, startSlapd } from "../harness/slapd.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { ldapSource } from "../support/ldap-source.js";
import { TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

// The mass-removal guard (issue 11.6) against a real slapd, Synapse and PostgreSQL: log-outs and
// locks count like kicks, removals add up over a rolling window, and an approval is for one plan.
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "directory_guard");
const tag = `g${Date.now().toString(36)}`;
const PEOPLE = 40;

let slapd: SlapdServer;
let handover: Handover;
let portal: PortalSession;
let alice: TestUser; // Handover admin, exempt from sync
const staff: TestUser[] = [];
let ward: string;

const name = (index: number) => `p${String(index).padStart(2, "0")}${tag}`;
const dn = (index: number) => `uid=${name(index)},ou=people,${slapd.baseDn}`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, offset) => from + offset);

async function setDisabled(indexes: number[], disabled: boolean): Promise<void> {
  for (const index of indexes) {
    await slapd.modify(dn(index), [{ operation: disabled ? "add" : "delete", attribute: "employeeType", values: ["disabled"] }]);
  }
}

async function run(): Promise<DirectoryRunDetail> {
  return portal.ok<DirectoryRunDetail>("POST", "/directory/runs", { dryRun: false });
}

/** Whether the person's access token still works: a leaver's sessions are ended. */
async function signedIn(user: TestUser): Promise<boolean> {
  const response = await fetch(`${trust.clientUrl}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${user.user.accessToken}` } });
  return response.status === 200;
}

async function locked(user: TestUser): Promise<boolean> {
  const response = await fetch(`${trust.clientUrl}/_synapse/admin/v2/users/${encodeURIComponent(user.userId)}`, {
    headers: { authorization: `Bearer ${trust.admin.accessToken}` },
  });
  return ((await response.json()) as { locked?: boolean }).locked === true;
}

beforeAll(async () => {
  slapd = await startSlapd();
  alice = await TestUser.register(trust, `galice${tag}`);
  for (const index of range(0, PEOPLE)) {
    staff.push(await TestUser.register(trust, name(index)));
    await slapd.add(dn(index), { objectClass: ["inetOrgPerson"], uid: name(index), cn: name(index), sn: name(index), title: "Staff Nurse" });
  }
  // Ten of the forty are on the ward; the other thirty are in no managed room at all.
  await slapd.add(`cn=Ward-${tag},ou=groups,${slapd.baseDn}`, {
    objectClass: ["groupOfNames"],
    cn: `Ward-${tag}`,
    member: range(0, 10).map(dn),
  });
  ward = await alice.createRoom("Ward");
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "admin" },
    directory: {
      schedule: "1h",
      exempt: [alice.userId],
      maxRemovalShare: 0.2,
      removalWindow: "24h",
      writesPerSecond: 50,
      leavers: { endSessions: true, action: "lock", grace: "0s" },
      ldap: [ldapSource(slapd, tag, { groupFilter: `(cn=Ward-${tag})` })],
    },
  });
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
  await portal.ok("PUT", `/directory/rules/ward-${tag}`, { id: `ward-${tag}`, group: `Ward-${tag}`, attribute: null, rooms: [ward], joinMode: "force-join" });
  expect(await run()).toMatchObject({ status: "applied", summary: { failed: 0 } });
}, 600_000);

afterAll(async () => {
  await handover?.stop();
  await slapd?.stop();
});

describe("the mass-removal guard counts log-outs and locks, across runs, and approves one plan", () => {
  it("30 of 40 people going inactive is held, not logged out", async () => {
    await setDisabled(range(10, 40), true);
    const held = await run();
    expect(held.status).toBe("held");
    expect(held.reason).toMatch(/30 of 40 people/);
    for (const index of [10, 25, 39]) {
      expect(await signedIn(staff[index] as TestUser)).toBe(true);
      expect(await locked(staff[index] as TestUser)).toBe(false);
    }
    await portal.ok("POST", `/directory/runs/${held.id}/rejection`, { reason: "directory outage" });
    await setDisabled(range(10, 40), false);
    expect((await run()).status).toBe("noop");
  });

  it("a series of small runs cannot do in a day what one run may not", async () => {
    await setDisabled(range(10, 15), true);
    const first = await run();
    expect(first).toMatchObject({ status: "applied", summary: { failed: 0 } });
    expect(await signedIn(staff[10] as TestUser)).toBe(false);
    expect(await locked(staff[10] as TestUser)).toBe(true);

    // Five more of the remaining 35 is 14% alone, but 10 of 40 (25%) within the window.
    await setDisabled(range(15, 20), true);
    const second = await run();
    expect(second.status).toBe("held");
    expect(second.reason).toMatch(/10 of 40 people/);
    expect(await signedIn(staff[15] as TestUser)).toBe(true);
  });

  it("an approval applies the plan that was shown; a different plan needs a new approval", async () => {
    const shown = (await portal.ok<{ runs: { id: number; status: string }[] }>("GET", "/directory/runs")).runs.find((candidate) => candidate.status === "held");
    expect(shown).toBeDefined();
    const heldId = shown?.id as number;
    // The directory moves on after the admin looked: one more person goes.
    await setDisabled([20], true);
    const refused = await portal.call<{ error: { code: string; message: string } }>("POST", `/directory/runs/${heldId}/approval`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/changed since run \d+ was held/) });
    for (const index of [15, 20]) expect(await signedIn(staff[index] as TestUser)).toBe(true);

    const again = await run();
    expect(again.status).toBe("held");
    expect(again.id).not.toBe(heldId);
    const approved = await portal.ok<DirectoryRunDetail>("POST", `/directory/runs/${again.id}/approval`);
    expect(approved).toMatchObject({ status: "applied", decidedBy: alice.userId, summary: { failed: 0 } });
    for (const index of [15, 20]) expect(await signedIn(staff[index] as TestUser)).toBe(false);
    expect(await signedIn(staff[21] as TestUser)).toBe(true);
  });
});
