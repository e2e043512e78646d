import { createHmac } from "node:crypto";
import type { Patient } from "@medplum/fhirtypes";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { ErrorResponse, PatientLookupList } from "../../appservice/src/http/contract.js";
import { PostgresPatientLookupLog } from "../../appservice/src/storage/records-lookup-store.js";
import { startFhirServer, type TestFhirServer } from "../harness/fhir-server.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";
import { RecordsRoom } from "../support/records-room.js";

/**
 * Issue 11.5: only the trust's own staff look a patient up, only in clinical rooms, at a limited
 * rate, each lookup audited with a keyed hash of the NHS number; who may confirm a filing.
 * Two trusts federate here: bea of trust B sits in trust A's clinical room.
 */
const stack = inject("stack");
const trustA = stack.trusts.a;
const trustB = stack.trusts.b;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "patient_lookup");
const AUDIT_KEY = "integration-test-lookup-audit-key-0123456789abcdef";
const MAX_LOOKUPS = 3;
const hashOf = (nhsNumber: string) => createHmac("sha256", AUDIT_KEY).update(nhsNumber).digest("hex");

let fhir: TestFhirServer;
let handover: Handover;
let db: pg.Client;
let alice: TestUser; // ward doctor, created the rooms
let bob: TestUser; // nurse on the ward
let carol: TestUser; // IG lead
let bea: TestUser; // a partner trust's clinician in trust A's room
let ward: RecordsRoom;
let rota: RecordsRoom;

async function lookupAudit(actor: string): Promise<{ details: Record<string, unknown>; text: string; target: string }[]> {
  const result = await db.query(
    "SELECT target, details, details::text AS text FROM audit_log WHERE action = 'records.patient_lookup' AND actor = $1 ORDER BY seq",
    [actor],
  );
  return result.rows as { details: Record<string, unknown>; text: string; target: string }[];
}

const linksOf = async (roomId: string) =>
  (await db.query("SELECT count(*)::int AS n FROM records_patient_links WHERE room_id = $1", [roomId])).rows[0].n as number;

async function roomWithBot(name: string, kind: "clinical" | "operational", members: TestUser[]): Promise<RecordsRoom> {
  const roomId = await alice.createRoom(name);
  const room = new RecordsRoom(roomId, alice, () => handover);
  await alice.invite(roomId, handover.botUserId);
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
  await alice.send(roomId, `!handover classify ${kind}`);
  await room.waitForNotice((text) => text === `This room is now classified as ${kind}.`, "the classification");
  for (const member of members) {
    await alice.invite(roomId, member.userId);
    await eventually(`${member.userId} to join`, async () => {
      // A partner's user names trust A's server: a join by room ID needs one over federation.
      await member.request("POST", `/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(trustA.serverName)}`, {});
      return (await alice.members(roomId))[member.userId] === "join";
    });
  }
  return room;
}

beforeAll(async () => {
  fhir = await startFhirServer();
  await fhir.repo.createResource<Patient>({
    resourceType: "Patient",
    identifier: [{ system: "https://fhir.nhs.uk/Id/nhs-number", value: "9434765919" }],
    name: [{ use: "official", family: "Smith", given: ["Jane"] }],
    birthDate: "1980-01-02",
  });
  const stamp = Date.now();
  alice = await TestUser.register(trustA, `lookup-alice${stamp}`);
  bob = await TestUser.register(trustA, `lookup-bob${stamp}`);
  carol = await TestUser.register(trustA, `lookup-carol${stamp}`);
  bea = await TestUser.register(trustB, `lookup-bea${stamp}`);
  handover = await startHandover(trustA, databaseUrl, {
    roles: { [carol.userId]: "ig-lead" },
    records: {
      destination: "fhir",
      fhir: { baseUrl: fhir.baseUrl },
      patientLookup: { auditKey: AUDIT_KEY, maxLookups: MAX_LOOKUPS, window: "1h", confirmation: "requester-if-traced" },
      retryEvery: "1s",
    },
  });
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  ward = await roomWithBot("Ward 4 handover (lookups)", "clinical", [bob, bea]);
  rota = await roomWithBot("Ward 4 rota (lookups)", "operational", [bob]);
});

afterAll(async () => {
  await handover?.stop();
  await db?.end();
  await fhir?.stop();
});

describe("patient lookups: local staff, clinical rooms, rate-limited, audited by keyed hash", () => {
  it("a partner trust's user is refused a lookup, and the audit row carries the keyed hash and not the number", async () => {
    const before = (await ward.notices()).length;
    await bea.send(ward.roomId, "!handover patient 943 476 5919");
    const refusal = await ward.waitForNotice((text) => text.startsWith("Only this trust's own staff"), "the refusal", before);
    expect(refusal).toContain(`users on ${trustA.serverName}`);
    expect(refusal).not.toContain("SMITH");
    expect(await linksOf(ward.roomId)).toBe(0);

    const [audited] = await lookupAudit(bea.userId);
    expect(audited?.target).toBe(ward.roomId);
    expect(audited?.details).toMatchObject({ outcome: "refused-not-local", via: "command", nhsNumberHash: hashOf("9434765919") });
    expect(audited?.text).not.toContain("9434765919");
  });

  it("a local user in an operational room is refused", async () => {
    const before = (await rota.notices()).length;
    await bob.send(rota.roomId, "!handover patient 9434765919");
    await rota.waitForNotice(
      (text) => text.startsWith("Patients can be looked up only in clinical rooms; this room is classified operational"),
      "the refusal",
      before,
    );
    expect(await linksOf(rota.roomId)).toBe(0);
    expect((await lookupAudit(bob.userId)).map((row) => [row.target, row.details.outcome])).toEqual([[rota.roomId, "refused-room-not-clinical"]]);
  });

  it("the lookup after maxLookups in the window is refused; each lookup is audited with who, where, outcome and keyed hash", async () => {
    for (let i = 0; i < MAX_LOOKUPS; i++) {
      const before = (await ward.notices()).length;
      await bob.send(ward.roomId, "!handover patient 943 476 5919");
      await ward.waitForNotice((text) => text.includes("SMITH, Jane (born 1980-01-02), NHS number 943 476 5919"), `lookup ${i + 1}`, before);
    }
    const before = (await ward.notices()).length;
    await bob.send(ward.roomId, "!handover patient 999 000 0018");
    await ward.waitForNotice((text) => text.startsWith(`You have looked up ${MAX_LOOKUPS} patients in the last 60 minutes`), "the rate-limit refusal", before);
    expect((await db.query("SELECT nhs_number FROM records_patient_links WHERE room_id = $1", [ward.roomId])).rows).toEqual([{ nhs_number: "9434765919" }]);

    const rows = (await lookupAudit(bob.userId)).filter((row) => row.target === ward.roomId);
    expect(rows.map((row) => row.details.outcome)).toEqual(["found", "found", "found", "refused-rate-limit"]);
    expect(rows.map((row) => row.details.nhsNumberHash)).toEqual([...Array(MAX_LOOKUPS).fill(hashOf("9434765919")), hashOf("9990000018")]);
    for (const row of rows) expect(row.text).not.toMatch(/9434765919|9990000018/);
  });
});

describe("who confirms a filing (requester-if-traced)", () => {
  it("the requester may not confirm a filing of a number the record did not find; another member does", async () => {
    await alice.send(ward.roomId, "!handover patient 999 000 0018");
    await ward.waitForNotice((text) => text.includes("999 000 0018") && text.includes("no patient with this NHS number"), "the untraced link");
    await alice.send(ward.roomId, "Bed 4: obs stable overnight.");
    const described = await ward.fileAndConfirm(alice);
    await ward.waitForNotice((text) => text.includes("was not found in the trust's record") && text.includes("another member"), "the refusal");
    expect(described).toContain(`A member of this room other than ${alice.userId} confirms with`);
    const code = /!handover confirm ([A-Z0-9]{6})/.exec(described)?.[1] ?? "";
    await bea.send(ward.roomId, `!handover confirm ${code}`);
    await ward.waitForNotice((text) => text === `Only this trust's own staff (users on ${trustA.serverName}) can confirm a filing.`, "the partner's refusal");
    const refused = await db.query("SELECT actor, details FROM audit_log WHERE action = 'records.filing_confirmation_refused' ORDER BY seq");
    expect(refused.rows.map((row) => [row.actor, row.details.policy, row.details.requestedBy])).toEqual([
      [alice.userId, "requester-if-traced", alice.userId],
      [bea.userId, "requester-if-traced", alice.userId],
    ]);
    await bob.send(ward.roomId, `!handover confirm ${code}`);
    await ward.waitForNotice((text) => text.startsWith(`Confirmed by ${bob.userId}`), "bob's confirmation");
  });

  it("the requester may confirm when the number was traced and the name and date of birth were shown", async () => {
    const before = (await ward.notices()).length;
    await alice.send(ward.roomId, "!handover patient 943 476 5919");
    await ward.waitForNotice((text) => text.includes("linked to SMITH, Jane (born 1980-01-02)"), "the traced link", before);
    await alice.send(ward.roomId, "Bed 4: discharged home.");
    const described = await ward.fileAndConfirm(alice);
    expect(described).toContain("A member of this room (you included) confirms with");
    await ward.waitForNotice((text) => text.startsWith(`Confirmed by ${alice.userId}`), "alice's own confirmation", before);
  });
});

describe("an IG lead asks who looked up a patient", () => {
  it("answers by the keyed hash of the number asked about, audits the question and refuses a bad number", async () => {
    const ig = await PortalSession.signIn(handover.webPort, carol.userId, carol.user.password);
    const answer = await ig.call<PatientLookupList>("POST", "/records/patient-lookups/search", { nhsNumber: "943-476-5919" });
    expect(answer.status).toBe(200);
    expect(answer.body.nhsNumberHash).toBe(hashOf("9434765919"));
    const seen = answer.body.lookups.map((lookup) => [lookup.actor, lookup.roomName, lookup.outcome]);
    expect(seen).toContainEqual([bea.userId, "Ward 4 handover (lookups)", "refused-not-local"]);
    expect(seen).toContainEqual([bob.userId, "Ward 4 rota (lookups)", "refused-room-not-clinical"]);
    expect(seen.filter(([actor, , outcome]) => actor === bob.userId && outcome === "found")).toHaveLength(MAX_LOOKUPS);
    expect(seen).toContainEqual([alice.userId, "Ward 4 handover (lookups)", "found"]);
    expect(seen.some(([actor]) => actor === carol.userId)).toBe(false);

    const lookupsTable = await db.query("SELECT * FROM records_patient_lookups");
    expect(JSON.stringify(lookupsTable.rows)).not.toMatch(/9434765919|9990000018/);
    const asked = await db.query("SELECT details FROM audit_log WHERE action = 'records.patient_lookups_searched' AND actor = $1", [carol.userId]);
    expect(asked.rows).toEqual([{ details: { nhsNumberHash: hashOf("9434765919"), found: answer.body.lookups.length } }]);

    expect((await ig.call<ErrorResponse>("POST", "/records/patient-lookups/search", { nhsNumber: "943 476 5918" })).status).toBe(400);

    // The portal's link form is a lookup too: same rules, same audit.
    const inRota = await ig.call<ErrorResponse>("PUT", `/records/rooms/${encodeURIComponent(rota.roomId)}/patient`, { nhsNumber: "9434765919" });
    expect(inRota.status).toBe(403);
    expect(inRota.body.error.message).toMatch(/^Patients can be looked up only in clinical rooms/);
    expect((await lookupAudit(carol.userId)).map((row) => [row.target, row.details.via, row.details.outcome])).toEqual([
      [rota.roomId, "portal", "refused-room-not-clinical"],
    ]);
  });

  it("two lookups by one person at once cannot both take the last one", async () => {
    const log = new PostgresPatientLookupLog(handover.db);
    const entry = {
      actor: "@racer:trust-a.test",
      roomId: ward.roomId,
      threadRootId: null,
      nhsNumberHash: hashOf("9434765919"),
      outcome: "pending" as const,
      via: "command" as const,
      at: new Date(),
    };
    const ids = await Promise.all(Array.from({ length: 6 }, () => log.addWithinLimit(entry, new Date(Date.now() - 60_000), 2)));
    expect(ids.filter((id) => id !== null)).toHaveLength(2);
  });
});
