/**
 * What `npm start` puts in the demo so a newcomer sees the product work: people and classified
 * rooms on both trusts, an active federation agreement between A and B with a shared room, a
 * directory source (SCIM, as Entra ID pushes) with a rule and members, a patient in the demo
 * record system, one filed conversation and one deletion record. Everything goes through the
 * product's own doors (Matrix rooms and `!handover` commands, the portal's API, SCIM, FHIR), so
 * a demo that comes up proves them. Each step first looks for what it would make: seeding twice
 * makes nothing twice (tests/integration/demo-seed.test.ts).
 */

import type { Handover } from "../appservice/src/app.js";
import type { Agreement, AgreementList, DeletionList, DirectoryRuleList, FilingList, PolicyList } from "../appservice/src/http/contract.js";
import { login } from "../tests/harness/client.js";
import type { TrustInfo } from "../tests/harness/stack.js";
import { eventually, TestUser } from "../tests/support/matrix-user.js";
import { PortalSession } from "../tests/support/portal-session.js";
import { RecordsRoom } from "../tests/support/records-room.js";

export type DemoRole = "admin" | "ig-lead" | "auditor" | "no role";

export interface DemoTrust {
  trust: TrustInfo;
  handover: Handover;
  /** Localpart -> role; the first is the trust's admin, who owns the demo rooms. */
  people: Record<string, DemoRole>;
}

export interface DemoSeedOptions {
  a: DemoTrust;
  b: DemoTrust;
  password: string;
  /** The demo record system (FHIR R4) both trusts file to. */
  fhirBaseUrl: string;
  /** Trust A's SCIM endpoint token. */
  scimToken: string;
  /** Progress lines (default: none). */
  say?: (line: string) => void;
}

export interface DemoSeedResult {
  users: Record<"a" | "b", Record<string, TestUser>>;
  agreementId: string;
  sharedRoomId: string;
  clinicalRoomId: string;
  nursingRoomId: string;
  deletionRoomId: string;
}

/** The demo patient (a test NHS number, valid check digit, from the 999/943 test ranges). */
export const DEMO_PATIENT = { nhsNumber: "9434765919", family: "SMITH", given: "Jane", birthDate: "1980-01-02" } as const;
export const SHARED_ROOM = "Stroke network handover (A + B)";
export const NURSING_RULE = "ward-7-nursing";
const NURSING_GROUP = "Ward 7 Nursing";
const WARD_MANAGER = "Ward Manager";
const DELETION_ROOM = "Ward 7 rota archive (A)";
const NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number";

/** Registers the person, or signs in when an earlier seeding did. */
async function person(trust: TrustInfo, localpart: string, password: string): Promise<TestUser> {
  try {
    return await TestUser.register(trust, localpart, password);
  } catch (error) {
    if (!String(error).includes("M_USER_IN_USE")) throw error;
    return new TestUser(trust, await login(trust, localpart, password));
  }
}

/** A room the owner is in with this name, if an earlier seeding made it. */
async function roomNamed(owner: TestUser, name: string): Promise<string | null> {
  const { joined_rooms } = await owner.request<{ joined_rooms: string[] }>("GET", "/joined_rooms");
  for (const roomId of joined_rooms) {
    const state = await owner.state<{ name?: string }>(roomId, "m.room.name").catch(() => ({ name: undefined }));
    if (state.name === name) return roomId;
  }
  return null;
}

/** A room with the bot in it, classified by command as a member would; made once. */
async function botRoom(owner: TestUser, handover: Handover, name: string, kind: "clinical" | "operational" | null, invite: TestUser[] = []): Promise<string> {
  const roomId = (await roomNamed(owner, name)) ?? (await owner.createRoom(name, { invite: invite.map((user) => user.userId) }));
  if ((await owner.members(roomId))[handover.botUserId] !== "join") {
    await owner.invite(roomId, handover.botUserId);
    await eventually(`the bot to join ${name}`, async () => (await owner.members(roomId))[handover.botUserId] === "join");
  }
  if (kind && (await handover.rooms.get(roomId))?.kind !== kind) {
    await owner.send(roomId, `!handover classify ${kind}`);
    await eventually(`${name} to be classified ${kind}`, async () => (await handover.rooms.get(roomId))?.kind === kind);
  }
  return roomId;
}

async function joinAll(roomId: string, owner: TestUser, members: TestUser[]): Promise<void> {
  for (const member of members) {
    const memberships = await owner.members(roomId);
    if (memberships[member.userId] === "join") continue;
    if (memberships[member.userId] !== "invite") await owner.invite(roomId, member.userId);
    await member.request("POST", `/rooms/${encodeURIComponent(roomId)}/join`, {});
  }
}

/** People and rooms of one trust: a clinical ward room, its rota and a social room. */
async function seedTrust({ trust, handover, people }: DemoTrust, password: string): Promise<{ users: Record<string, TestUser>; clinical: string }> {
  const users: Record<string, TestUser> = {};
  for (const localpart of Object.keys(people)) users[localpart] = await person(trust, localpart, password);
  const [owner, ...others] = Object.values(users);
  if (!owner) throw new Error(`no people for trust ${trust.key}`);
  const letter = trust.key.toUpperCase();
  const clinical = await botRoom(owner, handover, `Ward 7 clinical (${letter})`, "clinical", others);
  await botRoom(owner, handover, `Ward 7 rota (${letter})`, "operational", others);
  await botRoom(owner, handover, `Ward 7 social (${letter})`, null, others);
  await joinAll(clinical, owner, others);
  return { users, clinical };
}

/** A proposes, B accepts in its own portal: the agreement both sides signed, once. */
async function activeAgreement(portalA: PortalSession, portalB: PortalSession, b: DemoTrust): Promise<string> {
  const fromA = async () =>
    (await portalA.ok<AgreementList>("GET", "/federation/agreements")).agreements.filter((x) => x.peer.serverName === b.trust.serverName);
  const live = (await fromA()).find((agreement) => agreement.status === "active" || agreement.status === "proposed");
  const agreementId =
    live?.id ??
    (
      await portalA.ok<Agreement>("POST", "/federation/agreements", {
        peerServerName: b.trust.serverName,
        scope: { kind: "all" },
        purpose: "Regional stroke network: shared thrombolysis handover rooms",
        reviewDate: `${new Date().getUTCFullYear() + 1}-12-01`,
        retention: "Each trust files and retains content under its own records policy (8 years).",
      })
    ).id;
  if (live?.status !== "active") {
    await eventually("B to receive A's proposal", async () =>
      (await portalB.ok<AgreementList>("GET", "/federation/agreements")).agreements.some((x) => x.id === agreementId),
    );
    await portalB.ok("POST", `/federation/agreements/${agreementId}/actions`, { action: "accept" });
  }
  await eventually("A to see the agreement active", async () => (await fromA()).some((x) => x.id === agreementId && x.status === "active"));
  return agreementId;
}

/** A clinical room on A with a colleague from B in it, once the agreement lets B's server in. */
async function sharedRoom(a: DemoTrust, owner: TestUser, guest: TestUser): Promise<string> {
  const roomId = await botRoom(owner, a.handover, SHARED_ROOM, "clinical");
  if ((await owner.members(roomId))[guest.userId] === "join") return roomId;
  // The room's server ACL and Synapse's module follow the agreement within seconds.
  await eventually("the invite to trust B to be let through", async () => owner.invite(roomId, guest.userId).then(() => true), 60_000);
  await eventually(
    "trust B's colleague to join",
    async () => {
      await guest.request("POST", `/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(a.trust.serverName)}`, {});
      return true;
    },
    60_000,
  );
  await guest.send(roomId, "Patient from our ED: CT head booked, thrombolysis window until 14:30.");
  return roomId;
}

interface ScimAnswer<T> {
  status: number;
  body: T;
}

function scimClient(handover: Handover, token: string) {
  return async <T>(method: string, path: string, body?: unknown): Promise<ScimAnswer<T>> => {
    const response = await fetch(`http://127.0.0.1:${handover.webPort}/scim/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/scim+json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`SCIM ${method} ${path} answered ${response.status}: ${text}`);
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
  };
}

/**
 * Trust A's directory as Entra ID would push it over SCIM: the ward's nurses in a group, and a
 * rule making that group the members of the ward's nursing room (force-join). The trust admin
 * who made the room must be in `directory.exempt`, or the first run would try to demote them.
 */
async function directory(a: DemoTrust, portalA: PortalSession, token: string, owner: TestUser, staff: TestUser[]): Promise<string> {
  // The rule first: the run each SCIM push starts (after `scim.syncDelay`) then finds it.
  const rules = await portalA.ok<DirectoryRuleList>("GET", "/directory/rules");
  const roomId = rules.rules.find((rule) => rule.id === NURSING_RULE)?.rooms[0] ?? (await botRoom(owner, a.handover, "Ward 7 nursing team (A)", "operational"));
  if (!rules.rules.some((rule) => rule.id === NURSING_RULE)) {
    await portalA.ok("PUT", `/directory/rules/${NURSING_RULE}`, {
      id: NURSING_RULE,
      description: "Ward 7's nurses, from Entra ID, are the members of the ward's nursing room.",
      group: NURSING_GROUP,
      attribute: null,
      rooms: [roomId],
      joinMode: "force-join",
    });
  }
  const scim = scimClient(a.handover, token);
  const domain = `${a.trust.serverName.split(":")[0]}`;
  const ids: string[] = [];
  for (const user of [owner, ...staff]) {
    const localpart = user.userId.slice(1).split(":")[0] ?? "";
    const userName = `${localpart}@${domain}`;
    const found = await scim<{ Resources: { id: string }[] }>("GET", `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
    const id =
      found.body.Resources[0]?.id ??
      (
        await scim<{ id: string }>("POST", "/Users", {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
          userName,
          active: true,
          displayName: localpart.charAt(0).toUpperCase() + localpart.slice(1),
          title: user === owner ? WARD_MANAGER : "Staff Nurse",
        })
      ).body.id;
    ids.push(id);
  }
  const groups = await scim<{ Resources: { id: string }[] }>("GET", `/Groups?filter=${encodeURIComponent(`displayName eq "${NURSING_GROUP}"`)}`);
  if (!groups.body.Resources[0]) {
    await scim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: NURSING_GROUP,
      members: ids.map((value) => ({ value })),
    });
  }
  return roomId;
}

/** The demo patient in the record system, found by NHS number before it is created. */
async function patient(fhirBaseUrl: string): Promise<void> {
  const search = await fetch(`${fhirBaseUrl}/Patient?identifier=${encodeURIComponent(`${NHS_NUMBER_SYSTEM}|${DEMO_PATIENT.nhsNumber}`)}`);
  const bundle = (await search.json()) as { entry?: unknown[] };
  if ((bundle.entry ?? []).length > 0) return;
  const created = await fetch(`${fhirBaseUrl}/Patient`, {
    method: "POST",
    headers: { "content-type": "application/fhir+json" },
    body: JSON.stringify({
      resourceType: "Patient",
      identifier: [{ system: NHS_NUMBER_SYSTEM, value: DEMO_PATIENT.nhsNumber }],
      name: [{ use: "official", family: DEMO_PATIENT.family, given: [DEMO_PATIENT.given] }],
      birthDate: DEMO_PATIENT.birthDate,
    }),
  });
  if (!created.ok) throw new Error(`the demo record system refused the patient: ${created.status} ${await created.text()}`);
}

/** A ward conversation linked to the patient by `!handover patient` and filed by `!handover file`. */
async function filedConversation(a: DemoTrust, portalA: PortalSession, roomId: string, clinician: TestUser, colleague: TestUser): Promise<void> {
  const filed = async () => (await portalA.ok<FilingList>("GET", "/records/filings")).filings.some((filing) => filing.status === "filed");
  if (await filed()) return;
  const room = new RecordsRoom(roomId, clinician, () => a.handover);
  await clinician.send(roomId, "Bed 4: Jane Smith, day 2 post hip replacement. Obs stable overnight, NEWS 1.");
  await colleague.send(roomId, "Pain 3/10 after paracetamol. Mobilised with physio to the chair.");
  await clinician.send(roomId, "Plan: continue enoxaparin, bloods in the morning, aim for discharge Thursday.");
  const before = (await room.notices()).length;
  await clinician.send(roomId, `!handover patient ${DEMO_PATIENT.nhsNumber}`);
  await room.waitForNotice((text) => text.includes("is now linked to"), "the room linked to the patient", before);
  await room.fileAndConfirm(clinician);
  await eventually("the conversation to be filed", filed, 120_000);
}

/**
 * One deletion record: a rota archive room whose room policy keeps messages 5 seconds, swept
 * once from the portal's API. The room is labelled; nothing else is that short.
 */
async function deletionRecord(a: DemoTrust, portalA: PortalSession, owner: TestUser): Promise<string> {
  const roomId = await botRoom(owner, a.handover, DELETION_ROOM, "operational");
  const deletions = async () => (await portalA.ok<DeletionList>("GET", `/retention/deletions?roomId=${encodeURIComponent(roomId)}`)).deletions;
  if ((await deletions()).length > 0) return roomId;
  const policies = await portalA.ok<PolicyList>("GET", "/retention/policies");
  if (!policies.policies.some((policy) => policy.scope.type === "room" && policy.scope.roomId === roomId)) {
    await portalA.ok("POST", "/retention/policies", {
      name: "Demo: rota archive kept 5 seconds",
      scope: { type: "room", roomId },
      maxAge: "5s",
      deleteAfterFiling: null,
    });
  }
  await owner.send(roomId, "Old rota: night shift swap agreed for last week.");
  // The policy's 5 seconds must pass before the message is due: a wait in the seeding, not a timing check.
  // Nothing is sent after it, so later sweeps find nothing more to delete until someone writes here.
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  await eventually(
    "a sweep to delete the old rota",
    async () => {
      // The sweep runs under a lock another tick may hold: asked again until it ran.
      await portalA.call("POST", "/retention/sweep");
      return (await deletions()).length > 0;
    },
    60_000,
  );
  return roomId;
}

export async function seedDemo(options: DemoSeedOptions): Promise<DemoSeedResult> {
  const say = options.say ?? (() => {});
  const { a, b, password } = options;
  say("Seeding people and rooms…");
  const seededA = await seedTrust(a, password);
  const seededB = await seedTrust(b, password);
  const [ownerA, ...staffA] = Object.values(seededA.users) as [TestUser, ...TestUser[]];
  const [ownerB, ...staffB] = Object.values(seededB.users) as [TestUser, ...TestUser[]];
  const portalA = await PortalSession.signIn(a.handover.webPort, ownerA.userId, password);
  const portalB = await PortalSession.signIn(b.handover.webPort, ownerB.userId, password);

  say("Seeding the federation agreement between A and B and a shared room…");
  const agreementId = await activeAgreement(portalA, portalB, b);
  const sharedRoomId = await sharedRoom(a, ownerA, staffB[0] ?? ownerB);

  say("Seeding trust A's directory (SCIM) and a rule…");
  const nursing = staffA.filter((user) => a.people[user.userId.slice(1).split(":")[0] ?? ""] !== "auditor");
  const nursingRoomId = await directory(a, portalA, options.scimToken, ownerA, nursing);

  say("Seeding a patient in the record system, a filed conversation and a deletion record…");
  await patient(options.fhirBaseUrl);
  await filedConversation(a, portalA, seededA.clinical, ownerA, staffA[0] ?? ownerA);
  const deletionRoomId = await deletionRecord(a, portalA, ownerA);
  return { users: { a: seededA.users, b: seededB.users }, agreementId, sharedRoomId, clinicalRoomId: seededA.clinical, nursingRoomId, deletionRoomId };
}
