import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import { MemoryFilingLedger, MemoryFilingStore, MemoryPatientLinks } from "../../testing/records-fakes.js";
import { refusalOf } from "../../testing/refusals.js";
import type { ConfirmationPolicy } from "./confirmation-policy.js";
import { FilingRequests } from "./filing-requests.js";
import type { NhsNumber } from "./nhs-number.js";
import type { PatientDetails } from "./patient.js";
import type { TranscriptMessage } from "./transcript.js";

const ROOM = "!ward:trust-a.test";
const ALICE = "@alice:trust-a.test";
const BOB = "@bob:trust-a.test";
const TTL = 15 * 60_000;
const UNTRACED: PatientDetails = { nhsNumber: "9434765919" as NhsNumber, name: null, birthDate: null, verified: false };

const message = (eventId: string, at: number, threadRootId: string | null = null): TranscriptMessage => ({
  eventId,
  sender: ALICE,
  senderName: "Alice",
  sentAt: new Date(at),
  text: `message ${eventId}`,
  kind: "text",
  replyTo: null,
  editedAt: null,
  threadRootId,
  image: null,
});

async function setup(options: { destinationConfigured?: boolean; policy?: ConfirmationPolicy } = {}) {
  const clock = new FakeClock();
  const filings = new MemoryFilingStore();
  const patients = new MemoryPatientLinks();
  const ledger = new MemoryFilingLedger();
  const audit = new RecordingAudit();
  /** The room's conversation as the composer reads it, oldest first. */
  const timeline: TranscriptMessage[] = [message("$1", 1_000), message("$2", 2_000), message("$3", 3_000)];
  let codes = 0;
  const requests = new FilingRequests({
    filings,
    patients,
    ledger,
    preview: async (_roomId, threadRootId, afterEventId) => {
      const after = afterEventId === null ? -1 : timeline.findIndex((m) => m.eventId === afterEventId);
      const messages = timeline.slice(after + 1).filter((m) => threadRootId === null || m.threadRootId === threadRootId);
      const last = messages.at(-1);
      return { messages, roomName: "Ward 7", upToEvent: last ? { eventId: last.eventId, ts: last.sentAt } : null };
    },
    audit,
    clock,
    newExportId: () => `exp-${filings.filings.size + 1}`,
    newConfirmCode: () => `CODE0${++codes}`,
    confirmationTtlMs: TTL,
    destinationConfigured: options.destinationConfigured ?? true,
    roomConfirmation: { policy: options.policy ?? "another-member", localServer: "trust-a.test" },
  });
  await patients.save({ roomId: ROOM, threadRootId: null, patient: UNTRACED, linkedBy: ALICE, linkedAt: clock.now() });
  /** Records a filing of the room up to `upToEventId` as the record system accepted it. */
  const filed = (filingRef: string, upToEventId: string, threadRootId: string | null = null) =>
    ledger.recordFiled(
      { roomId: ROOM, upToEventId, upToTs: new Date(0), threadRootId, filedAt: clock.now(), filingRef, filedBy: ALICE },
      { captured: [], uncaptured: [] },
    );
  return { clock, filings, patients, audit, timeline, requests, filed };
}

describe("asking to file a conversation", () => {
  it("states the range and the patient first, and waits for confirmation", async () => {
    const { requests, audit } = await setup();
    const filing = await requests.request(ROOM, null, ALICE, "command");
    expect(filing).toMatchObject({
      status: "awaiting_confirmation",
      confirmCode: "CODE01",
      patient: UNTRACED,
      afterEventId: null,
      upToEventId: "$3",
      firstTs: new Date(1_000),
      messageCount: 3,
      requestedBy: ALICE,
    });
    expect(audit.events).toMatchObject([{ action: "records.filing_requested", actor: ALICE, details: { messageCount: 3, via: "command" } }]);
  });

  it("covers only what came after the last filing of the room, or of the thread", async () => {
    const { requests, filed, timeline } = await setup();
    await filed("DocumentReference/1", "$2");
    expect(await requests.request(ROOM, null, ALICE, "command")).toMatchObject({ afterEventId: "$2", upToEventId: "$3", messageCount: 1 });

    timeline.push(message("$t1", 4_000, "$root"), message("$t2", 5_000, "$root"));
    await filed("DocumentReference/2", "$t1", "$root");
    expect(await requests.request(ROOM, "$root", ALICE, "command")).toMatchObject({ afterEventId: "$t1", upToEventId: "$t2", messageCount: 1 });
  });

  it("refuses when nothing is new since the last filing", async () => {
    const { requests, filed, filings } = await setup();
    await filed("DocumentReference/1", "$3");
    expect((await refusalOf(requests.request(ROOM, null, ALICE, "command"))).message).toBe("There is nothing new to file since the last filing.");
    expect(filings.filings.size).toBe(0);
  });

  it("refuses without a record destination or a linked patient, creating nothing", async () => {
    const unconfigured = await setup({ destinationConfigured: false });
    expect((await refusalOf(unconfigured.requests.request(ROOM, null, ALICE, "command"))).message).toMatch(/^Filing to the record is not set up/);
    const { requests, filings } = await setup();
    expect((await refusalOf(requests.request("!unlinked:trust-a.test", null, ALICE, "command"))).message).toMatch(/^No patient is linked/);
    expect(unconfigured.filings.filings.size + filings.filings.size).toBe(0);
  });

  it("refuses a second filing while one of the same conversation is being sent, so nothing is filed twice", async () => {
    const { requests } = await setup();
    const first = await requests.request(ROOM, null, ALICE, "command");
    await requests.confirmByCode(ROOM, first.confirmCode as string, BOB);
    const second = await refusalOf(requests.request(ROOM, null, ALICE, "command"));
    expect(second).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/still in progress \(sending\)/) });
  });
});

describe("confirming a filing", () => {
  it("is done once: the code is spent, so a second confirmation finds nothing to confirm", async () => {
    const { requests, filings, audit } = await setup();
    const filing = await requests.request(ROOM, null, ALICE, "command");
    const confirmed = await requests.confirmByCode(ROOM, "code01", BOB);
    expect(confirmed).toMatchObject({ status: "sending", confirmedBy: BOB, nextAttemptAt: expect.any(Date) });
    expect(filings.filings.get(filing.exportId)).toMatchObject({ status: "sending", confirmedBy: BOB });
    expect((await refusalOf(requests.confirmByCode(ROOM, "CODE01", BOB))).code).toBe("NOT_FOUND");
    expect((await refusalOf(requests.confirm(confirmed, BOB, "portal"))).code).toBe("CONFLICT");
    expect(audit.actions().filter((action) => action === "records.filing_confirmed")).toHaveLength(1);
  });

  it("cancels a filing not confirmed in time", async () => {
    const { requests, filings, clock } = await setup();
    const filing = await requests.request(ROOM, null, ALICE, "command");
    clock.advance(TTL + 1);
    expect((await refusalOf(requests.confirmByCode(ROOM, "CODE01", BOB))).message).toMatch(/not confirmed in time and has been cancelled/);
    expect(filings.filings.get(filing.exportId)).toMatchObject({ status: "cancelled", confirmedBy: null });
  });

  it("in the room, lets the confirmation policy refuse the requester and a partner trust's member, audited", async () => {
    const { requests, filings, audit } = await setup({ policy: "another-member" });
    const filing = await requests.request(ROOM, null, ALICE, "command");
    expect((await refusalOf(requests.confirmByCode(ROOM, "CODE01", ALICE))).code).toBe("FORBIDDEN");
    expect((await refusalOf(requests.confirmByCode(ROOM, "CODE01", "@bea:trust-b.test"))).message).toMatch(/^Only this trust's own staff/);
    expect(filings.filings.get(filing.exportId)?.status).toBe("awaiting_confirmation");
    expect(audit.actions().filter((action) => action === "records.filing_confirmation_refused")).toHaveLength(2);
    expect(requests.whoConfirms(filing)).toBe(`A member of this room other than ${ALICE}`);
  });

  it("under any-member, the requester may confirm their own filing", async () => {
    const { requests } = await setup({ policy: "any-member" });
    const filing = await requests.request(ROOM, null, ALICE, "command");
    expect(requests.whoConfirms(filing)).toBe("A member of this room (you included)");
    expect((await requests.confirmByCode(ROOM, "CODE01", ALICE)).status).toBe("sending");
  });
});
