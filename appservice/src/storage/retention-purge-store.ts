import type { DataSource } from "typeorm";
import type { DeletionQuery, PurgeLedger, PurgeRecord } from "../domain/retention/ports.js";

interface PurgeRow {
  id: string;
  room_id: string;
  policy_id: string;
  policy_name: string;
  cutoff_ts: Date;
  reason: string;
  actor: string;
  filing_ref: string | null;
  filed_up_to_ts: Date | null;
  includes_unfiled: boolean;
  state: PurgeRecord["state"];
  from_ts: Date | null;
  event_count: number | null;
  unfiled_count: number;
  event_ids: string[] | null;
  planned_count: number | null;
  media: string[];
  media_deleted: number;
  keep_from_event_id: string | null;
  notice_event_id: string | null;
  purge_id: string | null;
  purge_requests: number;
  error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

const COLUMNS: Record<Exclude<keyof PurgeRecord, "id">, string> = {
  roomId: "room_id",
  policyId: "policy_id",
  policyName: "policy_name",
  cutoff: "cutoff_ts",
  reason: "reason",
  actor: "actor",
  filingRef: "filing_ref",
  filedUpTo: "filed_up_to_ts",
  includesUnfiled: "includes_unfiled",
  state: "state",
  fromTs: "from_ts",
  eventCount: "event_count",
  unfiledCount: "unfiled_count",
  eventIds: "event_ids",
  plannedCount: "planned_count",
  media: "media",
  mediaDeleted: "media_deleted",
  keepFromEventId: "keep_from_event_id",
  noticeEventId: "notice_event_id",
  purgeId: "purge_id",
  purgeRequests: "purge_requests",
  error: "error",
  createdAt: "created_at",
  completedAt: "completed_at",
};

function toRecord(row: PurgeRow): PurgeRecord {
  return {
    id: row.id,
    roomId: row.room_id,
    policyId: row.policy_id,
    policyName: row.policy_name,
    cutoff: row.cutoff_ts,
    reason: row.reason,
    actor: row.actor,
    filingRef: row.filing_ref,
    filedUpTo: row.filed_up_to_ts,
    includesUnfiled: row.includes_unfiled,
    state: row.state,
    fromTs: row.from_ts,
    eventCount: row.event_count,
    unfiledCount: row.unfiled_count,
    eventIds: row.event_ids,
    plannedCount: row.planned_count,
    media: row.media,
    mediaDeleted: row.media_deleted,
    keepFromEventId: row.keep_from_event_id,
    noticeEventId: row.notice_event_id,
    purgeId: row.purge_id,
    purgeRequests: row.purge_requests,
    error: row.error,
    createdAt: row.created_at,
    completedAt: row.completed_at,
  };
}

const dbValue = (key: string, value: unknown) => ((key === "media" || key === "eventIds") && value !== null ? JSON.stringify(value) : value);

export class PostgresPurgeLedger implements PurgeLedger {
  constructor(private readonly db: DataSource) {}

  async create(record: PurgeRecord): Promise<void> {
    const entries = Object.entries(COLUMNS) as [keyof typeof COLUMNS, string][];
    await this.db.query(
      `INSERT INTO retention_purges (id, ${entries.map(([, column]) => column).join(", ")})
       VALUES ($1, ${entries.map((_, i) => `$${i + 2}`).join(", ")})`,
      [record.id, ...entries.map(([key]) => dbValue(key, record[key]))],
    );
  }

  async update(id: string, fields: Partial<Omit<PurgeRecord, "id">>): Promise<void> {
    const entries = Object.entries(fields).filter(([, value]) => value !== undefined) as [keyof typeof COLUMNS, unknown][];
    if (entries.length === 0) return;
    await this.db.query(`UPDATE retention_purges SET ${entries.map(([key], i) => `${COLUMNS[key]} = $${i + 2}`).join(", ")} WHERE id = $1`, [
      id,
      ...entries.map(([key, value]) => dbValue(key, value)),
    ]);
  }

  async open(): Promise<PurgeRecord[]> {
    const rows = (await this.db.query("SELECT * FROM retention_purges WHERE state NOT IN ('complete', 'failed', 'stopped') ORDER BY created_at")) as PurgeRow[];
    return rows.map(toRecord);
  }

  async completed(query: DeletionQuery): Promise<PurgeRecord[]> {
    const rows = (await this.db.query(
      `SELECT * FROM retention_purges WHERE state = 'complete' AND ($1::text IS NULL OR room_id = $1)
       ORDER BY completed_at DESC LIMIT $2`,
      [query.roomId ?? null, query.limit],
    )) as PurgeRow[];
    return rows.map(toRecord);
  }

  async remove(id: string): Promise<void> {
    await this.db.query("DELETE FROM retention_purges WHERE id = $1", [id]);
  }
}
