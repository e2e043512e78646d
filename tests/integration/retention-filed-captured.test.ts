import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Communication, DocumentReference, Patient } from "@medplum/fhirtypes";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { DeletionList, PolicyDraftInput, RoomRetention } from "../../appservice/src/http/contract.js";
import { SWEEP_JOB } from "../../appservice/src/retention/capability.js";
import { startFhirServer, type TestFhirServer } from "../harness/fhir-server.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";
import { RecordsRoom } from "../support/records-room.js";

/**
 * Issue 11.1: retention treats an event as filed only when the filing holds its content. A
 * filing that lists a message it could not capture (here a file whose bytes could not be read)
 * must not release that message, or anything after it, to the delete-after-filing rule.
 */
const run = promisify(execFile);
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "filed_captured");
const NHS = "https://fhir.nhs.uk/Id/nhs-number";

let fhir: TestFhirServer;
let handover: Handover;
let alice: TestUser; // admin: files, sets policies
let bob: TestUser; // nurse, confirms filings
let portal: PortalSession; // alice, signed in
const db = new pg.Client({ connectionString: databaseUrl });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const call = <T>(method: string, path: string, body?: unknown) => portal.call<T>(method, path, body);

async function sendContent(user: TestUser, roomId: string, content: Record<string, unknown>): Promise<string> {
  const txn = `fc${Date.now()}${Math.random().toString(36).slice(2)}`;
  return (await user.request<{ event_id: string }>("PUT", `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, content)).event_id;
}

async function upload(user: TestUser, name: string, type: string, bytes: Uint8Array): Promise<string> {
  const response = await fetch(`${trust.clientUrl}/_matrix/media/v3/upload?filename=${name}`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.user.accessToken}`, "content-type": type },
    body: Buffer.from(bytes),
  });
  expect(response.ok).toBe(true);
  return ((await response.json()) as { content_uri: string }).content_uri;
}

/** A clinical room with a patient linked and a room policy, as alice, with bob and the bot in it. */
async function clinicalRoom(name: string, rules: Partial<PolicyDraftInput>): Promise<RecordsRoom> {
  const roomId = await alice.createRoom(`${name} ${Date.now()}`);
  await alice.invite(roomId, handover.botUserId);
  await alice.invite(roomId, bob.userId);
  await bob.request("POST", `/rooms/${encodeURIComponent(roomId)}/join`, {});
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
  const room = new RecordsRoom(roomId, alice, () => handover);
  await alice.send(roomId, "!handover classify clinical");
  await eventually("the classification", async () => (await handover.rooms.get(roomId))?.kind === "clinical");
  await alice.send(roomId, "!handover patient 943 476 5919");
  await room.waitForNotice((text) => text.includes("943 476 5919"), "the patient link");
  const created = await call("POST", "/retention/policies", {
    name: `Policy ${name}`,
    scope: { type: "room", roomId },
    maxAge: null,
    deleteAfterFiling: null,
    ...rules,
  });
  expect(created.status).toBe(201);
  return room;
}

/** A file message whose bytes no one can read: the media does not exist on the server. */
function unreadableFile(name: string): Record<string, unknown> {
  return {
    msgtype: "m.file",
    body: name,
    url: `mxc://${trust.serverName}/gone${Date.now()}${Math.random().toString(36).slice(2, 8)}`,
    info: { mimetype: "application/pdf" },
  };
}

async function fileAndWait(room: RecordsRoom): Promise<void> {
  const before = (await room.notices()).length;
  await room.fileAndConfirm(bob);
  await room.waitForNotice((text) => text.startsWith("Filed to the record as DocumentReference/"), "the filed notice", before);
}

async function sweepWhenIndexed(eventIds: string[]): Promise<void> {
  await eventually("the messages indexed", async () => {
    const { rows } = await db.query("SELECT count(*)::int AS n FROM retention_events WHERE event_id = ANY($1)", [eventIds]);
    return rows[0].n === eventIds.length;
  });
  expect(await handover.jobs.runNow(SWEEP_JOB)).toBe(true);
}

const bodies = async (roomId: string) =>
  (await bob.messages(roomId, 200)).filter((event) => event.sender !== handover.botUserId).map((event) => String(event.content.body));
const plan = async (roomId: string) => (await call<RoomRetention>("GET", `/retention/rooms/${encodeURIComponent(roomId)}`)).body;
const deletions = async (roomId: string) => (await call<DeletionList>("GET", `/retention/deletions?roomId=${encodeURIComponent(roomId)}`)).body.deletions;

beforeAll(async () => {
  fhir = await startFhirServer();
  await fhir.repo.createResource<Patient>({
    resourceType: "Patient",
    identifier: [{ system: NHS, value: "9434765919" }],
    name: [{ family: "Smith", given: ["Jane"] }],
  });
  const stamp = Date.now();
  alice = await TestUser.register(trust, `fc-alice${stamp}`);
  bob = await TestUser.register(trust, `fc-bob${stamp}`);
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "admin" },
    records: { destination: "fhir", fhir: { baseUrl: fhir.baseUrl }, retryEvery: "1s", retryInitialDelay: "1s", retryMaxDelay: "2s", maxAttachmentBytes: 1024 },
    retention: { sweepInterval: "1h", purgePollInterval: "200ms", warningGranularity: "1s" },
  });
  await db.connect();
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
}, 120_000);

afterAll(async () => {
  await handover?.stop();
  await db.end();
  await fhir?.stop();
});

describe("filed means captured: retention against a real Synapse, PostgreSQL and FHIR server", () => {
  it("keeps a filed conversation's files the filing could not capture (unreadable, too large), and everything after them, past the after-filing delay", async () => {
    const room = await clinicalRoom("Ward 5 bay 2", { deleteAfterFiling: "2s" });
    const referral = await upload(alice, "referral.pdf", "application/pdf", Buffer.from("%PDF-1.4\n% referral letter for Mrs Smith\n%%EOF\n"));
    const dictation = await upload(bob, "dictation.ogg", "audio/ogg", new Uint8Array(4096).fill(7));
    const admitted = await alice.send(room.roomId, "Admitted with cellulitis, left leg.");
    const reaction = { "m.relates_to": { rel_type: "m.annotation", event_id: admitted, key: "👍" } };
    const sent = [
      admitted,
      (await bob.request<{ event_id: string }>("PUT", `/rooms/${encodeURIComponent(room.roomId)}/send/m.reaction/fc${Date.now()}`, reaction)).event_id,
      await sendContent(alice, room.roomId, { msgtype: "m.file", body: "referral.pdf", url: referral, info: { mimetype: "application/pdf" } }),
      await sendContent(bob, room.roomId, unreadableFile("scan.pdf")),
      await sendContent(bob, room.roomId, { msgtype: "m.audio", body: "dictation.ogg", url: dictation, info: { mimetype: "audio/ogg" } }),
      await bob.send(room.roomId, "Plan: IV flucloxacillin, mark the margins."),
    ];
    await fileAndWait(room);

    await sleep(2_500);
    await sweepWhenIndexed(sent);

    expect(await bodies(room.roomId)).toEqual(expect.arrayContaining(["scan.pdf", "dictation.ogg", "Plan: IV flucloxacillin, mark the margins."]));
    expect(await bodies(room.roomId)).not.toContain("Admitted with cellulitis, left leg.");
    expect(await bodies(room.roomId)).not.toContain("referral.pdf");
    const [record] = await deletions(room.roomId);
    expect(record).toMatchObject({ unfiledEvents: 0 });
    expect(await plan(room.roomId)).toMatchObject({ status: "nothing-due" });
    expect((await plan(room.roomId)).unfiledEvents).toBeGreaterThanOrEqual(2);
    expect((await plan(room.roomId)).reason).toMatch(/kept until/);

    const [document] = await fhir.search<DocumentReference>("DocumentReference", { "subject:identifier": `${NHS}|9434765919` });
    const communications = await fhir.search<Communication>("Communication", { "subject:identifier": `${NHS}|9434765919` });
    expect(communications.map((c) => c.payload?.[0]?.contentString)).toEqual([
      "Admitted with cellulitis, left leg.",
      "File: referral.pdf (embedded in the filed PDF)",
      "File: scan.pdf (not captured: could not be retrieved)",
      "File: dictation.ogg (not captured: larger than the 1024 bytes limit)",
      "Plan: IV flucloxacillin, mark the margins.",
    ]);
    expect(communications[0]?.note?.[0]).toMatchObject({ text: "Reacted 👍", authorString: expect.stringContaining(bob.userId.slice(1)) });
    expect(document?.content.map((content) => content.attachment.title)).toEqual([expect.stringContaining("Conversation in"), "referral.pdf"]);
    expect(document?.content[1]?.attachment).toMatchObject({ contentType: "application/pdf", size: 47 });
    const pdfPath = join(mkdtempSync(join(tmpdir(), "handover-captured-")), "filed.pdf");
    writeFileSync(pdfPath, Buffer.from(document?.content[0]?.attachment.data ?? "", "base64"));
    await run("qpdf", ["--check", pdfPath]);
    const attached = (await run("pdfdetach", ["-list", pdfPath])).stdout;
    expect(attached).toContain("filing-bundle.json");
    expect(attached).toContain("referral.pdf");
    const text = (await run("pdftotext", [pdfPath, "-"])).stdout;
    expect(text).toContain("scan.pdf (not captured: could not be retrieved)");
    expect(text).toMatch(/Reactions: U\+1F44D /);
    expect(text).toContain("dictation.ogg (not captured: larger than the 1024 bytes limit)");
  });

  it("with a policy allowing unfiled deletion at maximum age, warns before deleting the uncaptured file and counts it as unfiled", async () => {
    const room = await clinicalRoom("Ward 7 side room", { maxAge: "8s", deleteAfterFiling: "1s", allowUnfiledDeletion: true, warnBefore: "3s" });
    const sent = [await alice.send(room.roomId, "Swab taken, MRSA screen sent."), await sendContent(bob, room.roomId, unreadableFile("photo-consent.pdf"))];
    await fileAndWait(room);
    await sleep(1_500);
    await sweepWhenIndexed(sent);
    expect(await bodies(room.roomId)).toContain("photo-consent.pdf");
    expect(await bodies(room.roomId)).not.toContain("Swab taken, MRSA screen sent.");
    expect(await deletions(room.roomId)).toEqual([expect.objectContaining({ unfiledEvents: 0 })]);

    const due = await eventually(
      "the uncaptured file to come due after its warning",
      async () => {
        expect(await handover.jobs.runNow(SWEEP_JOB)).toBe(true);
        return (await bodies(room.roomId)).includes("photo-consent.pdf") ? undefined : true;
      },
      60_000,
    );
    expect(due).toBe(true);
    const texts = (await bob.messages(room.roomId, 200)).filter((event) => event.sender === handover.botUserId).map((event) => String(event.content.body));
    const warned = texts.findIndex((text) => text.includes("have not been filed") || text.includes("has not been filed"));
    expect(warned).toBeGreaterThanOrEqual(0);
    expect(warned).toBeLessThan(texts.findLastIndex((text) => text.includes("removed under the retention policy")));
    const records = await deletions(room.roomId);
    expect(records).toHaveLength(2);
    expect(records.find((record) => record.unfiledEvents > 0)?.unfiledEvents).toBeGreaterThanOrEqual(1);
  });
});
