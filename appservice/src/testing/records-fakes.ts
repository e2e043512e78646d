import type { FiledRange, FilingCapture, FilingLedger } from "../domain/filing/filed-range.js";
import type { FiledDocument, Filing, FilingChanges, FilingStore } from "../domain/records/filing.js";
import type { PatientLink, PatientLinkStore } from "../domain/records/patient.js";
import type { PatientLookupEntry, PatientLookupLog } from "../domain/records/patient-lookup-gate.js";

/** Hand-written fakes of the records domain's ports, with the rules of the Postgres stores they stand for. */

const CLOSED: readonly Filing["status"][] = ["filed", "failed", "cancelled"];

export class MemoryFilingStore implements FilingStore {
  readonly filings = new Map<string, Filing>();
  readonly documents = new Map<string, FiledDocument>();
  /** Simulates the process dying: every update fails until the "restart" clears it. */
  crashed = false;
  async create(filing: Filing) {
    this.filings.set(filing.exportId, { ...filing });
  }
  async get(exportId: string) {
    const filing = this.filings.get(exportId);
    return filing ? { ...filing } : null;
  }
  async awaitingConfirmation(roomId: string, code: string) {
    const filing = [...this.filings.values()].find((f) => f.roomId === roomId && f.status === "awaiting_confirmation" && f.confirmCode === code);
    return filing ? { ...filing } : null;
  }
  async open(roomId: string, threadRootId: string | null) {
    return [...this.filings.values()].filter((f) => f.roomId === roomId && f.threadRootId === threadRootId && !CLOSED.includes(f.status));
  }
  async list() {
    return [...this.filings.values()];
  }
  async update(exportId: string, changes: FilingChanges) {
    if (this.crashed) throw new Error("process died");
    Object.assign(this.filings.get(exportId) as Filing, changes);
  }
  async claim(exportId: string, now: Date, leaseUntil: Date) {
    const filing = this.filings.get(exportId);
    if (!filing || (filing.status !== "sending" && filing.status !== "retrying")) return false;
    if (filing.nextAttemptAt && filing.nextAttemptAt > now) return false;
    filing.nextAttemptAt = leaseUntil;
    return true;
  }
  async due(now: Date) {
    return [...this.filings.values()]
      .filter((f) => (f.status === "sending" || f.status === "retrying") && f.nextAttemptAt && f.nextAttemptAt <= now)
      .map((f) => f.exportId);
  }
  async saveDocument(exportId: string, document: FiledDocument) {
    if (!this.documents.has(exportId)) this.documents.set(exportId, document);
  }
  async replaceDocument(exportId: string, document: Pick<FiledDocument, "pdf" | "bundleJson" | "capture">) {
    const kept = this.documents.get(exportId);
    if (kept) this.documents.set(exportId, { ...kept, pdf: document.pdf, bundleJson: document.bundleJson, capture: document.capture });
  }
  async document(exportId: string) {
    return this.documents.get(exportId) ?? null;
  }
  async eventsFiledElsewhere(roomId: string, exceptExportId: string | null) {
    const others = [...this.documents].filter(([exportId]) => exportId !== exceptExportId && this.filings.get(exportId)?.roomId === roomId);
    return new Set(others.flatMap(([, document]) => document.eventIds));
  }
}

/** Filed ranges, one per filing reference, in the order they were filed. */
export class MemoryFilingLedger implements FilingLedger {
  readonly ranges = new Map<string, FiledRange>();
  readonly captures = new Map<string, FilingCapture>();
  async recordFiled(range: FiledRange, capture: FilingCapture) {
    if (this.ranges.has(range.filingRef)) return;
    this.ranges.set(range.filingRef, range);
    this.captures.set(range.filingRef, capture);
  }
  async latestFiled(roomId: string) {
    return (await this.filedRanges(roomId)).filter((range) => range.threadRootId === null).at(-1) ?? null;
  }
  async filedRanges(roomId: string) {
    return [...this.ranges.values()].filter((range) => range.roomId === roomId);
  }
}

export class MemoryPatientLinks implements PatientLinkStore {
  readonly links = new Map<string, PatientLink>();
  async save(link: PatientLink) {
    this.links.set(`${link.roomId}|${link.threadRootId ?? ""}`, link);
  }
  async find(roomId: string, threadRootId: string | null) {
    return this.links.get(`${roomId}|${threadRootId ?? ""}`) ?? this.links.get(`${roomId}|`) ?? null;
  }
  async list() {
    return [...this.links.values()];
  }
}

/** The lookup log's rules (limit per actor, refusals not counted) over an array. */
export class MemoryLookupLog implements PatientLookupLog {
  readonly entries: (PatientLookupEntry & { id: string })[] = [];
  async addWithinLimit(entry: PatientLookupEntry, since: Date, max: number): Promise<string | null> {
    const counted = this.entries.filter((e) => e.actor === entry.actor && e.at > since && !e.outcome.startsWith("refused-"));
    if (counted.length >= max) return null;
    const id = String(this.entries.length + 1);
    this.entries.push({ ...entry, id });
    return id;
  }
  async add(entry: PatientLookupEntry): Promise<void> {
    this.entries.push({ ...entry, id: String(this.entries.length + 1) });
  }
  async settle(id: string, outcome: PatientLookupEntry["outcome"]): Promise<void> {
    const entry = this.entries.find((e) => e.id === id);
    if (entry) entry.outcome = outcome;
  }
  async byHash(hash: string): Promise<PatientLookupEntry[]> {
    return this.entries.filter((e) => e.nhsNumberHash === hash).reverse();
  }
}
