import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Communication, DocumentReference, Patient } from "@medplum/fhirtypes";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { ENCRYPTED_ROOM_MESSAGE } from "../../appservice/src/domain/records/transcript.js";
import { API, type ErrorResponse } from "../../appservice/src/http/contract.js";
import { startFhirServer, type TestFhirServer } from "../harness/fhir-server.js";
import { freshDatabase } from "../support/fresh-database.js";
import { type InstanceOptions, startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";
import { generatePng } from "../support/records-fixtures.js";
import { CLINICAL_ROOM, CLINICAL_STATE } from "../support/records-room.js";

const run = promisify(execFile);
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "records");
const NHS = "https://fhir.nhs.uk/Id/nhs-number";

let fhir: TestFhirServer;
let handover: Handover;
let alice: TestUser; // ward doctor, admin in Handover
let bob: TestUser; // nurse in the room
let roomId: string;
let db: pg.Client;
let options: InstanceOptions;

async function notices(room: string): Promise<string[]> {
  return (await alice.messages(room, 200)).filter((event) => event.sender === handover.botUserId).map((event) => String(event.content.body));
}

async function waitForNotice(room: string, test: (text: string) => boolean, what: string): Promise<string> {
  return eventually(what, async () => (await notices(room)).find(test), 60_000);
}

async function sendContent(user: TestUser, room: string, content: Record<string, unknown>): Promise<string> {
  const txn = `r${Date.now()}${Math.random().toString(36).slice(2)}`;
  const { event_id } = await user.request<{ event_id: string }>("PUT", `/rooms/${encodeURIComponent(room)}/send/m.room.message/${txn}`, content);
  return event_id;
}

async function uploadPng(user: TestUser): Promise<string> {
  const response = await fetch(`${trust.clientUrl}/_matrix/media/v3/upload?filename=wound.png`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.user.accessToken}`, "content-type": "image/png" },
    body: Buffer.from(generatePng(240, 160, 7)),
  });
  expect(response.ok).toBe(true);
  return ((await response.json()) as { content_uri: string }).content_uri;
}

async function documentsFor(nhsNumber: string): Promise<DocumentReference[]> {
  return fhir.search<DocumentReference>("DocumentReference", { "subject:identifier": `${NHS}|${nhsNumber}` });
}

/** Asks for a filing by command and confirms it as `confirmer`; answers the export's confirmation code. */
async function fileAndConfirm(room: string, confirmer: TestUser): Promise<string> {
  const before = (await notices(room)).length;
  await alice.send(room, "!handover file");
  const described = await eventually(
    "the bot to describe the filing",
    async () => (await notices(room)).slice(before).find((text) => text.startsWith("Ready to file") || text.includes("nothing new")),
    60_000,
  );
  const code = /!handover confirm ([A-Z0-9]{6})/.exec(described)?.[1];
  if (!code) throw new Error(`no confirmation code in: ${described}`);
  await confirmer.send(room, `!handover confirm ${code}`);
  return code;
}

beforeAll(async () => {
  fhir = await startFhirServer();
  await fhir.repo.createResource<Patient>({
    resourceType: "Patient",
    identifier: [{ system: NHS, value: "9434765919" }],
    name: [{ use: "official", family: "Smith", given: ["Jane"] }],
    birthDate: "1980-01-02",
  });
  const stamp = Date.now();
  alice = await TestUser.register(trust, `rec-alice${stamp}`);
  bob = await TestUser.register(trust, `rec-bob${stamp}`);
  options = {
    roles: { [alice.userId]: "admin" },
    records: {
      destination: "fhir",
      fhir: { baseUrl: fhir.baseUrl },
      custodianOdsCode: "RXX",
      retryEvery: "1s",
      retryInitialDelay: "1s",
      retryMaxDelay: "2s",
      attemptLease: "5s",
    },
  };
  handover = await startHandover(trust, databaseUrl, options);
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  roomId = await alice.createRoom("Ward 9 bay 3", CLINICAL_ROOM);
  await alice.invite(roomId, handover.botUserId);
  await alice.invite(roomId, bob.userId);
  await bob.request("POST", `/rooms/${encodeURIComponent(roomId)}/join`, {});
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
});

afterAll(async () => {
  await handover?.stop();
  await db?.end();
  await fhir?.stop();
});

describe("EHR filing against a real Synapse and a real FHIR server", () => {
  it("refuses invalid NHS numbers, changing nothing, and links a valid one with the patient's name and date of birth", async () => {
    await alice.send(roomId, "!handover patient 9876544321");
    await waitForNotice(roomId, (text) => text.includes("check digit does not match"), "the check-digit refusal");
    await alice.send(roomId, "!handover patient 123");
    await waitForNotice(roomId, (text) => text.startsWith("An NHS number has 10 digits"), "the length refusal");
    expect((await db.query("SELECT count(*)::int AS n FROM records_patient_links WHERE room_id = $1", [roomId])).rows[0].n).toBe(0);

    await alice.send(roomId, "!handover patient 9990000018");
    await waitForNotice(roomId, (text) => text.includes("999 000 0018") && text.includes("no patient with this NHS number"), "the link to an unknown patient");
    await alice.send(roomId, "!handover patient 943 476 5919");
    await waitForNotice(roomId, (text) => text.includes("SMITH, Jane (born 1980-01-02), NHS number 943 476 5919"), "the link with name and date of birth");

    const audit = await db.query("SELECT details::text AS details FROM audit_log WHERE action = 'records.patient_linked' AND target = $1", [roomId]);
    expect(audit.rows.length).toBe(2);
    for (const row of audit.rows) expect(row.details).not.toMatch(/9434765919|9990000018/);
  });

  it("files text, a reply, an edit and an image once a member confirms; the FHIR server returns it by NHS number", async () => {
    const first = await alice.send(roomId, "Obs stable overnight, NEWS 2. Plan: continue IV co-amoxiclav.");
    await sendContent(bob, roomId, {
      msgtype: "m.text",
      body: "> <@alice> Obs stable overnight\n\nAgreed, bloods due at 10:00.",
      "m.relates_to": { "m.in_reply_to": { event_id: first } },
    });
    const typo = await alice.send(roomId, "Wound dressing chnaged");
    await sendContent(alice, roomId, {
      msgtype: "m.text",
      body: "* Wound dressing changed",
      "m.new_content": { msgtype: "m.text", body: "Wound dressing changed, site clean." },
      "m.relates_to": { rel_type: "m.replace", event_id: typo },
    });
    const url = await uploadPng(alice);
    await sendContent(alice, roomId, { msgtype: "m.image", body: "wound.png", url, info: { mimetype: "image/png", w: 240, h: 160 } });

    await fileAndConfirm(roomId, bob);
    const filed = await waitForNotice(roomId, (text) => text.startsWith("Filed to the record as DocumentReference/"), "the filed notice");
    expect(filed).toContain(`by ${bob.userId}`);
    expect((await notices(roomId)).some((text) => text.startsWith("Ready to file 4 messages") && text.includes("SMITH, Jane (born 1980-01-02)"))).toBe(true);

    const documents = await documentsFor("9434765919");
    expect(documents).toHaveLength(1);
    const document = documents[0] as DocumentReference;
    expect(filed).toContain(`DocumentReference/${document.id}`);
    expect(document).toMatchObject({ status: "current", docStatus: "final", subject: { identifier: { system: NHS, value: "9434765919" } } });
    // Found by a Patient search when linked: verified against the record (UK Core code 01), on the
    // contained UKCore-Patient (the extension's context is Patient.identifier).
    expect(document.subject?.reference).toBe("#patient");
    const patient = document.contained?.[0] as Patient;
    expect(patient.identifier?.[0]?.extension?.[0]?.valueCodeableConcept?.coding?.[0]?.code).toBe("01");
    const communications = await fhir.search<Communication>("Communication", { "subject:identifier": `${NHS}|9434765919` });
    expect(communications.map((c) => c.payload?.[0]?.contentString)).toEqual([
      "Obs stable overnight, NEWS 2. Plan: continue IV co-amoxiclav.",
      "Agreed, bloods due at 10:00.",
      expect.stringMatching(/^Wound dressing changed, site clean\. \(edited /),
      "Image: wound.png (embedded in the filed PDF)",
    ]);
    expect(communications[1]?.inResponseTo?.[0]?.reference).toBe(`Communication/${communications[0]?.id}`);

    const dir = mkdtempSync(join(tmpdir(), "handover-records-"));
    const pdfPath = join(dir, "filed.pdf");
    writeFileSync(pdfPath, Buffer.from(document.content[0]?.attachment.data ?? "", "base64"));
    await run("qpdf", ["--check", pdfPath]);
    expect((await run("pdfinfo", [pdfPath])).stdout).toMatch(/Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)/);
    const metadata = (await run("pdfinfo", ["-meta", pdfPath])).stdout;
    expect(metadata).toMatch(/<pdfaid:part>3<\/pdfaid:part>/);
    expect(metadata).toMatch(/<pdfaid:conformance>B<\/pdfaid:conformance>/);
    const text = (await run("pdftotext", [pdfPath, "-"])).stdout;
    expect(text).toContain("Patient NHS number: 943 476 5919");
    expect(text).toContain("Obs stable overnight, NEWS 2");
    expect(text).toContain("In reply to");
    expect(text).toContain("Wound dressing changed, site clean.");
    expect(text).toContain(alice.userId);
    expect((await run("pdfimages", ["-list", pdfPath])).stdout.split("\n").length).toBeGreaterThan(3);
    expect((await run("pdfdetach", ["-list", pdfPath])).stdout).toContain("filing-bundle.json");

    const ranges = await db.query("SELECT * FROM filed_ranges WHERE room_id = $1", [roomId]);
    expect(ranges.rows).toHaveLength(1);
  });

  it("filing again finds nothing new, and resending the same bundle leaves one DocumentReference", async () => {
    await alice.send(roomId, "!handover file");
    await waitForNotice(roomId, (text) => text === "There is nothing new to file since the last filing.", "nothing new");
    const { rows } = await db.query("SELECT d.bundle_json FROM records_filed_documents d JOIN records_filings f USING (export_id) WHERE f.room_id = $1", [
      roomId,
    ]);
    const resend = await fetch(fhir.baseUrl, { method: "POST", headers: { "content-type": "application/fhir+json" }, body: rows[0].bundle_json });
    expect(resend.status).toBe(200);
    expect(await documentsFor("9434765919")).toHaveLength(1);
  });

  it("record system down: nothing recorded as filed, the room is told, and a later retry files it", async () => {
    const rangesBefore = (await db.query("SELECT count(*)::int AS n FROM filed_ranges WHERE room_id = $1", [roomId])).rows[0].n;
    fhir.mode = "down";
    await alice.send(roomId, "Escalated to the outreach team at 14:10.");
    await fileAndConfirm(roomId, alice);
    await waitForNotice(roomId, (text) => text.startsWith("Filing to the record failed (attempt 1)") && text.includes("HTTP 503"), "the failure notice");
    const filing = (await db.query("SELECT status FROM records_filings WHERE room_id = $1 ORDER BY requested_at DESC LIMIT 1", [roomId])).rows[0];
    expect(filing.status).toBe("retrying");
    expect((await db.query("SELECT count(*)::int AS n FROM filed_ranges WHERE room_id = $1", [roomId])).rows[0].n).toBe(rangesBefore);

    fhir.mode = "up";
    await waitForNotice(roomId, (text) => text.includes("Filed to the record") && text.includes("(1 messages)"), "the filed notice after the retry");
    expect(await documentsFor("9434765919")).toHaveLength(2);
    expect((await db.query("SELECT count(*)::int AS n FROM filed_ranges WHERE room_id = $1", [roomId])).rows[0].n).toBe(rangesBefore + 1);
  });

  it("a crash between sending and storing the receipt, then a restart, still leaves exactly one DocumentReference", async () => {
    fhir.mode = "accept-then-drop";
    await alice.send(roomId, "Patient transferred to ward 4.");
    await fileAndConfirm(roomId, alice);
    await waitForNotice(roomId, (text) => text.includes("Filing to the record failed (attempt 1)"), "the lost answer");
    const { export_id: exportId } = (await db.query("SELECT export_id FROM records_filings WHERE room_id = $1 ORDER BY requested_at DESC LIMIT 1", [roomId]))
      .rows[0];
    // The record system has it; Handover never stored a receipt. Stop Handover, and leave the
    // filing as a process that died mid-send would: status sending, its lease run out.
    await handover.stop();
    expect(await fhir.search<DocumentReference>("DocumentReference", { identifier: `https://trust-a.test/Id/handover-export|${exportId}` })).toHaveLength(1);
    await db.query("UPDATE records_filings SET status = 'sending', next_attempt_at = now() - interval '1 second' WHERE export_id = $1", [exportId]);
    fhir.mode = "up";
    handover = await startHandover(trust, databaseUrl, options);
    await eventually(
      "the filing to be completed after the restart",
      async () => (await db.query("SELECT status FROM records_filings WHERE export_id = $1", [exportId])).rows[0].status === "filed",
      60_000,
    );
    expect(await fhir.search<DocumentReference>("DocumentReference", { identifier: `https://trust-a.test/Id/handover-export|${exportId}` })).toHaveLength(1);
    expect(await documentsFor("9434765919")).toHaveLength(3);
  });

  it("refuses to file an end-to-end encrypted room, with a clear message and no filing", async () => {
    const encrypted = await alice.createRoom("Ward 9 encrypted", {
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }, CLINICAL_STATE],
    });
    await alice.invite(encrypted, handover.botUserId);
    await eventually("the bot to join", async () => (await alice.members(encrypted))[handover.botUserId] === "join");
    await alice.send(encrypted, "!handover patient 9434765919");
    await waitForNotice(encrypted, (text) => text.includes("is now linked"), "the link");
    await alice.send(encrypted, "!handover file");
    await waitForNotice(encrypted, (text) => text === ENCRYPTED_ROOM_MESSAGE, "the encryption refusal");
    expect((await db.query("SELECT count(*)::int AS n FROM records_filings WHERE room_id = $1", [encrypted])).rows[0].n).toBe(0);
  });

  it("portal: lists filings with receipts, refuses a bad NHS number, downloads the filed PDF (audited)", async () => {
    const portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
    const refused = await portal.call(API.linkPatient, { params: { roomId }, body: { nhsNumber: "9876544321" } });
    expect(refused.status).toBe(400);
    expect((refused.body as ErrorResponse).error.code).toBe("VALIDATION_FAILED");

    const list = await portal.ok(API.listFilings);
    const ours = list.filings.filter((filing) => filing.roomId === roomId && filing.status === "filed");
    expect(ours).toHaveLength(3);
    expect(ours[0]?.receipt?.documentReference).toMatch(/^DocumentReference\//);
    const pdf = await portal.ok(API.downloadFiledPdf, { params: { exportId: ours[0]?.exportId ?? "" } });
    expect(Buffer.from(pdf.data, "base64").subarray(0, 5).toString()).toBe("%PDF-");
    const audit = await db.query("SELECT actor FROM audit_log WHERE action = 'records.pdf_downloaded' AND details->>'exportId' = $1", [ours[0]?.exportId]);
    expect(audit.rows).toEqual([{ actor: alice.userId }]);
  });

  it("a bundle kept by an earlier version that fails UK Core's profiles is composed again before it is sent", async () => {
    fhir.mode = "down";
    await alice.send(roomId, "Handover to the night team: obs four-hourly.");
    await fileAndConfirm(roomId, alice);
    await waitForNotice(roomId, (text) => text.includes("Filing to the record failed (attempt 1)") && text.includes("unavailable"), "the first failure");
    await handover.stop();
    const { export_id: exportId } = (await db.query("SELECT export_id FROM records_filings WHERE room_id = $1 ORDER BY requested_at DESC LIMIT 1", [roomId]))
      .rows[0];
    // What the earlier builder kept: the verification status on the reference's identifier, no contained Patient.
    const kept = JSON.parse((await db.query("SELECT bundle_json FROM records_filed_documents WHERE export_id = $1", [exportId])).rows[0].bundle_json);
    const document = kept.entry[0].resource;
    const extension = document.contained[0].identifier[0].extension;
    delete document.contained;
    for (const entry of kept.entry) entry.resource.subject = { identifier: { extension, system: NHS, value: "9434765919" } };
    await db.query("UPDATE records_filed_documents SET bundle_json = $2 WHERE export_id = $1", [exportId, JSON.stringify(kept)]);
    await db.query("UPDATE records_filings SET status = 'retrying', next_attempt_at = now() - interval '1 second' WHERE export_id = $1", [exportId]);
    fhir.mode = "up";
    handover = await startHandover(trust, databaseUrl, options);
    await eventually(
      "the filing to be completed after the restart",
      async () => (await db.query("SELECT status FROM records_filings WHERE export_id = $1", [exportId])).rows[0].status === "filed",
      60_000,
    );
    const [filed] = await fhir.search<DocumentReference>("DocumentReference", { identifier: `https://trust-a.test/Id/handover-export|${exportId}` });
    expect(filed?.subject?.reference).toBe("#patient");
    expect((filed?.contained?.[0] as Patient | undefined)?.identifier?.[0]?.extension?.[0]?.url).toBe(extension[0].url);
    const replaced = JSON.parse((await db.query("SELECT bundle_json FROM records_filed_documents WHERE export_id = $1", [exportId])).rows[0].bundle_json);
    expect(replaced.entry[0].resource.contained).toHaveLength(1);
  });
});
