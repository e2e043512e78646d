import type { DataSource } from "typeorm";
import type { DirectoryStanding, DirectoryStandingReader } from "../domain/devices/model.js";
import type { StaleSweep } from "../domain/devices/person-devices.js";
import type { PostureCounts } from "../domain/devices/posture-metrics.js";
import type { PassKind, PostureSnapshot, PostureSnapshotStore } from "../domain/devices/posture-pass.js";
import type { NewStaleSweep, StaleSweepStore } from "../domain/devices/sessions-service.js";

/** Directory sync's identities: present and not left means still in the directory. */
export class PostgresDirectoryStanding implements DirectoryStandingReader {
  constructor(private readonly db: DataSource) {}

  async standing(userIds: readonly string[]): Promise<Map<string, DirectoryStanding>> {
    if (userIds.length === 0) return new Map();
    const rows = (await this.db.query("SELECT user_id, left_at FROM directory_identities WHERE user_id = ANY($1::text[])", [userIds])) as {
      user_id: string;
      left_at: Date | null;
    }[];
    return new Map(rows.map((row) => [row.user_id, row.left_at === null ? "in-directory" : "left"]));
  }
}

interface SweepRow {
  id: number;
  status: StaleSweep["status"];
  requested_by: string;
  requested_at: Date;
  reason: string;
  sessions: { userId: string; deviceId: string; lastSeenAt: string | null }[];
  approval_above: number;
  decided_by: string | null;
  decided_at: Date | null;
}

const toSweep = (row: SweepRow): StaleSweep => ({
  id: Number(row.id),
  status: row.status,
  requestedBy: row.requested_by,
  requestedAt: row.requested_at.toISOString(),
  reason: row.reason,
  sessions: row.sessions,
  approvalAbove: row.approval_above,
  decidedBy: row.decided_by,
  decidedAt: row.decided_at?.toISOString() ?? null,
});

export class PostgresStaleSweepStore implements StaleSweepStore {
  constructor(private readonly db: DataSource) {}

  async create(sweep: NewStaleSweep): Promise<StaleSweep> {
    const sessions = sweep.sessions.map((session) => ({
      userId: session.userId,
      deviceId: session.deviceId,
      lastSeenAt: session.lastSeenAt?.toISOString() ?? null,
    }));
    const applied = sweep.status === "applied";
    const rows = (await this.db.query(
      `INSERT INTO device_stale_sweeps (status, requested_by, requested_at, reason, sessions, approval_above, decided_by, decided_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) RETURNING *`,
      [
        sweep.status,
        sweep.requestedBy,
        sweep.requestedAt,
        sweep.reason,
        JSON.stringify(sessions),
        sweep.approvalAbove,
        applied ? sweep.requestedBy : null,
        applied ? sweep.requestedAt : null,
      ],
    )) as SweepRow[];
    return toSweep(rows[0] as SweepRow);
  }

  async get(id: number): Promise<StaleSweep | null> {
    const rows = (await this.db.query("SELECT * FROM device_stale_sweeps WHERE id = $1", [id])) as SweepRow[];
    return rows[0] ? toSweep(rows[0]) : null;
  }

  async list(limit: number): Promise<StaleSweep[]> {
    return ((await this.db.query("SELECT * FROM device_stale_sweeps ORDER BY id DESC LIMIT $1", [limit])) as SweepRow[]).map(toSweep);
  }

  async decide(id: number, status: "applied" | "rejected", decidedBy: string, at: Date): Promise<boolean> {
    const [, affected] = (await this.db.query(
      "UPDATE device_stale_sweeps SET status = $2, decided_by = $3, decided_at = $4 WHERE id = $1 AND status = 'held'",
      [id, status, decidedBy, at],
    )) as [unknown, number];
    return affected === 1;
  }
}

export class PostgresPostureSnapshotStore implements PostureSnapshotStore {
  constructor(private readonly db: DataSource) {}

  async save(snapshot: PostureSnapshot): Promise<void> {
    await this.db.query(
      `INSERT INTO device_posture_snapshots (day, taken_at, counts, admin_calls, kind, people_read) VALUES ($1, $2, $3::jsonb, $4, $5, $6)
       ON CONFLICT (day) DO UPDATE SET taken_at = excluded.taken_at, counts = excluded.counts, admin_calls = excluded.admin_calls,
         kind = excluded.kind, people_read = excluded.people_read`,
      [snapshot.day, snapshot.takenAt, JSON.stringify(snapshot.counts), snapshot.adminCalls, snapshot.kind, snapshot.peopleRead],
    );
  }

  async recent(days: number): Promise<PostureSnapshot[]> {
    const rows = (await this.db.query(
      "SELECT to_char(day, 'YYYY-MM-DD') AS day, taken_at, counts, admin_calls, kind, people_read FROM device_posture_snapshots ORDER BY day DESC LIMIT $1",
      [days],
    )) as { day: string; taken_at: Date; counts: PostureCounts; admin_calls: number; kind: PassKind; people_read: number | null }[];
    return rows.map((row) => ({
      day: row.day,
      takenAt: row.taken_at,
      counts: row.counts,
      adminCalls: row.admin_calls,
      kind: row.kind,
      // Snapshots from before incremental passes read everyone.
      peopleRead: row.people_read ?? row.counts.people,
    }));
  }
}
