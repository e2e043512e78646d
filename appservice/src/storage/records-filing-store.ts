import type { DataSource } from "typeorm";
import type { FilingCapture } from "../domain/filing/filed-range.js";
import type { FiledDocument, Filing, FilingChanges, FilingReceipt, FilingStatus, FilingStore } from "../domain/records/filing.js";
import type { NhsNumber } from "../domain/records/nhs-number.js";

interface StoredCapture {
  captured: { eventId: string; ts: string }[];
  uncaptured: { eventId: string; ts: string }[];
}

/** A document kept before captures were recorded holds, as far as retention knows, nothing. */
function captureOfRow(stored: StoredCapture | null): FilingCapture {
  const events = (list: StoredCapture["captured"] | undefined) => (list ?? []).map((event) => ({ eventId: event.eventId, ts: new Date(event.ts) }));
  return { captured: events(stored?.captured), uncaptured: events(stored?.uncaptured) };
}

interface FilingRow {
  export_id: string;
  room_id: string;
  thread_root_id: string | null;
  nhs_number: string;
  patient_name: string | null;
  birth_date: string | null;
  nhs_number_verified: boolean;
  status: FilingStatus;
  confirm_code: string | null;
  requested_by: string;
  requested_at: Date;
  confirmed_by: string | null;
  confirmed_at: Date | null;
  after_event_id: string | null;
  up_to_event_id: string;
  up_to_ts: Date;
  first_ts: Date;
  message_count: number;
  attempts: number;
  next_attempt_at: Date | null;
  last_error: string | null;
  filed_at: Date | null;
  receipt: FilingReceipt | null;
}

const COLUMN_OF: Record<keyof FilingChanges, string> = {
  status: "status",
  confirmedBy: "confirmed_by",
  confirmedAt: "confirmed_at",
  attempts: "attempts",
  nextAttemptAt: "next_attempt_at",
  lastError: "last_error",
  filedAt: "filed_at",
  receipt: "receipt",
};

function toFiling(row: FilingRow): Filing {
  return {
    exportId: row.export_id,
    roomId: row.room_id,
    threadRootId: row.thread_root_id,
    patient: { nhsNumber: row.nhs_number as NhsNumber, name: row.patient_name, birthDate: row.birth_date, verified: row.nhs_number_verified },
    status: row.status,
    confirmCode: row.confirm_code,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at,
    confirmedBy: row.confirmed_by,
    confirmedAt: row.confirmed_at,
    afterEventId: row.after_event_id,
    upToEventId: row.up_to_event_id,
    upToTs: row.up_to_ts,
    firstTs: row.first_ts,
    messageCount: row.message_count,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    filedAt: row.filed_at,
    receipt: row.receipt,
  };
}

/** Filings and their documents in PostgreSQL. */
export class PostgresFilingStore implements FilingStore {
  constructor(private readonly db: DataSource) {}

  async create(filing: Filing): Promise<void> {
    await this.db.query(
      `INSERT INTO records_filings (export_id, room_id, thread_root_id, nhs_number, patient_name, birth_date, status, confirm_code, requested_by,
         requested_at, confirmed_by, confirmed_at, after_event_id, up_to_event_id, up_to_ts, first_ts, message_count, attempts, next_attempt_at, nhs_number_verified)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
      [
        filing.exportId,
        filing.roomId,
        filing.threadRootId,
        filing.patient.nhsNumber,
        filing.patient.name,
        filing.patient.birthDate,
        filing.status,
        filing.confirmCode,
        filing.requestedBy,
        filing.requestedAt,
        filing.confirmedBy,
        filing.confirmedAt,
        filing.afterEventId,
        filing.upToEventId,
        filing.upToTs,
        filing.firstTs,
        filing.messageCount,
        filing.attempts,
        filing.nextAttemptAt,
        filing.patient.verified,
      ],
    );
  }

  async get(exportId: string): Promise<Filing | null> {
    const [row] = (await this.db.query("SELECT * FROM records_filings WHERE export_id = $1", [exportId])) as FilingRow[];
    return row ? toFiling(row) : null;
  }

  async awaitingConfirmation(roomId: string, code: string): Promise<Filing | null> {
    const [row] = (await this.db.query(
      "SELECT * FROM records_filings WHERE room_id = $1 AND confirm_code = $2 AND status = 'awaiting_confirmation' ORDER BY requested_at DESC LIMIT 1",
      [roomId, code],
    )) as FilingRow[];
    return row ? toFiling(row) : null;
  }

  async open(roomId: string, threadRootId: string | null): Promise<Filing[]> {
    const rows = (await this.db.query(
      `SELECT * FROM records_filings WHERE room_id = $1 AND thread_root_id IS NOT DISTINCT FROM $2
         AND status IN ('awaiting_confirmation', 'sending', 'retrying') ORDER BY requested_at`,
      [roomId, threadRootId],
    )) as FilingRow[];
    return rows.map(toFiling);
  }

  async list(limit: number): Promise<Filing[]> {
    const rows = (await this.db.query("SELECT * FROM records_filings ORDER BY requested_at DESC LIMIT $1", [limit])) as FilingRow[];
    return rows.map(toFiling);
  }

  async update(exportId: string, changes: FilingChanges): Promise<void> {
    const entries = Object.entries(changes) as [keyof FilingChanges, unknown][];
    if (entries.length === 0) return;
    const sets = entries.map(([key], index) => `${COLUMN_OF[key]} = $${index + 2}`);
    const values = entries.map(([key, value]) => (key === "receipt" && value !== null ? JSON.stringify(value) : value));
    await this.db.query(`UPDATE records_filings SET ${sets.join(", ")} WHERE export_id = $1`, [exportId, ...values]);
  }

  async claim(exportId: string, now: Date, leaseUntil: Date): Promise<boolean> {
    const rows = (await this.db.query(
      `UPDATE records_filings SET next_attempt_at = $3
       WHERE export_id = $1 AND status IN ('sending', 'retrying') AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
       RETURNING export_id`,
      [exportId, now, leaseUntil],
    )) as [unknown[], number] | unknown[];
    // typeorm answers UPDATE ... RETURNING with [rows, count].
    const returned = Array.isArray(rows[0]) ? (rows[0] as unknown[]) : (rows as unknown[]);
    return returned.length > 0;
  }

  async due(now: Date, limit: number): Promise<string[]> {
    const rows = (await this.db.query(
      "SELECT export_id FROM records_filings WHERE status IN ('sending', 'retrying') AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
      [now, limit],
    )) as { export_id: string }[];
    return rows.map((row) => row.export_id);
  }

  async saveDocument(exportId: string, document: FiledDocument): Promise<void> {
    // One statement, so the document and its events are kept together or not at all.
    await this.db.query(
      `WITH kept AS (
         INSERT INTO records_filed_documents (export_id, pdf, bundle_json, capture) VALUES ($1, $2, $3, $5) ON CONFLICT (export_id) DO NOTHING RETURNING export_id
       )
       INSERT INTO records_filing_events (export_id, event_id) SELECT kept.export_id, event_id FROM kept, unnest($4::text[]) AS event_id`,
      [exportId, Buffer.from(document.pdf), document.bundleJson, document.eventIds, JSON.stringify(document.capture)],
    );
  }

  /** The capture goes with the document: retention must know what the document now sent holds. */
  async replaceDocument(exportId: string, document: Pick<FiledDocument, "pdf" | "bundleJson" | "capture">): Promise<void> {
    await this.db.query(`UPDATE records_filed_documents SET pdf = $2, bundle_json = $3, capture = $4 WHERE export_id = $1`, [
      exportId,
      Buffer.from(document.pdf),
      document.bundleJson,
      JSON.stringify(document.capture),
    ]);
  }

  async eventsFiledElsewhere(roomId: string, exceptExportId: string | null): Promise<ReadonlySet<string>> {
    const rows = (await this.db.query(
      `SELECT e.event_id FROM records_filing_events e JOIN records_filings f USING (export_id)
       WHERE f.room_id = $1 AND f.export_id IS DISTINCT FROM $2 AND f.status <> 'cancelled'`,
      [roomId, exceptExportId],
    )) as { event_id: string }[];
    return new Set(rows.map((row) => row.event_id));
  }

  async document(exportId: string): Promise<FiledDocument | null> {
    const [row] = (await this.db.query(
      `SELECT pdf, bundle_json, capture, ARRAY(SELECT event_id FROM records_filing_events e WHERE e.export_id = d.export_id) AS event_ids
       FROM records_filed_documents d WHERE export_id = $1`,
      [exportId],
    )) as { pdf: Buffer; bundle_json: string; capture: StoredCapture | null; event_ids: string[] }[];
    return row ? { pdf: new Uint8Array(row.pdf), bundleJson: row.bundle_json, eventIds: row.event_ids, capture: captureOfRow(row.capture) } : null;
  }
}
