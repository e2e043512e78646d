import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Bundle, DocumentReference, Patient } from "@medplum/fhirtypes";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { freshDatabase } from "../support/fresh-database.js";
import { type InstanceOptions, startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { CLINICAL_ROOM, RecordsRoom } from "../support/records-room.js";

const run = promisify(execFile);
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "records_file_drop");

/** The record system's import directory; it does not exist until the first test creates it. */
const dropDirectory = join(mkdtempSync(join(tmpdir(), "handover-file-drop-")), "epr-import");
const optionsFor = (fileDropDirectory: string): InstanceOptions => ({
  records: {
    destination: "file-drop",
    fileDropDirectory,
    // A file drop cannot look patients up, so no number is traced; alice files alone here.
    patientLookup: { confirmation: "any-member" },
    retryEvery: "1s",
    retryInitialDelay: "1s",
    retryMaxDelay: "2s",
    attemptLease: "5s",
  },
});

let handover: Handover;
let alice: TestUser;
let room: RecordsRoom;
let db: pg.Client;

const filedRanges = async () => (await db.query("SELECT count(*)::int AS n FROM filed_ranges WHERE room_id = $1", [room.roomId])).rows[0].n as number;
const latestFiling = async () =>
  (await db.query("SELECT export_id, status, last_error FROM records_filings WHERE room_id = $1 ORDER BY requested_at DESC LIMIT 1", [room.roomId]))
    .rows[0] as {
    export_id: string;
    status: string;
    last_error: string | null;
  };
const filedFiles = () => readdirSync(dropDirectory).sort();

beforeAll(async () => {
  alice = await TestUser.register(trust, `rec-drop${Date.now()}`);
  handover = await startHandover(trust, databaseUrl, optionsFor(dropDirectory));
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const roomId = await alice.createRoom("Ward 5 file drop", CLINICAL_ROOM);
  room = new RecordsRoom(roomId, alice, () => handover);
  await alice.invite(roomId, handover.botUserId);
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
  await alice.send(roomId, "!handover patient 9434765919");
  await room.waitForNotice((text) => text.includes("is now linked"), "the link");
});

afterAll(async () => {
  await handover?.stop();
  await db?.end();
});

describe("EHR filing to a file-drop directory (real Synapse)", () => {
  it("a missing directory fails clearly and files nothing; once it exists the retry writes the PDF and the bundle", async () => {
    await alice.send(room.roomId, "Discharge letter dictated; TTOs to pharmacy.");
    await alice.send(room.roomId, "Follow-up in fracture clinic in 2 weeks.");
    await room.fileAndConfirm(alice);
    const failed = await room.waitForNotice((text) => text.startsWith("Filing to the record failed (attempt 1)"), "the failure notice");
    expect(failed).toContain(`the file-drop directory ${dropDirectory} does not exist`);
    expect(failed).toContain("Nothing has been marked as filed");
    expect((await latestFiling()).status).toBe("retrying");
    expect(await filedRanges()).toBe(0);

    mkdirSync(dropDirectory);
    const filed = await room.waitForNotice((text) => text.startsWith("Filed to the record as"), "the filed notice");
    const { export_id: exportId, status } = await latestFiling();
    expect(status).toBe("filed");
    expect(filed).toContain(join(dropDirectory, `handover-${exportId}.json`));
    expect(filedFiles()).toEqual([`handover-${exportId}.json`, `handover-${exportId}.pdf`]);
    expect(await filedRanges()).toBe(1);

    const pdfPath = join(dropDirectory, `handover-${exportId}.pdf`);
    const bundle = JSON.parse(readFileSync(join(dropDirectory, `handover-${exportId}.json`), "utf8")) as Bundle;
    expect(bundle).toMatchObject({ resourceType: "Bundle", type: "transaction" });
    const document = bundle.entry?.[0]?.resource as DocumentReference;
    expect(document.identifier?.[0]?.value).toBe(exportId);
    expect(document.subject?.identifier).toMatchObject({ system: "https://fhir.nhs.uk/Id/nhs-number", value: "9434765919" });
    // A file drop cannot search the record: the number is not verified (UK Core code 02).
    const patient = document.contained?.[0] as Patient;
    expect(patient.identifier?.[0]?.extension?.[0]?.valueCodeableConcept?.coding?.[0]?.code).toBe("02");
    expect(Buffer.from(document.content[0]?.attachment.data ?? "", "base64").equals(readFileSync(pdfPath))).toBe(true);
    await run("qpdf", ["--check", pdfPath]);
    const text = (await run("pdftotext", [pdfPath, "-"])).stdout;
    expect(text).toContain("Patient NHS number: 943 476 5919");
    expect(text).toContain("Follow-up in fracture clinic in 2 weeks.");
  });

  it("delivering again after a crash mid-delivery (a stale temporary file, no receipt) leaves the same two files, written once", async () => {
    const { export_id: exportId } = await latestFiling();
    const before = filedFiles().map((name) => ({ name, ino: statSync(join(dropDirectory, name)).ino }));
    // What a process that died between writing and storing the receipt leaves behind.
    await handover.stop();
    writeFileSync(join(dropDirectory, `.handover-${exportId}.pdf.crashed.tmp`), "half a PDF");
    await db.query(
      "UPDATE records_filings SET status = 'sending', receipt = NULL, filed_at = NULL, next_attempt_at = now() - interval '1 second' WHERE export_id = $1",
      [exportId],
    );
    handover = await startHandover(trust, databaseUrl, optionsFor(dropDirectory));
    await eventually("the filing to be completed again", async () => (await latestFiling()).status === "filed", 60_000);
    const receipt = (await db.query("SELECT receipt FROM records_filings WHERE export_id = $1", [exportId])).rows[0].receipt as {
      entries: { status: string }[];
    };
    expect(receipt.entries.map((entry) => entry.status)).toEqual(["already there", "already there"]);
    expect(filedFiles().map((name) => ({ name, ino: statSync(join(dropDirectory, name)).ino }))).toEqual(before);
    expect(await filedRanges()).toBe(1);
  });

  it("a directory Handover cannot write to fails clearly, nothing is filed, and the filing goes through once it can", async () => {
    // sysfs refuses new files even to root, so this holds however the tests are run.
    await handover.stop();
    handover = await startHandover(trust, databaseUrl, optionsFor("/sys"));
    await alice.send(room.roomId, "Patient seen by physio, mobilising with frame.");
    const before = (await room.notices()).length;
    await room.fileAndConfirm(alice);
    const failed = await room.waitForNotice((text) => text.startsWith("Filing to the record failed (attempt 1)"), "the failure notice", before);
    expect(failed).toMatch(/file-drop directory \/sys (is not writable|\(permission denied\))/);
    const { export_id: exportId, status, last_error: lastError } = await latestFiling();
    expect(status).toBe("retrying");
    expect(lastError).toMatch(/\/sys/);
    expect(await filedRanges()).toBe(1);

    await handover.stop();
    handover = await startHandover(trust, databaseUrl, optionsFor(dropDirectory));
    await room.waitForNotice((text) => text.startsWith("Filed to the record as") && text.includes(exportId), "the filed notice after the fix", before);
    expect(filedFiles()).toHaveLength(4);
    expect(await filedRanges()).toBe(2);
  });
});

describe("room and thread filings never file the same message twice", () => {
  it("a thread already filed with its room has nothing new; a later thread message is filed once, by the thread filing only", async () => {
    const roomId = await alice.createRoom("Ward 5 threads", CLINICAL_ROOM);
    const threads = new RecordsRoom(roomId, alice, () => handover);
    await alice.invite(roomId, handover.botUserId);
    await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
    await alice.send(roomId, "!handover patient 9434765919");
    await threads.waitForNotice((text) => text.includes("is now linked"), "the link");
    const root = await alice.send(roomId, "Bed 4: query sepsis, screening now.");
    await threads.send(alice, "Lactate 3.1, cultures taken.", root);

    const filedNotices = async () => (await threads.notices()).filter((text) => text.startsWith("Filed to the record as")).length;
    expect(await threads.fileAndConfirm(alice)).toMatch(/^Ready to file 2 messages/);
    await eventually("the room filing", async () => (await filedNotices()) === 1);

    expect(await threads.fileAndConfirm(alice, root)).toBe("There is nothing new to file since the last filing.");
    await threads.send(alice, "Antibiotics given at 15:20.", root);
    expect(await threads.fileAndConfirm(alice, root)).toMatch(/^Ready to file 1 message /);
    await eventually("the thread filing", async () => (await filedNotices()) === 2);
    expect(await threads.fileAndConfirm(alice)).toBe("There is nothing new to file since the last filing.");

    const { rows } = await db.query("SELECT export_id FROM records_filings WHERE room_id = $1 AND status = 'filed'", [roomId]);
    const filed = rows.flatMap(({ export_id: exportId }: { export_id: string }) => {
      const bundle = JSON.parse(readFileSync(join(dropDirectory, `handover-${exportId}.json`), "utf8")) as Bundle;
      return (bundle.entry ?? []).flatMap((entry) => (entry.resource?.resourceType === "Communication" ? [entry.resource.payload?.[0]?.contentString] : []));
    });
    expect(filed.sort()).toEqual(["Antibiotics given at 15:20.", "Bed 4: query sepsis, screening now.", "Lactate 3.1, cultures taken."]);
  });
});
