import { describe, expect, it } from "vitest";
import { FakeClock, MemoryRoomStore, RecordingAudit } from "../../testing/fakes.js";
import type { MatrixEvent } from "../matrix-event.js";
import type { Filing } from "./filing.js";
import type { FilingRequests } from "./filing-requests.js";
import type { NhsNumber } from "./nhs-number.js";
import type { PatientLink } from "./patient.js";
import { PatientLinking } from "./patient-linking.js";
import { keyedNhsNumberHash, type PatientLookupEntry, PatientLookupGate } from "./patient-lookup-gate.js";
import { RecordsCommands } from "./records-commands.js";

const WARD = "!ward:trust-a.test";
const ROTA = "!rota:trust-a.test";
const LINK = (roomId: string): PatientLink => ({
  roomId,
  threadRootId: null,
  patient: { nhsNumber: "9434765919" as NhsNumber, name: "SMITH, Jane", birthDate: "1980-01-02", verified: true },
  linkedBy: "@nurse:trust-a.test",
  linkedAt: new Date("2026-11-22T08:00:00Z"),
});

/**
 * A room's link was made by the trust's own staff; the bot's answers to `!handover patient` and
 * `!handover file` name the patient. Whoever may not look a patient up may not have them shown either.
 */
async function setup() {
  const rooms = new MemoryRoomStore();
  await rooms.upsert(WARD, { kind: "clinical", botMembership: "join" });
  await rooms.upsert(ROTA, { kind: "operational", botMembership: "join" });
  const audit = new RecordingAudit();
  const clock = new FakeClock();
  const entries: PatientLookupEntry[] = [];
  const gate = new PatientLookupGate({
    localServer: "trust-a.test",
    rooms,
    log: {
      addWithinLimit: async (entry) => String(entries.push(entry)),
      add: async (entry) => void entries.push(entry),
      settle: async () => undefined,
      byHash: async () => [],
    },
    audit,
    clock,
    hashNhsNumber: keyedNhsNumberHash("unit-test-patient-lookup-audit-key-0123456789"),
    limit: { maxLookups: 10, windowMs: 3_600_000 },
  });
  const links = { save: async () => undefined, find: async (roomId: string) => LINK(roomId), list: async () => [] };
  const linking = new PatientLinking({ links, directory: null, gate, audit, clock });
  const notices: string[] = [];
  const requested: string[] = [];
  const requests = {
    request: async (roomId: string, _thread: string | null, requestedBy: string) => {
      requested.push(requestedBy);
      return { roomId, patient: LINK(roomId).patient, messageCount: 3, firstTs: clock.now(), upToTs: clock.now(), confirmCode: "123456" } as unknown as Filing;
    },
    whoConfirms: () => "Another member of this room",
  } as unknown as FilingRequests;
  const commands = new RecordsCommands({
    botUserId: "@handover:trust-a.test",
    notifier: { notice: async (_roomId, text) => void notices.push(text) },
    members: { membership: async () => "join" },
    linking,
    links,
    requests,
    attempt: async () => undefined,
    formatTime: (at) => at.toISOString(),
    confirmationTtlMinutes: 15,
  });
  const say = (sender: string, roomId: string, body: string) =>
    commands.handle({
      event_id: `$${notices.length}`,
      room_id: roomId,
      sender,
      type: "m.room.message",
      origin_server_ts: 0,
      content: { msgtype: "m.text", body },
    } as MatrixEvent);
  return { say, notices, requested, audit, entries };
}

describe("the bot shows a linked patient only to whom may look one up", () => {
  it("a partner trust's user asking `!handover patient` or `!handover file` is not shown the name, date of birth or number, and the refusal is audited", async () => {
    const { say, notices, requested, audit, entries } = await setup();
    await say("@eve:partner.test", WARD, "!handover patient");
    await say("@eve:partner.test", WARD, "!handover file");
    expect(notices).toHaveLength(2);
    for (const notice of notices) {
      expect(notice).not.toContain("SMITH");
      expect(notice).not.toContain("1980-01-02");
      expect(notice).not.toContain("434 765");
      expect(notice).toContain("Only this trust's own staff");
    }
    expect(requested).toEqual([]);
    expect(audit.actions()).toEqual(["records.patient_lookup", "records.patient_lookup"]);
    expect(entries.map((entry) => entry.outcome)).toEqual(["refused-not-local", "refused-not-local"]);
  });

  it("in a room that is no longer clinical, the link is not shown to anyone", async () => {
    const { say, notices } = await setup();
    await say("@nurse:trust-a.test", ROTA, "!handover patient");
    expect(notices).toHaveLength(1);
    expect(notices[0]).not.toContain("SMITH");
    expect(notices[0]).toContain("only in clinical rooms");
  });

  it("the trust's own staff in a clinical room are shown the linked patient", async () => {
    const { say, notices, requested } = await setup();
    await say("@nurse:trust-a.test", WARD, "!handover patient");
    await say("@nurse:trust-a.test", WARD, "!handover file");
    expect(notices[0]).toBe("This room is linked to SMITH, Jane (born 1980-01-02), NHS number 943 476 5919.");
    expect(notices[1]).toContain("into the record of SMITH, Jane (born 1980-01-02)");
    expect(requested).toEqual(["@nurse:trust-a.test"]);
  });
});
