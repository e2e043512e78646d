import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { DirectoryRun, DirectoryRunDetail, DirectoryRunList } from "../../appservice/src/http/contract.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

// Leavers out on a push (issue 16.1) against a real Synapse and PostgreSQL: a SCIM leaver is out
// of every managed room and signed out by the run the push starts; a burst of pushes, as Entra
// sends them, makes one run (one plan, one guard verdict, one set of kicks), so a burst that
// removes too many is held whole even though each of its pushes alone would pass the guard.
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "directory_scim_burst");
const tag = `b${Date.now().toString(36)}`;
const TOKEN = "scim-burst-token-that-is-long-enough-0123456789";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ROOMS = 3;
const WARD = 8;
const OTHERS = 40;

let handover: Handover;
let portal: PortalSession;
let alice: TestUser; // Handover admin, exempt from sync
const ward: { user: TestUser; scimId: string }[] = [];
const others: string[] = []; // SCIM ids of people in no managed room (no Matrix account needed)
let groupId: string;
const rooms: string[] = [];

async function scim<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${handover.webPort}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/scim+json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`SCIM ${method} ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

const disable = (id: string) => scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: "False" }] });
const retitle = (id: string, title: string) =>
  scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "title", value: title }] });

async function signedIn(user: TestUser): Promise<boolean> {
  const response = await fetch(`${trust.clientUrl}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${user.user.accessToken}` } });
  return response.status === 200;
}

async function adminGet<T>(path: string): Promise<T> {
  const response = await fetch(`${trust.clientUrl}/_synapse/admin${path}`, { headers: { authorization: `Bearer ${trust.admin.accessToken}` } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return (await response.json()) as T;
}

/** The person's membership in the room as Synapse's room state has it. */
async function membership(roomId: string, user: TestUser): Promise<string | undefined> {
  const { state } = await adminGet<{ state: { type: string; state_key: string; content: { membership?: string } }[] }>(
    `/v1/rooms/${encodeURIComponent(roomId)}/state`,
  );
  return state.find((event) => event.type === "m.room.member" && event.state_key === user.userId)?.content.membership;
}

async function outOfEveryRoom(user: TestUser): Promise<boolean> {
  for (const roomId of rooms) if ((await membership(roomId, user)) !== "leave") return false;
  return true;
}

/** Kick events Synapse holds for the person in the room (a kick sent twice would show twice). */
async function kicksOf(roomId: string, user: TestUser): Promise<number> {
  const timeline = await alice.timeline(roomId, 500);
  return timeline.filter((event) => {
    const member = event as typeof event & { state_key?: string };
    return member.type === "m.room.member" && member.state_key === user.userId && member.content.membership === "leave";
  }).length;
}

/** Runs that changed something or were held (a run with nothing to do leaves no row), any trigger. */
async function runsSince(since: number): Promise<DirectoryRun[]> {
  const { runs } = await portal.ok<DirectoryRunList>("GET", "/directory/runs");
  return runs.filter((run) => run.startedAt !== null && Date.parse(run.startedAt) >= since);
}

/**
 * A manual run: it takes the lock the pushes' runs take, so it starts after them, and it does
 * whatever they left undone. Counted with them, a burst split over two runs shows as two rows.
 */
async function settled(): Promise<void> {
  await portal.ok("POST", "/directory/runs", { dryRun: false });
}

beforeAll(async () => {
  alice = await TestUser.register(trust, `balice${tag}`);
  for (let index = 0; index < ROOMS; index++) rooms.push(await alice.createRoom(`Ward ${index}`));
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "admin" },
    directory: {
      schedule: "1h",
      exempt: [alice.userId],
      // A leaver is 3 of the ward's 24 memberships: the share is set for this small ward.
      maxRemovalShare: 0.4,
      // Each run is judged alone: only coalescing can make the guard see a burst whole.
      removalWindow: "off",
      leavers: { endSessions: true, action: "none", grace: "0s" },
      // Quiet for 3 s before a run: far longer than the gaps between a burst's pushes.
      scim: { name: "entra", bearerToken: TOKEN, syncDelay: "3s", maxDelay: "5m" },
    },
  });
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
  await portal.ok("PUT", `/directory/rules/ward-${tag}`, { id: `ward-${tag}`, group: `Ward-${tag}`, attribute: null, rooms, joinMode: "force-join" });
  for (let index = 0; index < WARD; index++) {
    const user = await TestUser.register(trust, `w${index}${tag}`);
    const created = await scim<{ id: string }>("POST", "/Users", { userName: `w${index}${tag}@trust.nhs.uk`, active: true, title: "Staff Nurse" });
    ward.push({ user, scimId: created.id });
  }
  for (let index = 0; index < OTHERS; index++) {
    others.push((await scim<{ id: string }>("POST", "/Users", { userName: `o${index}${tag}@trust.nhs.uk`, active: true, title: "Porter" })).id);
  }
  groupId = (await scim<{ id: string }>("POST", "/Groups", { displayName: `Ward-${tag}`, members: ward.map((person) => ({ value: person.scimId })) })).id;
  const seeded = await portal.ok<DirectoryRunDetail>("POST", "/directory/runs", { dryRun: false });
  expect(["applied", "noop"]).toContain(seeded.status);
  for (const { user } of ward)
    for (const roomId of rooms) await eventually(`${user.userId} joined`, async () => (await membership(roomId, user)) === "join", 60_000);
}, 600_000);

afterAll(async () => {
  await handover?.stop();
});

describe("leavers out on a SCIM push, and bursts of pushes coalesced into one run", () => {
  it("a leaver pushed by SCIM is removed from every managed room and signed out by the run the push starts", async () => {
    const leaver = ward[0] as (typeof ward)[number];
    expect(await signedIn(leaver.user)).toBe(true);
    const since = Date.now();
    await disable(leaver.scimId);
    await eventually("the leaver out of every room", () => outOfEveryRoom(leaver.user), 120_000);
    await eventually("the leaver's sessions ended", async () => !(await signedIn(leaver.user)), 60_000);
    expect((await adminGet<{ devices: unknown[] }>(`/v2/users/${encodeURIComponent(leaver.user.userId)}/devices`)).devices).toEqual([]);
    await settled();
    const runs = await runsSince(since);
    expect(runs, JSON.stringify(runs)).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: "scim", status: "applied", summary: { removals: ROOMS, leaverSteps: 1, failed: 0 } });
  });

  it("a burst of SCIM requests makes one run and one set of kicks", async () => {
    const leaver = ward[1] as (typeof ward)[number];
    const moved = ward[2] as (typeof ward)[number];
    const since = Date.now();
    // As Entra sends a cycle: the leaver first, title changes, the group removal last.
    await disable(leaver.scimId);
    for (const [index, id] of others.slice(0, 15).entries()) await retitle(id, `Porter ${index}`);
    await scim("PATCH", `/Groups/${groupId}`, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: `members[value eq "${moved.scimId}"]` }] });
    await eventually(
      "the leaver and the mover out of every room",
      async () => (await outOfEveryRoom(leaver.user)) && (await outOfEveryRoom(moved.user)),
      120_000,
    );
    await settled();
    const runs = await runsSince(since);
    expect(runs, JSON.stringify(runs)).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: "scim", status: "applied", summary: { removals: 2 * ROOMS, leaverSteps: 1, failed: 0 } });
    for (const roomId of rooms) {
      expect(await kicksOf(roomId, leaver.user)).toBe(1);
      expect(await kicksOf(roomId, moved.user)).toBe(1);
    }
    expect(await signedIn(leaver.user)).toBe(false);
    expect(await signedIn(moved.user)).toBe(true);
  });

  it("a burst that disables too many people is held whole, though each push alone would pass the guard", async () => {
    const since = Date.now();
    // 30 of the 48 people, paced like a provisioning cycle (each one alone is 2% of them).
    const leaving = [...ward.slice(3).map((person) => person.scimId), ...others.slice(0, 25)];
    for (const id of leaving) {
      await disable(id);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await eventually("the burst's run", async () => (await runsSince(since)).length > 0, 120_000);
    await settled();
    const runs = await runsSince(since);
    expect(runs, JSON.stringify(runs)).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: "scim", status: "held", summary: { leaverSteps: leaving.length } });
    for (const { user } of ward.slice(3)) {
      expect(await signedIn(user)).toBe(true);
      expect(await membership(rooms[0] as string, user)).toBe("join");
    }
  });
});
