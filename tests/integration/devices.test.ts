import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { SPOT_CHECK_JOB } from "../../appservice/src/devices/capability.js";
import { SCHEDULE_ACTOR } from "../../appservice/src/domain/devices/spot-checks.js";
import type {
  AuditPage,
  PersonDevices,
  Posture,
  SignOutResult,
  SpotCheck,
  SpotCheckList,
  SpotCheckPdf,
  StaleSweep,
} from "../../appservice/src/http/contract.js";
import { EncryptingClient } from "../support/encrypting-client.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

// Issue 14: devices and sessions, against a real Synapse with real matrix-js-sdk clients.
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "devices");
const tag = Date.now().toString(36);
const SCIM_TOKEN = "devices-scim-token-that-is-long-enough-0123456789";
const wardGroup = `Ward7-Nurses-${tag}`;

let handover: Handover;
let admin: PortalSession;
let auditor: PortalSession;
let alice: TestUser;
let ivy: TestUser;
let gina: TestUser;
let igLead: PortalSession;
let finnId: string;

/** A password login: a new device of the user; returns its access token and device ID. */
async function logIn(user: TestUser): Promise<{ accessToken: string; deviceId: string }> {
  const response = await fetch(`${trust.clientUrl}/_matrix/client/v3/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.user.password }),
  });
  const login = (await response.json()) as { access_token: string; device_id: string };
  return { accessToken: login.access_token, deviceId: login.device_id };
}

/** The status a client's next sync gets with this access token. */
async function syncStatus(accessToken: string): Promise<number> {
  const response = await fetch(`${trust.clientUrl}/_matrix/client/v3/sync?timeout=0`, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status;
}

/** The bot's messages a client with this token sees: it joins the bot's invitations first, as a person would. */
async function botMessages(accessToken: string): Promise<string[]> {
  const call = async <T>(method: string, endpoint: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${trust.clientUrl}/_matrix/client/v3${endpoint}`, {
      method,
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as T;
  };
  // One sync: Synapse answers a repeated initial sync from a cache, so a second would not show the joins.
  const sync = await call<{ rooms?: { invite?: Record<string, unknown>; join?: Record<string, unknown> } }>("GET", "/sync?timeout=0");
  const invited = Object.keys(sync.rooms?.invite ?? {});
  for (const roomId of invited) await call("POST", `/rooms/${encodeURIComponent(roomId)}/join`, {});
  const bodies: string[] = [];
  for (const roomId of [...invited, ...Object.keys(sync.rooms?.join ?? {})]) {
    const page = await call<{ chunk?: { type: string; sender: string; content: { body?: string } }[] }>(
      "GET",
      `/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=20`,
    );
    const fromBot = (page.chunk ?? []).filter((event) => event.sender === handover.botUserId && event.type === "m.room.message");
    bodies.push(...fromBot.map((event) => event.content.body ?? ""));
  }
  return bodies;
}

async function logOutRegistrationDevice(user: TestUser): Promise<void> {
  await user.request("POST", "/logout", {});
}

async function adminPushers(userId: string): Promise<unknown[]> {
  const response = await fetch(`${trust.clientUrl}/_synapse/admin/v1/users/${encodeURIComponent(userId)}/pushers`, {
    headers: { authorization: `Bearer ${trust.admin.accessToken}` },
  });
  return ((await response.json()) as { pushers: unknown[] }).pushers;
}

/** The homeserver's "last seen" for a person as the account listing gives it (what incremental passes decide by). */
async function listedLastSeen(userId: string): Promise<number | null> {
  const response = await fetch(`${trust.clientUrl}/_synapse/admin/v2/users?name=${encodeURIComponent(userId.slice(1).split(":")[0] ?? "")}`, {
    headers: { authorization: `Bearer ${trust.admin.accessToken}` },
  });
  const listed = ((await response.json()) as { users: { name: string; last_seen_ts: number | null }[] }).users;
  return listed.find((user) => user.name === userId)?.last_seen_ts ?? null;
}

async function audited(action: string): Promise<AuditPage["entries"]> {
  return (await admin.ok<AuditPage>("GET", `/audit?action=${encodeURIComponent(action)}`)).entries;
}

const path = (userId: string) => `/devices/people/${encodeURIComponent(userId)}`;

/** A SCIM push, as Entra ID or Okta would send it: the quickest way to put someone in a directory group. */
async function scim<T = Record<string, unknown>>(method: string, scimPath: string, body: unknown): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${handover.webPort}/scim/v2${scimPath}`, {
    method,
    headers: { authorization: `Bearer ${SCIM_TOKEN}`, "content-type": "application/scim+json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBeLessThan(300);
  return (await response.json()) as T;
}

async function scimUser(user: TestUser, displayName: string): Promise<string> {
  const userName = `${user.userId.slice(1).split(":")[0] ?? ""}@trust.nhs.uk`;
  const created = await scim<{ id: string }>("POST", "/Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName,
    active: true,
    displayName,
  });
  return created.id;
}

beforeAll(async () => {
  alice = await TestUser.register(trust, `dalice${tag}`);
  ivy = await TestUser.register(trust, `divy${tag}`);
  gina = await TestUser.register(trust, `dgina${tag}`);
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "admin", [ivy.userId]: "auditor", [gina.userId]: "ig-lead" },
    // The stack's Synapse strips content from pushes; with the probe off, the config stands in for
    // one that includes it (Synapse's default), which devices-push-probe.test.ts shows for real.
    devices: {
      staleAfter: "1s",
      staleSweep: { approvalAbove: 1 },
      spotChecks: { every: "30d", people: 5, groups: [wardGroup] },
      pushProbe: { enabled: false },
    },
    // SCIM only, to put people in directory groups; nobody here is treated as a leaver.
    directory: {
      schedule: "1h",
      maxRemovalShare: 1,
      leavers: { endSessions: false, action: "none", grace: "0s" },
      scim: { name: "entra", bearerToken: SCIM_TOKEN, syncDelay: "500ms" },
    },
  });
  admin = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
  auditor = await PortalSession.signIn(handover.webPort, ivy.userId, ivy.user.password);
  igLead = await PortalSession.signIn(handover.webPort, gina.userId, gina.user.password);
}, 240_000);

afterAll(async () => {
  await handover?.stop();
});

describe("a person with a cross-signed device, one not cross-signed, and a pusher that carries content", () => {
  let amy: TestUser;
  let verified: EncryptingClient;
  let unverified: EncryptingClient;

  beforeAll(async () => {
    amy = await TestUser.register(trust, `damy${tag}`);
    verified = await EncryptingClient.start(trust, amy);
    await verified.client.getCrypto()?.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: amy.userId }, password: amy.user.password } as never);
      },
    });
    unverified = await EncryptingClient.start(trust, amy);
    await unverified.client.setPusher({
      kind: "http",
      app_id: "org.handover.test.android",
      app_display_name: "Test messenger",
      device_display_name: "Amy's phone",
      pushkey: `pushkey-${tag}`,
      lang: "en",
      data: { url: "http://127.0.0.1:9/_matrix/push/v1/notify" },
    } as never);
    await logOutRegistrationDevice(amy);
  }, 120_000);

  afterAll(() => {
    verified?.stop();
    unverified?.stop();
  });

  it("the API shows exactly those two devices, which one is cross-signed, and the pusher carrying content", async () => {
    const verifiedId = verified.client.getDeviceId() as string;
    const unverifiedId = unverified.client.getDeviceId() as string;
    const person = await eventually("amy's cross-signed device", async () => {
      const answer = await auditor.ok<PersonDevices>("GET", path(amy.userId));
      return answer.devices.some((device) => device.crossSigned) ? answer : undefined;
    });
    expect(person.hasCrossSigningIdentity).toBe(true);
    expect(Object.fromEntries(person.devices.map((device) => [device.deviceId, device.crossSigned]))).toEqual({ [verifiedId]: true, [unverifiedId]: false });
    expect(person.devicesNotCrossSigned).toBe(1);
    expect(person.pushers).toEqual([
      {
        kind: "http",
        appId: "org.handover.test.android",
        appDisplayName: "Test messenger",
        deviceDisplayName: "Amy's phone",
        format: null,
        carriesContent: true,
      },
    ]);
    expect(person.pushersCarryingContent).toBe(1);
    expect(person.directory).toBe("not-managed");
    for (const device of person.devices) expect(device.lastAddress).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);

    const found = await auditor.ok<{ people: PersonDevices[] }>("GET", `/devices/people?search=${encodeURIComponent(`damy${tag}`)}`);
    expect(found.people.map((p) => p.userId)).toEqual([amy.userId]);
  });

  it("an auditor can read but not act", async () => {
    const refused = await auditor.call("POST", `${path(amy.userId)}/lost-phone`, { reason: "not mine to do" });
    expect(refused.status).toBe(403);
    expect(await syncStatus(unverified.client.getAccessToken() as string)).toBe(200);
  });

  it("lost phone signs out both devices (their next sync gets 401), removes the pusher, and is audited", async () => {
    const tokens = [verified.client.getAccessToken() as string, unverified.client.getAccessToken() as string];
    verified.stop();
    unverified.stop();
    const result = await admin.ok<SignOutResult>("POST", `${path(amy.userId)}/lost-phone`, { reason: "phone stolen on the ward" });
    expect(result.signedOut.sort()).toEqual([verified.client.getDeviceId(), unverified.client.getDeviceId()].sort());
    expect(result).toMatchObject({ pushersRemoved: 1, pushersRemaining: 0 });
    for (const token of tokens) expect(await syncStatus(token)).toBe(401);
    expect(await adminPushers(amy.userId)).toEqual([]);
    const [entry] = await audited("devices.lost-phone.signed-out");
    expect(entry).toMatchObject({
      actor: alice.userId,
      target: amy.userId,
      details: { reason: "phone stolen on the ward", pushersRemoved: 1, notice: "sent" },
    });
  });

  it("when Amy signs in again with a real client, the bot's notice that her sessions were ended is waiting for her, without the admin's reason", async () => {
    const again = await EncryptingClient.start(trust, amy);
    try {
      const client = again.client;
      const roomId = await eventually(
        "the bot's invitation",
        async () => client.getRooms().find((room) => room.getMyMembership() === "invite" && room.getDMInviter() === handover.botUserId)?.roomId,
      );
      await client.joinRoom(roomId);
      const notice = await eventually("the notice in the room", async () =>
        client
          .getRoom(roomId)
          ?.getLiveTimeline()
          .getEvents()
          .find((event) => event.getSender() === handover.botUserId && event.getType() === "m.room.message"),
      );
      expect(notice.getContent()).toMatchObject({ msgtype: "m.notice" });
      const body = String(notice.getContent().body);
      expect(body).toContain("ended all your Matrix sessions: every device you were signed in on was signed out");
      expect(body).toMatch(/on \d{4}-\d{2}-\d{2} at \d{2}:\d{2} UTC/);
      expect(body).not.toContain("phone stolen on the ward");
    } finally {
      again.stop();
    }
  });
});

describe("people of a ward's room", () => {
  it("the list can be narrowed to this trust's members of one room", async () => {
    const rita = await TestUser.register(trust, `dward${tag}rita`);
    const sam = await TestUser.register(trust, `dward${tag}sam`);
    await TestUser.register(trust, `dward${tag}tom`);
    const ward = await rita.createRoom("Ward 7");
    await rita.invite(ward, sam.userId);
    await sam.request("POST", `/rooms/${encodeURIComponent(ward)}/join`, {});
    const found = await auditor.ok<{ people: PersonDevices[] }>("GET", `/devices/people?room=${encodeURIComponent(ward)}`);
    expect(found.people.map((person) => person.userId).sort()).toEqual([rita.userId, sam.userId].sort());
    const searched = await auditor.ok<{ people: PersonDevices[] }>("GET", `/devices/people?room=${encodeURIComponent(ward)}&search=sam`);
    expect(searched.people.map((person) => person.userId)).toEqual([sam.userId]);
  });
});

describe("people of a directory group", () => {
  it("the list can be narrowed to the people directory sync has in a group, and a spot check can sample only them", async () => {
    const nina = await TestUser.register(trust, `dgroup${tag}nina`);
    const omar = await TestUser.register(trust, `dgroup${tag}omar`);
    const ninaId = await scimUser(nina, "Nina Nurse");
    // Omar is in the directory, but not in the group.
    await scimUser(omar, "Omar Porter");
    const group = wardGroup;
    await scim("POST", "/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: group, members: [{ value: ninaId }] });

    const inGroup = async (query: string) =>
      (await auditor.ok<{ people: PersonDevices[] }>("GET", `/devices/people?${query}`)).people.map((person) => person.userId);
    await eventually("the group to list nina", async () => (await inGroup(`group=${encodeURIComponent(group)}`)).includes(nina.userId));
    expect(await inGroup(`group=${encodeURIComponent(group)}`)).toEqual([nina.userId]);
    expect(await inGroup(`group=${encodeURIComponent(group.toLowerCase())}&search=nina`)).toEqual([nina.userId]);
    expect(await inGroup(`group=${encodeURIComponent(group)}&search=omar`)).toEqual([]);
    expect(await inGroup(`search=${encodeURIComponent(`dgroup${tag}`)}`)).toEqual(expect.arrayContaining([nina.userId, omar.userId]));

    const check = await igLead.ok<SpotCheck>("POST", "/devices/spot-checks", { share: 1, group });
    expect(check.people.map((person) => person.userId)).toEqual([nina.userId]);
    expect(check.sample).toMatchObject({ share: 1, group, outOf: 1 });
    expect((await audited("devices.spot-check.started"))[0]).toMatchObject({ actor: gina.userId, details: { spotCheck: check.id, group, outOf: 1 } });
  });

  it("a scheduled spot check limited to a directory group (devices.spotChecks.groups) samples only that group's people", async () => {
    expect(await handover.jobs.runNow(SPOT_CHECK_JOB)).toBe(true);
    const [scheduled] = (await igLead.ok<SpotCheckList>("GET", "/devices/spot-checks")).spotChecks.filter((check) => check.trigger === "scheduled");
    expect(scheduled?.sample).toMatchObject({ people: 5, group: wardGroup, outOf: 1 });
    const check = await igLead.ok<SpotCheck>("GET", `/devices/spot-checks/${scheduled?.id}`);
    expect(check.people.map((person) => person.userId)).toEqual([`@dgroup${tag}nina:${trust.serverName}`]);
    expect((await audited("devices.spot-check.started"))[0]).toMatchObject({
      actor: SCHEDULE_ACTOR,
      details: { spotCheck: check.id, trigger: "scheduled", group: wardGroup },
    });
    // Not due again until `every` has passed.
    expect(await handover.jobs.runNow(SPOT_CHECK_JOB)).toBe(true);
    expect((await igLead.ok<SpotCheckList>("GET", "/devices/spot-checks")).spotChecks.filter((c) => c.trigger === "scheduled")).toHaveLength(1);
  });
});

describe("signing out one device", () => {
  it("ends that device's session only, audited with the reason, and the person's remaining device gets the bot's notice", async () => {
    const bob = await TestUser.register(trust, `dbob${tag}`);
    const lost = await logIn(bob);
    const kept = await logIn(bob);
    await admin.ok<SignOutResult>("POST", `${path(bob.userId)}/devices/${encodeURIComponent(lost.deviceId)}/sign-out`, { reason: "old tablet handed back" });
    expect(await syncStatus(lost.accessToken)).toBe(401);
    expect(await syncStatus(kept.accessToken)).toBe(200);
    const [entry] = await audited("devices.device.signed-out");
    expect(entry).toMatchObject({
      actor: alice.userId,
      target: bob.userId,
      details: { reason: "old tablet handed back", devices: [lost.deviceId], notice: "sent" },
    });
    // Bob's remaining device is told at once.
    const told = await eventually("the notice on bob's remaining device", async () => {
      const bodies = await botMessages(kept.accessToken);
      return bodies.find((body) => body.includes(`signed out your device ${lost.deviceId}`));
    });
    expect(told).toContain("your other devices stay signed in");
    const refused = await admin.call("POST", `${path(bob.userId)}/devices/${encodeURIComponent(lost.deviceId)}/sign-out`, { reason: "again" });
    expect(refused.status).toBe(404);
  });
});

describe("ending stale sessions in bulk", () => {
  it("a sweep above the approval threshold is held and ends nothing; approval ends exactly its sessions; both audited", async () => {
    const carl = await TestUser.register(trust, `dsweep${tag}carl`);
    const dana = await TestUser.register(trust, `dsweep${tag}dana`);
    // staleAfter is 1s here: wait until both registration sessions count as stale.
    await eventually("both sessions stale", async () => {
      const found = await admin.ok<{ people: PersonDevices[] }>("GET", `/devices/people?search=${encodeURIComponent(`dsweep${tag}`)}`);
      return found.people.length === 2 && found.people.every((person) => person.staleSessions === 1);
    });
    const sweep = await admin.ok<StaleSweep>("POST", "/devices/stale-sweeps", { reason: "sessions unused for months", search: `dsweep${tag}` });
    expect(sweep.status).toBe("held");
    expect(sweep.sessions.map((session) => session.userId).sort()).toEqual([carl.userId, dana.userId].sort());
    expect(await syncStatus(carl.user.accessToken)).toBe(200);
    expect(await syncStatus(dana.user.accessToken)).toBe(200);
    expect((await audited("devices.stale-sweep.held"))[0]).toMatchObject({ actor: alice.userId, details: { sweep: sweep.id, sessions: 2, approvalAbove: 1 } });

    // A session that appears after the plan is not part of what is approved.
    const later = await logIn(carl);
    const approved = await admin.ok<StaleSweep>("POST", `/devices/stale-sweeps/${sweep.id}/approve`, { reason: "list checked with the wards" });
    expect(approved).toMatchObject({ status: "applied", decidedBy: alice.userId });
    expect(await syncStatus(carl.user.accessToken)).toBe(401);
    expect(await syncStatus(dana.user.accessToken)).toBe(401);
    expect(await syncStatus(later.accessToken)).toBe(200);
    expect((await audited("devices.stale-sweep.approved"))[0]).toMatchObject({
      actor: alice.userId,
      details: { sweep: sweep.id, reason: "list checked with the wards" },
    });
    expect((await audited("devices.stale-sweep.applied"))[0]).toMatchObject({ details: { sweep: sweep.id, sessions: 2 } });

    const again = await admin.call("POST", `/devices/stale-sweeps/${sweep.id}/approve`, { reason: "twice" });
    expect(again.status).toBe(409);
  });

  it("a sweep within the threshold applies at once", async () => {
    const erin = await TestUser.register(trust, `dsolo${tag}erin`);
    await eventually("erin's session stale", async () => {
      const found = await admin.ok<PersonDevices>("GET", path(erin.userId));
      return found.staleSessions === 1;
    });
    const sweep = await admin.ok<StaleSweep>("POST", "/devices/stale-sweeps", { reason: "one old session", search: `dsolo${tag}` });
    expect(sweep.status).toBe("applied");
    expect(await syncStatus(erin.user.accessToken)).toBe(401);
  });
});

describe("trust-wide posture", () => {
  it("a snapshot counts a new person's device and content-carrying pusher, rates each measure, and reports admin calls per person", async () => {
    const before = await admin.ok<Posture>("POST", "/devices/posture/snapshots");
    const counts = before.latest?.counts;
    expect(counts).toBeDefined();
    // The first pass reads everyone: devices and pushers of each person, plus the account pages.
    expect(before.latest?.kind).toBe("full");
    expect(before.latest?.adminCallsPerPerson).toBeGreaterThanOrEqual(2);

    const finn = await TestUser.register(trust, `dposture${tag}`);
    finnId = finn.userId;
    await finn.request("POST", "/pushers/set", {
      kind: "http",
      app_id: "org.handover.test.ios",
      app_display_name: "Test messenger",
      device_display_name: "Finn's phone",
      pushkey: `posture-${tag}`,
      lang: "en",
      data: { url: "http://127.0.0.1:9/_matrix/push/v1/notify" },
    });
    const after = await admin.ok<Posture>("POST", "/devices/posture/snapshots");
    expect(after.latest?.counts).toMatchObject({
      people: (counts?.people ?? 0) + 1,
      devices: (counts?.devices ?? 0) + 1,
      pushers: (counts?.pushers ?? 0) + 1,
      pushersCarryingContent: (counts?.pushersCarryingContent ?? 0) + 1,
    });
    // Later passes are incremental: Finn is new, so he is read.
    expect(after.latest?.kind).toBe("incremental");
    expect(after.latest?.metrics.map((metric) => metric.name)).toEqual(["devicesVerified", "pushersCarryingContent", "staleSessions", "leaversWithSessions"]);
    // One snapshot a day: the second pass today replaced the first.
    expect(after.history).toHaveLength(1);

    expect((await auditor.ok<Posture>("GET", "/devices/posture")).latest?.takenAt).toBe(after.latest?.takenAt);
    expect((await auditor.call("POST", "/devices/posture/snapshots")).status).toBe(403);
  });
});

describe("incremental posture passes and first sightings", () => {
  it("an incremental pass reads only the person who signed in on a new device (two admin calls more than a quiet pass), and shows when Handover first saw it", async () => {
    const gail = await TestUser.register(trust, `dincr${tag}`);
    await syncStatus(gail.user.accessToken);
    // The baseline: passes that read nobody for longer than Synapse's 5-second batches of
    // "last seen" writes, so no earlier test's requests are still on their way into the listing.
    // People active in the last two and a half minutes (Gail among them) are read by every pass
    // until their "last seen" has settled, so the quiet comes only after that.
    let quietSince: number | null = null;
    const quiet = await eventually(
      "passes that read nobody",
      async () => {
        const latest = (await admin.ok<Posture>("POST", "/devices/posture/snapshots")).latest;
        if (latest?.kind !== "incremental" || latest.peopleRead !== 0) quietSince = null;
        else quietSince ??= Date.now();
        return quietSince !== null && Date.now() - quietSince > 6_000 ? latest : undefined;
      },
      240_000,
    );
    const registration = (await auditor.ok<PersonDevices>("GET", path(gail.userId))).devices[0];
    expect(registration?.firstSeenAt).not.toBeNull();

    const phone = await logIn(gail);
    // The new device's first request moves the homeserver's "last seen" for Gail.
    expect(await syncStatus(phone.accessToken)).toBe(200);
    const picked = await eventually(
      "an incremental pass to count the new device",
      async () => {
        const latest = (await admin.ok<Posture>("POST", "/devices/posture/snapshots")).latest;
        return latest && latest.counts.devices === (quiet?.counts.devices ?? 0) + 1 ? latest : undefined;
      },
      60_000,
    );
    expect(picked).toMatchObject({ kind: "incremental", peopleRead: 1 });
    // The same account pages as the quiet pass, plus Gail's devices and pushers: nobody else was read.
    expect(picked.adminCalls).toBe((quiet?.adminCalls ?? 0) + 2);
    expect(picked.counts.people).toBe(quiet?.counts.people);

    const gailNow = await auditor.ok<PersonDevices>("GET", path(gail.userId));
    const seen = gailNow.devices.find((device) => device.deviceId === phone.deviceId);
    expect(Date.parse(seen?.firstSeenAt ?? "")).toBeGreaterThanOrEqual(Date.parse(picked.takenAt));
    expect(gailNow.devices.find((device) => device.deviceId === registration?.deviceId)?.firstSeenAt).toBe(registration?.firstSeenAt);
    // Watching started with the first pass of this trust, before Gail existed.
    expect(Date.parse(gailNow.watchingSince ?? "")).toBeLessThan(Date.parse(registration?.firstSeenAt ?? ""));
  }, 300_000);

  it("a pusher carrying content set up within two minutes of the person's recorded last-seen, which Synapse does not record again, is counted by the next incremental pass", async () => {
    const hana = await TestUser.register(trust, `dsettle${tag}`);
    // Hana's first request: Synapse records her "last seen" now and, for the same token and
    // address, records nothing more for two minutes (its LAST_SEEN_GRANULARITY).
    expect(await syncStatus(hana.user.accessToken)).toBe(200);
    await eventually("Hana's last-seen in the account listing", async () => (await listedLastSeen(hana.userId)) !== null);
    const base = (await admin.ok<Posture>("POST", "/devices/posture/snapshots")).latest;
    const seenBefore = await listedLastSeen(hana.userId);

    await hana.request("POST", "/pushers/set", {
      kind: "http",
      app_id: "org.handover.test.android",
      app_display_name: "Test messenger",
      device_display_name: "Hana's phone",
      pushkey: `settle-${tag}`,
      lang: "en",
      data: { url: "http://127.0.0.1:9/_matrix/push/v1/notify" },
    });
    expect(await adminPushers(hana.userId)).toHaveLength(1);
    // What makes it a hazard: the listing Handover decides by has not moved.
    expect(await listedLastSeen(hana.userId)).toBe(seenBefore);

    const after = (await admin.ok<Posture>("POST", "/devices/posture/snapshots")).latest;
    expect(after?.kind).toBe("incremental");
    expect(after?.counts).toMatchObject({
      pushers: (base?.counts.pushers ?? 0) + 1,
      pushersCarryingContent: (base?.counts.pushersCarryingContent ?? 0) + 1,
    });
  });
});

describe("spot checks", () => {
  it("an IG lead samples people, each with the homeserver's findings; records a checklist outcome; CSV and PDF exports; all audited", async () => {
    const check = await igLead.ok<SpotCheck>("POST", "/devices/spot-checks", { share: 1 });
    expect(check.trigger).toBe("on-demand");
    expect(check.people).toHaveLength(check.sample.outOf);
    const finn = check.people.find((person) => person.userId === finnId);
    expect(finn?.meetsServerPolicy).toBe(false);
    expect(finn?.findings).toContain("pusher Test messenger on Finn's phone carries message content");
    // Handover's own admin account is never sampled (nor signed out).
    expect(check.people.map((person) => person.userId)).not.toContain(trust.admin.userId);

    const outcome = {
      checklist: { screenLock: "yes", photoLibraryUnlinked: "yes", lockScreenPreviewsOff: "no" },
      outcome: "action-needed",
      note: "previews on",
    };
    expect((await admin.call("PUT", `/devices/spot-checks/${check.id}/people/${encodeURIComponent(finnId)}`, outcome)).status).toBe(403);
    expect((await auditor.call("PUT", `/devices/spot-checks/${check.id}/people/${encodeURIComponent(finnId)}`, outcome)).status).toBe(403);
    const recorded = await igLead.ok<SpotCheck>("PUT", `/devices/spot-checks/${check.id}/people/${encodeURIComponent(finnId)}`, outcome);
    expect(recorded.recorded).toBe(1);
    expect(recorded.people.find((person) => person.userId === finnId)).toMatchObject({
      outcome: "action-needed",
      recordedBy: gina.userId,
      note: "previews on",
    });

    const csv = await auditor.fetch(`/devices/spot-checks/${check.id}/csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const finnRow = (await csv.text()).split("\r\n").find((line) => line.includes(finnId));
    expect(finnRow).toContain("yes,yes,no,action-needed,previews on");
    const pdf = await auditor.ok<SpotCheckPdf>("GET", `/devices/spot-checks/${check.id}/pdf`);
    expect(Buffer.from(pdf.data, "base64").subarray(0, 5).toString()).toBe("%PDF-");

    expect((await audited("devices.spot-check.started"))[0]).toMatchObject({ actor: gina.userId, details: { spotCheck: check.id, trigger: "on-demand" } });
    expect((await audited("devices.spot-check.outcome-recorded"))[0]).toMatchObject({
      actor: gina.userId,
      target: finnId,
      details: { outcome: "action-needed" },
    });
    expect((await audited("devices.spot-check.exported")).map((entry) => [entry.actor, entry.details.format])).toEqual([
      [ivy.userId, "pdf"],
      [ivy.userId, "csv"],
    ]);
    expect((await auditor.call("POST", "/devices/spot-checks", { people: 1 })).status).toBe(403);
  });
});
