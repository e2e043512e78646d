import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FakeClock, MemoryRoomStore, RecordingAudit } from "../../testing/fakes.js";
import { MemoryLookupLog } from "../../testing/records-fakes.js";
import { HandoverError } from "../errors.js";
import { confirmationRefusal } from "./confirmation-policy.js";
import type { NhsNumber } from "./nhs-number.js";
import type { PatientDetails } from "./patient.js";
import { PatientLinking } from "./patient-linking.js";
import { keyedNhsNumberHash, PatientLookupGate } from "./patient-lookup-gate.js";

const KEY = "unit-test-patient-lookup-audit-key-0123456789";
const NHS = "9434765919" as NhsNumber;
const ROOM = "!ward:trust-a.test";

async function setup() {
  const rooms = new MemoryRoomStore();
  await rooms.upsert(ROOM, { kind: "clinical", botMembership: "join" });
  await rooms.upsert("!rota:trust-a.test", { kind: "operational", botMembership: "join" });
  const log = new MemoryLookupLog();
  const audit = new RecordingAudit();
  const clock = new FakeClock();
  const gate = new PatientLookupGate({
    localServer: "trust-a.test",
    rooms,
    log,
    audit,
    clock,
    hashNhsNumber: keyedNhsNumberHash(KEY),
    limit: { maxLookups: 2, windowMs: 3_600_000 },
  });
  const request = (actor: string, roomId = ROOM) => ({ actor, roomId, threadRootId: null, nhsNumber: NHS, via: "command" as const });
  return { gate, log, audit, clock, request };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HandoverError);
  expect((error as HandoverError).code).toBe("FORBIDDEN");
  return (error as HandoverError).message;
}

describe("patient lookup gate", () => {
  it("hashes the NHS number with HMAC-SHA-256 under the configured key", () => {
    expect(keyedNhsNumberHash(KEY)(NHS)).toBe(createHmac("sha256", KEY).update("9434765919").digest("hex"));
  });

  it("refuses a partner trust's user and a room that is not clinical, auditing each with the keyed hash only", async () => {
    const { gate, audit, log, request } = await setup();
    expect(await refusal(gate.admit(request("@bea:trust-b.test")))).toMatch(/^Only this trust's own staff \(users on trust-a.test\)/);
    expect(await refusal(gate.admit(request("@bob:trust-a.test", "!rota:trust-a.test")))).toMatch(
      /only in clinical rooms; this room is classified operational/,
    );
    expect(await refusal(gate.admit(request("@bob:trust-a.test", "!unknown:trust-a.test")))).toMatch(/this room is not classified/);
    expect(audit.events.map((event) => event.details?.outcome)).toEqual(["refused-not-local", "refused-room-not-clinical", "refused-room-not-clinical"]);
    for (const event of audit.events) {
      expect(event).toMatchObject({ action: "records.patient_lookup", details: { nhsNumberHash: gate.hash(NHS) } });
      expect(JSON.stringify(event)).not.toContain("9434765919");
    }
    expect(log.entries.map((entry) => entry.actor)).toEqual(["@bea:trust-b.test", "@bob:trust-a.test", "@bob:trust-a.test"]);
  });

  it("refuses the lookup after maxLookups in the window, per person, and allows it again once the window has passed", async () => {
    const { gate, audit, clock, request } = await setup();
    for (let i = 0; i < 2; i++) await gate.settle(await gate.admit(request("@bob:trust-a.test")), "found");
    expect(await refusal(gate.admit(request("@bob:trust-a.test")))).toMatch(/^You have looked up 2 patients in the last 60 minutes/);
    await gate.admit(request("@carol:trust-a.test"));
    clock.advance(3_600_001);
    await gate.admit(request("@bob:trust-a.test"));
    expect(audit.events.map((event) => event.details?.outcome)).toEqual(["found", "found", "refused-rate-limit"]);
  });

  it("answers who looked up a number, by the same keyed hash", async () => {
    const { gate, request } = await setup();
    await gate.settle(await gate.admit(request("@bob:trust-a.test")), "found");
    await gate.admit(request("@bea:trust-b.test")).catch(() => undefined);
    expect((await gate.lookupsOf(NHS, 10)).map((entry) => [entry.actor, entry.outcome])).toEqual([
      ["@bea:trust-b.test", "refused-not-local"],
      ["@bob:trust-a.test", "found"],
    ]);
  });
});

describe("who confirms a filing in the room", () => {
  const traced: PatientDetails = { nhsNumber: NHS, name: "SMITH, Jane", birthDate: "1980-01-02", verified: true };
  const untraced: PatientDetails = { nhsNumber: NHS, name: null, birthDate: null, verified: false };
  const filing = (patient: PatientDetails) => ({ patient, requestedBy: "@alice:trust-a.test" });

  it("requester-if-traced: the requester only when the number was found with name and date of birth; another member always", () => {
    expect(confirmationRefusal("requester-if-traced", filing(traced), "@alice:trust-a.test", "trust-a.test")).toBeNull();
    expect(confirmationRefusal("requester-if-traced", filing(untraced), "@alice:trust-a.test", "trust-a.test")).toMatch(/another member/);
    expect(confirmationRefusal("requester-if-traced", filing(untraced), "@bob:trust-a.test", "trust-a.test")).toBeNull();
  });

  it("another-member and any-member; never a partner trust's user", () => {
    expect(confirmationRefusal("another-member", filing(traced), "@alice:trust-a.test", "trust-a.test")).toMatch(/another member/);
    expect(confirmationRefusal("any-member", filing(untraced), "@alice:trust-a.test", "trust-a.test")).toBeNull();
    expect(confirmationRefusal("any-member", filing(traced), "@bea:trust-b.test", "trust-a.test")).toMatch(/^Only this trust's own staff/);
  });
});

describe("linking without records.patientLookup", () => {
  it("refuses, since no lookup could be accounted for", async () => {
    const saved: unknown[] = [];
    const linking = new PatientLinking({
      links: { save: async (link) => void saved.push(link), find: async () => null, list: async () => [] },
      directory: { lookup: async () => ({ name: "SMITH, Jane", birthDate: "1980-01-02" }) },
      gate: null,
      audit: new RecordingAudit(),
      clock: new FakeClock(),
    });
    const error = await linking.link(ROOM, null, "943 476 5919", "@bob:trust-a.test", "command").catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "CONFLICT", message: "Linking patients is not set up for this trust (records.patientLookup in Handover's config)." });
    expect(saved).toEqual([]);
  });
});
