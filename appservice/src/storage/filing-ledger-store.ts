import type { DataSource } from "typeorm";
import type { FiledRange, FilingCapture, FilingLedger } from "../domain/filing/filed-range.js";

interface FiledRangeRow {
  filing_ref: string;
  room_id: string;
  up_to_event_id: string;
  up_to_ts: Date;
  thread_root_id: string | null;
  filed_at: Date;
  filed_by: string;
}

function toRange(row: FiledRangeRow): FiledRange {
  return {
    filingRef: row.filing_ref,
    roomId: row.room_id,
    upToEventId: row.up_to_event_id,
    upToTs: row.up_to_ts,
    threadRootId: row.thread_root_id,
    filedAt: row.filed_at,
    filedBy: row.filed_by,
  };
}

export class PostgresFilingLedger implements FilingLedger {
  constructor(private readonly db: DataSource) {}

  async recordFiled(range: FiledRange, capture: FilingCapture): Promise<void> {
    const events = [...capture.captured.map((event) => ({ ...event, captured: true })), ...capture.uncaptured.map((event) => ({ ...event, captured: false }))];
    // One statement: retention never sees a range without the capture that says what it holds.
    await this.db.query(
      `WITH kept AS (
         INSERT INTO filed_ranges (filing_ref, room_id, up_to_event_id, up_to_ts, thread_root_id, filed_at, filed_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (filing_ref) DO NOTHING RETURNING filing_ref, room_id
       )
       INSERT INTO filed_range_events (filing_ref, room_id, event_id, ts, captured)
       SELECT kept.filing_ref, kept.room_id, e.event_id, e.ts, e.captured
       FROM kept, unnest($8::text[], $9::timestamptz[], $10::boolean[]) AS e(event_id, ts, captured)
       ON CONFLICT (filing_ref, event_id) DO NOTHING`,
      [
        range.filingRef,
        range.roomId,
        range.upToEventId,
        range.upToTs,
        range.threadRootId,
        range.filedAt,
        range.filedBy,
        events.map((event) => event.eventId),
        events.map((event) => event.ts),
        events.map((event) => event.captured),
      ],
    );
  }

  async latestFiled(roomId: string): Promise<FiledRange | null> {
    const [row] = (await this.db.query("SELECT * FROM filed_ranges WHERE room_id = $1 AND thread_root_id IS NULL ORDER BY up_to_ts DESC LIMIT 1", [
      roomId,
    ])) as FiledRangeRow[];
    return row ? toRange(row) : null;
  }

  async filedRanges(roomId: string): Promise<FiledRange[]> {
    const rows = (await this.db.query("SELECT * FROM filed_ranges WHERE room_id = $1 ORDER BY up_to_ts", [roomId])) as FiledRangeRow[];
    return rows.map(toRange);
  }
}
