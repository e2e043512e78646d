import { describe, expect, it } from "vitest";
import { FakeClock, MemoryRoomStore, RecordingAudit } from "../../testing/fakes.js";
import { MemoryLookupLog, MemoryPatientLinks } from "../../testing/records-fakes.js";
import { refusalOf } from "../../testing/refusals.js";
import type { NhsNumber } from "./nhs-number.js";
import type { PatientDirectory, PatientLink } from "./patient.js";
import { PatientLinking } from "./patient-linking.js";
import { keyedNhsNumberHash, PatientLookupGate } from "./patient-lookup-gate.js";

const WARD = "!ward:trust-a.test";
const ROTA = "!rota:trust-a.test";
const BOB = "@bob:trust-a.test";
const NHS = "9434765919";

/** The trust's record: knows one patient, or is down. */
class FakePatientDirectory implements PatientDirectory {
  down = false;
  readonly asked: NhsNumber[] = [];
  async lookup(nhsNumber: NhsNumber) {
    this.asked.push(nhsNumber);
    if (this.down) throw new Error("FHIR server answered 503");
    return nhsNumber === NHS ? { name: "SMITH, Jane", birthDate: "1980-01-02" } : null;
  }
}

async function setup(withDirectory = true) {
  const rooms = new MemoryRoomStore();
  await rooms.upsert(WARD, { kind: "clinical", botMembership: "join" });
  await rooms.upsert(ROTA, { kind: "operational", botMembership: "join" });
  const links = new MemoryPatientLinks();
  const log = new MemoryLookupLog();
  const audit = new RecordingAudit();
  const clock = new FakeClock();
  const directory = new FakePatientDirectory();
  const gate = new PatientLookupGate({
    localServer: "trust-a.test",
    rooms,
    log,
    audit,
    clock,
    hashNhsNumber: keyedNhsNumberHash("unit-test-patient-linking-key-0123456789"),
    limit: { maxLookups: 3, windowMs: 3_600_000 },
  });
  const linking = new PatientLinking({ links, gate, directory: withDirectory ? directory : null, audit, clock });
  return { links, log, audit, directory, gate, linking };
}

describe("linking a conversation to a patient", () => {
  it("links by a valid NHS number, as typed with spaces, and names the patient from the trust's record", async () => {
    const { linking, links } = await setup();
    const { link, lookup } = await linking.link(WARD, null, "943 476 5919", BOB, "command");
    expect(lookup).toBe("found");
    expect(link.patient).toEqual({ nhsNumber: NHS, name: "SMITH, Jane", birthDate: "1980-01-02", verified: true });
    expect(await links.find(WARD, null)).toEqual(link);
  });

  it("refuses a number that fails the modulus 11 check or is not ten digits, naming the field, before anything is looked up or kept", async () => {
    const { linking, links, directory, log, audit } = await setup();
    const badCheckDigit = await refusalOf(linking.link(WARD, null, "943 476 5918", BOB, "command"));
    expect(badCheckDigit).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "nhsNumber", message: expect.stringMatching(/check digit/) }] });
    expect((await refusalOf(linking.link(WARD, null, "94347659", BOB, "command"))).details?.[0]?.path).toBe("nhsNumber");
    expect(links.links.size + directory.asked.length + log.entries.length + audit.events.length).toBe(0);
  });

  it("refuses in a room not classified clinical and for a partner trust's user, looking nothing up and linking nothing", async () => {
    const { linking, links, directory, audit } = await setup();
    expect((await refusalOf(linking.link(ROTA, null, NHS, BOB, "command"))).message).toMatch(/only in clinical rooms; this room is classified operational/);
    expect((await refusalOf(linking.link("!new:trust-a.test", null, NHS, BOB, "portal"))).message).toMatch(/this room is not classified/);
    expect((await refusalOf(linking.link(WARD, null, NHS, "@bea:trust-b.test", "command"))).code).toBe("FORBIDDEN");
    expect(links.links.size).toBe(0);
    expect(directory.asked).toEqual([]);
    expect(audit.events.map((event) => event.details?.outcome)).toEqual(["refused-room-not-clinical", "refused-room-not-clinical", "refused-not-local"]);
  });

  it("still links, unverified, when the record does not know the number or cannot be reached", async () => {
    const { linking, directory } = await setup();
    const unknown = await linking.link(WARD, null, "401 023 2137", BOB, "command");
    expect(unknown).toMatchObject({ lookup: "not-found", link: { patient: { name: null, verified: false } } });
    directory.down = true;
    const unavailable = await linking.link(WARD, "$thread", NHS, BOB, "command");
    expect(unavailable).toMatchObject({ lookup: "unavailable", link: { threadRootId: "$thread", patient: { name: null, verified: false } } });
  });

  it("links without searching where the trust's record cannot be searched", async () => {
    const { linking } = await setup(false);
    expect((await linking.link(WARD, null, NHS, BOB, "command")).lookup).toBe("not-searched");
  });

  it("audits the link by keyed hash, never the NHS number itself", async () => {
    const { linking, audit, gate } = await setup();
    await linking.link(WARD, null, NHS, BOB, "portal");
    expect(audit.events.at(-1)).toMatchObject({
      action: "records.patient_linked",
      actor: BOB,
      target: WARD,
      details: { via: "portal", lookup: "found", nhsNumberHash: gate.hash(NHS as NhsNumber) },
    });
    for (const event of audit.events) expect(JSON.stringify(event)).not.toContain(NHS);
  });

  it("stops linking once the person has used up their lookups, and links nothing", async () => {
    const { linking, links } = await setup();
    for (let i = 0; i < 3; i++) await linking.link(WARD, `$thread${i}`, NHS, BOB, "command");
    expect((await refusalOf(linking.link(WARD, "$thread3", NHS, BOB, "command"))).message).toMatch(/^You have looked up 3 patients/);
    expect(links.links.size).toBe(3);
  });
});

describe("showing a conversation's linked patient", () => {
  it("shows it to the trust's own staff in a clinical room, and to no one else", async () => {
    const { linking, links } = await setup();
    await linking.link(WARD, null, NHS, BOB, "command");
    expect((await linking.linkedFor(WARD, null, "@carol:trust-a.test", "command"))?.patient.name).toBe("SMITH, Jane");
    expect((await refusalOf(linking.linkedFor(WARD, null, "@bea:trust-b.test", "command"))).code).toBe("FORBIDDEN");
    expect(await linking.linkedFor(ROTA, null, BOB, "command")).toBeNull();
    // A link left in a room since reclassified operational is not shown there.
    const wardLink = (await links.find(WARD, null)) as PatientLink;
    await links.save({ ...wardLink, roomId: ROTA });
    expect((await refusalOf(linking.linkedFor(ROTA, null, BOB, "command"))).code).toBe("FORBIDDEN");
  });
});
