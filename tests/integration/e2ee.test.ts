import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Communication, DocumentReference, Patient } from "@medplum/fhirtypes";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { MISSING_MESSAGE_TEXT } from "../../appservice/src/domain/records/transcript.js";
import { API } from "../../appservice/src/http/contract.js";
import { SWEEP_JOB } from "../../appservice/src/retention/capability.js";
import { startFhirServer, type TestFhirServer } from "../harness/fhir-server.js";
import { EncryptingClient } from "../support/encrypting-client.js";
import { type InstanceOptions, startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";
import { generatePng } from "../support/records-fixtures.js";
import { CLINICAL_STATE } from "../support/records-room.js";

const run = promisify(execFile);
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = stack.databaseUrls.a;
const NHS = "https://fhir.nhs.uk/Id/nhs-number";
const NHS_NUMBER = "9000000017";
const STATE_KEY = "integration-test-e2ee-state-key-0123456789";

let fhir: TestFhirServer;
let handover: Handover;
let alice: TestUser;
let client: EncryptingClient;
let db: pg.Client;
let options: InstanceOptions;

/** The bot's notices in the room as Alice's client shows them (decrypted: the bot speaks encrypted in an encrypted room). */
async function notices(room: string): Promise<string[]> {
  const texts: string[] = [];
  for (const event of await alice.timeline(room, 200)) {
    if (event.sender !== handover.botUserId) continue;
    if (event.type === "m.room.message") texts.push(String(event.content.body));
    if (event.type !== "m.room.encrypted") continue;
    const seen = client.client.getRoom(room)?.findEventById(event.event_id);
    if (!seen) continue;
    await client.client.decryptEventIfNeeded(seen);
    if (!seen.isDecryptionFailure()) texts.push(String(seen.getContent().body));
  }
  return texts;
}

const waitForNotice = (room: string, test: (text: string) => boolean, what: string) => eventually(what, async () => (await notices(room)).find(test), 90_000);

interface KeysQuery {
  device_keys: Record<string, Record<string, { keys: Record<string, string>; signatures: Record<string, Record<string, string>> }>>;
  master_keys?: Record<string, unknown>;
  self_signing_keys?: Record<string, { keys: Record<string, string> }>;
}

/** Alice (admin) signed in to the portal. */
function signIn(): Promise<PortalSession> {
  return PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
}

async function roomKeyRows(roomId: string): Promise<number> {
  return (await db.query("SELECT count(*)::int AS n FROM e2ee_room_keys WHERE room_id = $1", [roomId])).rows[0].n as number;
}

/** Waits until Alice's client knows the bot's current device, so her next message is shared with it. */
async function aliceSeesBotDevice(): Promise<void> {
  const deviceId = handover.e2ee?.currentDeviceId;
  await eventually(
    "Alice's client to see the bot's device",
    async () => {
      const devices = await client.client.getCrypto()?.getUserDeviceInfo([handover.botUserId], true);
      return devices?.get(handover.botUserId)?.has(deviceId ?? "") === true;
    },
    60_000,
  );
}

beforeAll(async () => {
  fhir = await startFhirServer();
  await fhir.repo.createResource<Patient>({
    resourceType: "Patient",
    identifier: [{ system: NHS, value: NHS_NUMBER }],
    name: [{ use: "official", family: "Jones", given: ["Ann"] }],
    birthDate: "1975-03-04",
  });
  alice = await TestUser.register(trust, `e2ee-alice${Date.now()}`);
  options = {
    roles: { [alice.userId]: "admin" },
    records: { destination: "fhir", fhir: { baseUrl: fhir.baseUrl }, retryEvery: "1s", retryInitialDelay: "1s", retryMaxDelay: "2s", attemptLease: "5s" },
    e2ee: { stateKey: STATE_KEY },
    retention: { sweepInterval: "1h", purgePollInterval: "200ms", warningGranularity: "1s" },
  };
  handover = await startHandover(trust, databaseUrl, options);
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  client = await EncryptingClient.start(trust, alice);
});

afterAll(async () => {
  client?.stop();
  await handover?.stop();
  await db?.end();
  await fhir?.stop();
});

describe("encrypted rooms with a real encrypting client (matrix-js-sdk Rust crypto)", () => {
  it("gives the bot a cross-signed device with identity and one-time keys on the homeserver", async () => {
    const deviceId = handover.e2ee?.currentDeviceId as string;
    expect(deviceId).toMatch(/^HANDOVER/);
    expect(await handover.readiness()).toMatchObject({ e2ee: true });
    const keys = await alice.request<KeysQuery>("POST", "/keys/query", { device_keys: { [handover.botUserId]: [] } });
    const device = keys.device_keys[handover.botUserId]?.[deviceId];
    expect(device?.keys[`curve25519:${deviceId}`]).toBeTruthy();
    expect(device?.keys[`ed25519:${deviceId}`]).toBeTruthy();
    const selfSigning = Object.keys(keys.self_signing_keys?.[handover.botUserId]?.keys ?? {})[0];
    expect(selfSigning).toBeTruthy();
    expect(device?.signatures[handover.botUserId]?.[selfSigning as string]).toBeTruthy();
    const claim = await alice.request<{ one_time_keys: Record<string, Record<string, Record<string, unknown>>> }>("POST", "/keys/claim", {
      one_time_keys: { [handover.botUserId]: { [deviceId]: "signed_curve25519" } },
    });
    expect(Object.keys(claim.one_time_keys[handover.botUserId]?.[deviceId] ?? {})).toHaveLength(1);
  });

  it("files an encrypted conversation with an encrypted image, across a restart, listing the message sent before it joined as missing", async () => {
    const roomId = await client.createEncryptedRoom("Ward 12 (encrypted)");
    await alice.request("PUT", `/rooms/${encodeURIComponent(roomId)}/state/${CLINICAL_STATE.type}/`, CLINICAL_STATE.content);
    const before = await client.sendText(roomId, "Sent before Handover joined: not shared with it.");
    await alice.invite(roomId, handover.botUserId);
    await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join", 60_000);
    await waitForNotice(roomId, (text) => text.startsWith("Handover is in this encrypted room as its own device"), "the presence notice");
    await aliceSeesBotDevice();

    await client.sendText(roomId, `!handover patient ${NHS_NUMBER}`);
    await waitForNotice(roomId, (text) => text.includes("JONES, Ann"), "the patient link, from an encrypted command");
    // The bot speaks encrypted in an encrypted room: no patient name in the clear on the server.
    const botSent = (await alice.timeline(roomId, 200)).filter(
      (event) => event.sender === handover.botUserId && (event.type === "m.room.message" || event.type === "m.room.encrypted"),
    );
    expect(botSent.length).toBeGreaterThanOrEqual(2);
    expect(botSent.every((event) => event.type === "m.room.encrypted")).toBe(true);
    expect(JSON.stringify(botSent)).not.toContain("JONES");
    await client.sendText(roomId, "Encrypted: obs stable, NEWS 1.");
    await client.sendEncryptedImage(roomId, generatePng(120, 80, 3), "rash.png", "image/png");

    const firstDevice = handover.e2ee?.currentDeviceId;
    const keysBefore = await roomKeyRows(roomId);
    await handover.stop();
    // Sent while Handover is down, with a new room key: Synapse cannot hand the key over and
    // leaves it out of later transactions; it waits in the device's inbox on the homeserver.
    await client.client.getCrypto()?.forceDiscardSession(roomId);
    await client.sendText(roomId, "While Handover was down: SpO2 97%.");
    handover = await startHandover(trust, databaseUrl, options);
    // The same device, restored from PostgreSQL: Alice's client has nothing to re-learn.
    expect(handover.e2ee?.currentDeviceId).toBe(firstDevice);
    const started = await db.query("SELECT details FROM audit_log WHERE action = 'e2ee.device_started' ORDER BY seq DESC LIMIT 1");
    expect(started.rows[0]?.details).toMatchObject({ reopened: true });
    // Read from the device inbox at start (Handover's Synapse module).
    expect(await roomKeyRows(roomId)).toBe(keysBefore + 1);
    const overview = await (await signIn()).ok(API.overview);
    expect(overview.encryption).toMatchObject({ working: true, problem: null, deviceId: firstDevice, reopened: true, inboxModule: true });

    // A new room key straight after the restart reaches the same device over its kept Olm session
    // (in a transaction, or from the inbox if Synapse still held Handover "down").
    await client.client.getCrypto()?.forceDiscardSession(roomId);
    await client.sendText(roomId, "After the restart: BP 120/80.");
    await eventually("the new room key to reach the reopened device", async () => (await roomKeyRows(roomId)) === keysBefore + 2, 60_000);

    // Filed from the portal after the restart.
    const portal = await signIn();
    const described = await portal.ok(API.requestFiling, { body: { roomId } });
    expect(described.messageCount).toBe(5);
    await portal.ok(API.confirmFiling, { params: { exportId: described.exportId } });
    await eventually(
      "the filing to reach the FHIR server",
      async () => (await fhir.search<DocumentReference>("DocumentReference", { "subject:identifier": `${NHS}|${NHS_NUMBER}` })).length === 1,
      90_000,
    );

    const communications = await fhir.search<Communication>("Communication", { "subject:identifier": `${NHS}|${NHS_NUMBER}` });
    expect(communications.map((c) => c.payload?.[0]?.contentString)).toEqual([
      MISSING_MESSAGE_TEXT,
      "Encrypted: obs stable, NEWS 1.",
      "Image: rash.png (embedded in the filed PDF)",
      "While Handover was down: SpO2 97%.",
      "After the restart: BP 120/80.",
    ]);
    expect(communications[0]?.identifier?.length).toBeGreaterThan(0);
    const [document] = await fhir.search<DocumentReference>("DocumentReference", { "subject:identifier": `${NHS}|${NHS_NUMBER}` });
    const dir = mkdtempSync(join(tmpdir(), "handover-e2ee-"));
    const pdfPath = join(dir, "filed.pdf");
    writeFileSync(pdfPath, Buffer.from(document?.content[0]?.attachment.data ?? "", "base64"));
    await run("qpdf", ["--check", pdfPath]);
    const text = (await run("pdftotext", [pdfPath, "-"])).stdout.replace(/\s+/g, " ");
    expect(text).toContain("Encrypted: obs stable, NEWS 1.");
    expect(text).toContain("While Handover was down: SpO2 97%.");
    expect(text).toContain("encrypted message missing");
    expect((await run("pdfimages", ["-list", pdfPath])).stdout.split("\n").length).toBeGreaterThan(3);

    await eventually(
      "the filed range for retention",
      async () => (await db.query("SELECT * FROM filed_ranges WHERE room_id = $1", [roomId])).rows.length === 1,
    );
    const stored = await db.query("SELECT sealed FROM e2ee_room_keys WHERE room_id = $1", [roomId]);
    expect(stored.rows.length).toBeGreaterThan(0);
    for (const row of stored.rows) expect((row.sealed as Buffer).toString("latin1")).not.toContain("session_key");
    const starts = await db.query("SELECT details FROM audit_log WHERE action = 'e2ee.device_started'");
    expect(starts.rows.length).toBeGreaterThanOrEqual(2);
    const storeRows = await db.query("SELECT count(*)::int AS n FROM e2ee_store_entries");
    expect(storeRows.rows[0].n).toBeGreaterThan(0);
    // The message sent before the bot joined is named by the filing as not captured: the filing
    // read it and could not hold it.
    const named = await db.query("SELECT captured FROM filed_range_events WHERE room_id = $1 AND event_id = $2", [roomId, before]);
    expect(named.rows).toEqual([{ captured: false }]);

    // Filed means captured (issue 11.1): the message whose key never arrived is listed in the
    // record, not held by it, so the after-filing delay releases nothing from it on: being the
    // room's first message, it keeps every original until it is filed or a policy allows
    // deleting unfiled content at maximum age.
    const remaining = async () => (await alice.timeline(roomId, 200)).filter((event) => event.sender === alice.userId && event.type === "m.room.encrypted");
    const classify = await client.sendText(roomId, "!handover classify clinical");
    expect((await remaining()).length).toBe(7);
    await eventually("the classification, from an encrypted command", async () => (await handover.rooms.get(roomId))?.kind === "clinical");
    await portal.ok(API.createRetentionPolicy, {
      body: { name: "Encrypted ward", scope: { type: "room", roomId }, maxAge: null, deleteAfterFiling: "1s" },
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await eventually("the classify command indexed", async () => {
      const { rows } = await db.query("SELECT 1 FROM retention_events WHERE event_id = $1", [classify]);
      return rows.length === 1;
    });
    expect(await handover.jobs.runNow(SWEEP_JOB)).toBe(true);
    expect((await remaining()).length).toBe(7);
    const { deletions } = await portal.ok(API.listDeletions, { query: { roomId } });
    expect(deletions).toEqual([]);
    const plan = await portal.ok(API.roomRetention, { params: { roomId } });
    expect(plan.status).toBe("nothing-due");
    expect(plan.unfiledEvents).toBeGreaterThanOrEqual(1);
    expect(plan.reason).toMatch(/kept until/);
  });

  it("deletes an encrypted room's image with its purge, and counts it in the deletion record", async () => {
    const roomId = await client.createEncryptedRoom(`Encrypted rota ${Date.now()}`);
    await alice.invite(roomId, handover.botUserId);
    await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join", 60_000);
    await waitForNotice(roomId, (text) => text.startsWith("Handover is in this encrypted room as its own device"), "the presence notice");
    await aliceSeesBotDevice();
    await client.sendText(roomId, "!handover classify operational");
    await eventually("the classification, from an encrypted command", async () => (await handover.rooms.get(roomId))?.kind === "operational", 60_000);
    const portal = await signIn();
    await portal.ok(API.createRetentionPolicy, {
      body: { name: `Encrypted rota ${roomId}`, scope: { type: "room", roomId }, maxAge: "3s", deleteAfterFiling: null },
    });
    // The media URI is inside the ciphertext: only the decrypted event shows it.
    const image = await client.sendEncryptedImage(roomId, generatePng(40, 30, 2), "rota.png", "image/png");
    const indexed = (eventId: string) => async () => (await db.query("SELECT 1 FROM retention_events WHERE event_id = $1", [eventId])).rows.length === 1;
    await eventually("the image to be indexed", indexed(image.eventId));
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    await eventually("the newer message to be indexed", indexed(await client.sendText(roomId, "Sent after the cutoff: kept.")));
    expect(await handover.jobs.runNow(SWEEP_JOB)).toBe(true);

    const { deletions } = await portal.ok(API.listDeletions, { query: { roomId } });
    expect(deletions).toMatchObject([{ events: 2, media: 1, mediaDeleted: 1 }]);
    const download = await fetch(`${trust.clientUrl}/_matrix/client/v1/media/download/${image.contentUri.slice("mxc://".length)}`, {
      headers: { authorization: `Bearer ${alice.user.accessToken}` },
    });
    expect(download.status).toBe(404);
  });

  it("serves the device inbox only to the appservice, and refuses malformed reads with clear errors", async () => {
    const url = `${trust.clientUrl}/_synapse/client/handover/v1/device_inbox`;
    const post = (token: string | null, body: unknown) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    const deviceId = handover.e2ee?.currentDeviceId as string;
    expect((await post(null, { device_id: deviceId })).status).toBe(401);
    expect((await post(alice.user.accessToken, { device_id: deviceId })).status).toBe(401);
    const asToken = trust.registration.as_token;
    const tooMany = await post(asToken, { device_id: deviceId, limit: 100_000 });
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect((await post(asToken, { since: 0 })).status).toBe(400);
    expect((await post(asToken, { device_id: deviceId, since: -1 })).status).toBe(400);
    // Everything read so far was acknowledged: nothing left but what arrives from now on.
    const page = (await (await post(asToken, { device_id: deviceId, since: 0 })).json()) as { events: unknown[]; next: number };
    expect(Array.isArray(page.events)).toBe(true);
    expect(typeof page.next).toBe("number");
  });

  it("detects and reports a changed state key instead of overwriting the stored keys", async () => {
    await handover.stop();
    handover = await startHandover(trust, databaseUrl, { ...options, e2ee: { stateKey: `${STATE_KEY}-wrong` } });
    expect(await handover.readiness()).toMatchObject({ e2ee: false });
    expect(handover.e2ee?.problem()).toMatch(/different e2ee.stateKey/);
    const audit = await db.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'e2ee.state_unreadable'");
    expect(audit.rows[0].n).toBeGreaterThan(0);
    await handover.stop();
    handover = await startHandover(trust, databaseUrl, options);
    expect(await handover.readiness()).toMatchObject({ e2ee: true });
  });
});
