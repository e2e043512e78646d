import type { FilingCapture } from "../filing/filed-range.js";
import type { FilingStatus } from "./filing-status.js";
import type { PatientDetails } from "./patient.js";

export type { FilingStatus };

/** What the record system answered: the ids and versions it gave each resource. */
export interface FilingReceipt {
  destination: "fhir" | "file-drop";
  /** "DocumentReference/<id>" on a FHIR server, the file's path for a file drop. */
  documentReference: string;
  /** Version the server gave the DocumentReference, when it says. */
  versionId: string | null;
  entries: { location: string; status: string }[];
  acceptedAt: string;
}

/** One conversation (or thread) on its way into the patient's record. */
export interface Filing {
  /** Stable: DocumentReference.identifier and the conditional-create key. */
  exportId: string;
  roomId: string;
  threadRootId: string | null;
  patient: PatientDetails;
  status: FilingStatus;
  /** What a room member sends to confirm: `!handover confirm <code>`. */
  confirmCode: string | null;
  requestedBy: string;
  requestedAt: Date;
  confirmedBy: string | null;
  confirmedAt: Date | null;
  afterEventId: string | null;
  upToEventId: string;
  upToTs: Date;
  firstTs: Date;
  messageCount: number;
  attempts: number;
  nextAttemptAt: Date | null;
  lastError: string | null;
  filedAt: Date | null;
  receipt: FilingReceipt | null;
}

export type FilingChanges = Partial<
  Pick<Filing, "status" | "confirmedBy" | "confirmedAt" | "attempts" | "nextAttemptAt" | "lastError" | "filedAt" | "receipt">
>;

/** The filed document kept for download, and the bundle as sent (so retries send the same). */
export interface FiledDocument {
  pdf: Uint8Array;
  bundleJson: string;
  /** The Matrix events filed (one per message): no other filing files them again. */
  eventIds: string[];
  /** Which events the document holds and which it only names: what retention may treat as filed. */
  capture: FilingCapture;
}

export interface FilingStore {
  create(filing: Filing): Promise<void>;
  get(exportId: string): Promise<Filing | null>;
  awaitingConfirmation(roomId: string, code: string): Promise<Filing | null>;
  /** Filings of a room (or thread) not yet filed, failed or cancelled. */
  open(roomId: string, threadRootId: string | null): Promise<Filing[]>;
  list(limit: number): Promise<Filing[]>;
  update(exportId: string, changes: FilingChanges): Promise<void>;
  /**
   * Takes the next attempt: true only when the filing is sending or retrying and its next
   * attempt is due, moving that to `leaseUntil` so no one else attempts it meanwhile.
   */
  claim(exportId: string, now: Date, leaseUntil: Date): Promise<boolean>;
  /** Filings whose next attempt is due, oldest first. */
  due(now: Date, limit: number): Promise<string[]>;
  /** Keeps the document and its events, once: a second save of the same export changes nothing. */
  saveDocument(exportId: string, document: FiledDocument): Promise<void>;
  /**
   * Replaces a kept document's PDF and bundle, its events unchanged: only for a kept bundle that
   * fails validation (kept by an earlier version of Handover) and was composed again.
   */
  replaceDocument(exportId: string, document: Pick<FiledDocument, "pdf" | "bundleJson" | "capture">): Promise<void>;
  /** Events of a room already held by the documents of its other filings (room or thread). */
  eventsFiledElsewhere(roomId: string, exceptExportId: string | null): Promise<ReadonlySet<string>>;
  document(exportId: string): Promise<FiledDocument | null>;
}
