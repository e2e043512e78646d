import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import { MemoryFilingLedger, MemoryFilingStore } from "../../testing/records-fakes.js";
import { HandoverError } from "../errors.js";
import type { FiledDocument, Filing, FilingReceipt } from "./filing.js";
import { backoffMs, FilingAttempts } from "./filing-attempts.js";
import type { NhsNumber } from "./nhs-number.js";
import { type RecordDestination, RecordSystemError } from "./record-destination.js";

/** A record system with conditional create: one DocumentReference per export id, however often it is sent. */
class FakeRecordSystem implements RecordDestination {
  readonly kind = "fhir" as const;
  readonly documents = new Map<string, string>();
  down = false;
  sends = 0;
  readonly sentBundles: string[] = [];
  async deliver(exportId: string, document: FiledDocument): Promise<FilingReceipt> {
    this.sends++;
    this.sentBundles.push(document.bundleJson);
    if (this.down) throw new RecordSystemError("unavailable", "HTTP 503");
    if (!this.documents.has(exportId)) this.documents.set(exportId, `DocumentReference/${this.documents.size + 1}`);
    return { destination: "fhir", documentReference: this.documents.get(exportId) as string, versionId: "1", entries: [], acceptedAt: "" };
  }
}

function setUp(storedProblems: (document: FiledDocument) => string[] = () => [], composeError: Error | null = null) {
  const clock = new FakeClock();
  const filings = new MemoryFilingStore();
  const ledger = new MemoryFilingLedger();
  const records = new FakeRecordSystem();
  const notices: string[] = [];
  const audit = new RecordingAudit();
  let composed = 0;
  const attempts = new FilingAttempts({
    filings,
    compose: async () => {
      composed++;
      if (composeError) throw composeError;
      return {
        pdf: new Uint8Array([1]),
        bundleJson: "{}",
        eventIds: ["$1", "$2"],
        capture: { captured: [{ eventId: "$1", ts: new Date(1) }], uncaptured: [{ eventId: "$2", ts: new Date(2) }] },
      };
    },
    validateStored: storedProblems,
    destination: records,
    ledger,
    notifier: { notice: async (_room, text) => void notices.push(text) },
    audit,
    clock,
    retry: { initialDelayMs: 60_000, maxDelayMs: 600_000, maxAttempts: 3, leaseMs: 300_000 },
    formatTime: (at) => at.toISOString(),
  });
  const filing: Filing = {
    exportId: "exp-1",
    roomId: "!room:trust-a.test",
    threadRootId: null,
    patient: { nhsNumber: "9434765919" as NhsNumber, name: null, birthDate: null, verified: false },
    status: "sending",
    confirmCode: "ABC234",
    requestedBy: "@alice:trust-a.test",
    requestedAt: clock.now(),
    confirmedBy: "@bob:trust-a.test",
    confirmedAt: clock.now(),
    afterEventId: null,
    upToEventId: "$last",
    upToTs: clock.now(),
    firstTs: clock.now(),
    messageCount: 3,
    attempts: 0,
    nextAttemptAt: clock.now(),
    lastError: null,
    filedAt: null,
    receipt: null,
  };
  return { clock, filings, ledger, records, notices, audit, attempts, filing, composed: () => composed };
}

describe("filing attempts", () => {
  it("files, hands the range and what the document captured to retention, and tells the room who filed it", async () => {
    const { filings, ledger, notices, attempts, filing, audit } = setUp();
    await filings.create(filing);
    const filed = await attempts.attempt("exp-1");
    expect(filed).toMatchObject({ status: "filed", receipt: { documentReference: "DocumentReference/1" }, attempts: 1 });
    expect(ledger.ranges.get("exp-1")).toMatchObject({ upToEventId: "$last", filedBy: "@bob:trust-a.test" });
    expect(ledger.captures.get("exp-1")).toEqual({ captured: [{ eventId: "$1", ts: new Date(1) }], uncaptured: [{ eventId: "$2", ts: new Date(2) }] });
    expect(notices).toEqual(["Filed to the record as DocumentReference/1 by @bob:trust-a.test (3 messages)."]);
    expect(audit.actions()).toEqual(["records.filed"]);
  });

  it("record system down: nothing filed, the room is told, retried after the backoff", async () => {
    const { clock, filings, ledger, records, notices, attempts, filing } = setUp();
    await filings.create(filing);
    records.down = true;
    expect(await attempts.attempt("exp-1")).toMatchObject({ status: "retrying", attempts: 1, lastError: expect.stringContaining("unavailable") });
    expect(ledger.ranges.size).toBe(0);
    expect(notices[0]).toMatch(/^Filing to the record failed \(attempt 1\).*Nothing has been marked as filed/);
    expect(await attempts.attemptDue()).toBe(0);
    records.down = false;
    clock.advance(backoffMs({ initialDelayMs: 60_000, maxDelayMs: 600_000, maxAttempts: 3, leaseMs: 0 }, 1));
    expect(await attempts.attemptDue()).toBe(1);
    expect((await filings.get("exp-1"))?.status).toBe("filed");
    expect(ledger.ranges.size).toBe(1);
  });

  it("a crash after the record system accepted it, before the receipt is stored, still files once", async () => {
    const { clock, filings, ledger, records, attempts, filing, composed } = setUp();
    await filings.create(filing);
    filings.crashed = true;
    await expect(attempts.attempt("exp-1")).rejects.toThrow("process died");
    filings.crashed = false;
    expect((await filings.get("exp-1"))?.status).toBe("sending");
    expect(records.documents.size).toBe(1);
    // Until the lease runs out nobody else takes it; afterwards the retry sends the same bundle again.
    expect(await attempts.attemptDue()).toBe(0);
    clock.advance(300_000);
    expect(await attempts.attemptDue()).toBe(1);
    expect((await filings.get("exp-1"))?.status).toBe("filed");
    expect(records.sends).toBe(2);
    expect(records.documents.size).toBe(1);
    expect(ledger.ranges.size).toBe(1);
    expect(composed()).toBe(1);
  });

  it("gives up after the last attempt, and a person can retry it", async () => {
    const { clock, filings, records, attempts, filing } = setUp();
    await filings.create(filing);
    records.down = true;
    for (let attempt = 0; attempt < 3; attempt++) {
      await attempts.attempt("exp-1");
      clock.advance(600_000);
    }
    expect(await filings.get("exp-1")).toMatchObject({ status: "failed", attempts: 3, nextAttemptAt: null });
    records.down = false;
    expect(await attempts.retryNow("exp-1", "@ig:trust-a.test")).toMatchObject({ status: "filed" });
  });

  it("never sends a stored bundle that fails UK Core validation: it is composed again, replaced, and the new one filed", async () => {
    const oldBundle = '{"stored":"by an earlier version"}';
    const { filings, records, attempts, filing, composed } = setUp((document) =>
      document.bundleJson === oldBundle
        ? ["Bundle.entry[0].resource.subject.identifier.extension[0]: extension … is not allowed on DocumentReference.subject.identifier"]
        : [],
    );
    await filings.create(filing);
    const nothingCaptured = { captured: [], uncaptured: [{ eventId: "$old", ts: new Date(1) }] };
    await filings.saveDocument("exp-1", { pdf: new Uint8Array([1]), bundleJson: oldBundle, eventIds: ["$old"], capture: nothingCaptured });
    expect(await attempts.attempt("exp-1")).toMatchObject({ status: "filed" });
    expect(composed()).toBe(1);
    expect(records.sentBundles).toEqual(["{}"]);
    // The document sent replaces the kept one, with what it captures: retention reads that.
    expect(await filings.document("exp-1")).toEqual({
      pdf: new Uint8Array([1]),
      bundleJson: "{}",
      eventIds: ["$old"],
      capture: { captured: [{ eventId: "$1", ts: new Date(1) }], uncaptured: [{ eventId: "$2", ts: new Date(2) }] },
    });
  });

  it("a bundle the composer refuses (UK Core validation) fails at once: nothing stored, nothing sent", async () => {
    const refusal = new HandoverError("VALIDATION_FAILED", "The filing did not pass FHIR validation: Bundle.entry[0].resource.status: …");
    const { filings, records, attempts, filing } = setUp(undefined, refusal);
    await filings.create(filing);
    expect(await attempts.attempt("exp-1")).toMatchObject({ status: "failed", nextAttemptAt: null, lastError: refusal.message });
    expect(records.sends).toBe(0);
    expect(filings.documents.size).toBe(0);
  });

  it("backs off exponentially up to the maximum", () => {
    const policy = { initialDelayMs: 60_000, maxDelayMs: 600_000, maxAttempts: 10, leaseMs: 0 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(policy, n))).toEqual([60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
  });
});
