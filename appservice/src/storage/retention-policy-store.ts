import type { DataSource } from "typeorm";
import { HandoverError } from "../domain/errors.js";
import type { LegalHold } from "../domain/retention/planner.js";
import type { PolicyScope, RetentionPolicy } from "../domain/retention/policy.js";
import type { HoldStore, PolicyStore, RoomDeletionLock } from "../domain/retention/ports.js";
import type { RoomKind } from "../domain/rooms/room-kind.js";

interface PolicyRow {
  id: string;
  name: string;
  scope_type: PolicyScope["type"];
  scope_value: string;
  max_age_ms: string | null;
  delete_after_filing_ms: string | null;
  allow_unfiled_deletion: boolean;
  min_age_ms: string;
  warn_before_ms: string;
  updated_by: string;
  updated_at: Date;
}

const num = (value: string | null) => (value === null ? null : Number(value));

function scopeOf(row: PolicyRow): PolicyScope {
  if (row.scope_type === "room") return { type: "room", roomId: row.scope_value };
  if (row.scope_type === "space") return { type: "space", spaceId: row.scope_value };
  return { type: "kind", kind: row.scope_value as RoomKind };
}

function scopeValue(scope: PolicyScope): string {
  return scope.type === "room" ? scope.roomId : scope.type === "space" ? scope.spaceId : scope.kind;
}

function toPolicy(row: PolicyRow): RetentionPolicy {
  return {
    id: row.id,
    name: row.name,
    scope: scopeOf(row),
    builtIn: false,
    maxAgeMs: num(row.max_age_ms),
    deleteAfterFilingMs: num(row.delete_after_filing_ms),
    allowUnfiledDeletion: row.allow_unfiled_deletion,
    minAgeMs: Number(row.min_age_ms),
    warnBeforeMs: Number(row.warn_before_ms),
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  };
}

export class PostgresPolicyStore implements PolicyStore {
  constructor(private readonly db: DataSource) {}

  async list(): Promise<RetentionPolicy[]> {
    const rows = (await this.db.query("SELECT * FROM retention_policies ORDER BY scope_type, name")) as PolicyRow[];
    return rows.map(toPolicy);
  }

  async get(id: string): Promise<RetentionPolicy | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const [row] = (await this.db.query("SELECT * FROM retention_policies WHERE id = $1", [id])) as PolicyRow[];
    return row ? toPolicy(row) : null;
  }

  async save(policy: RetentionPolicy, actor: string): Promise<RetentionPolicy> {
    try {
      const [row] = (await this.db.query(
        `INSERT INTO retention_policies (id, name, scope_type, scope_value, max_age_ms, delete_after_filing_ms, allow_unfiled_deletion,
           min_age_ms, warn_before_ms, created_by, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, scope_type = EXCLUDED.scope_type, scope_value = EXCLUDED.scope_value,
           max_age_ms = EXCLUDED.max_age_ms, delete_after_filing_ms = EXCLUDED.delete_after_filing_ms,
           allow_unfiled_deletion = EXCLUDED.allow_unfiled_deletion, min_age_ms = EXCLUDED.min_age_ms,
           warn_before_ms = EXCLUDED.warn_before_ms, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
         RETURNING *`,
        [
          policy.id,
          policy.name,
          policy.scope.type,
          scopeValue(policy.scope),
          policy.maxAgeMs,
          policy.deleteAfterFilingMs,
          policy.allowUnfiledDeletion,
          policy.minAgeMs,
          policy.warnBeforeMs,
          actor,
          policy.updatedAt,
        ],
      )) as PolicyRow[];
      if (!row) throw new Error("policy upsert returned no row");
      return toPolicy(row);
    } catch (error) {
      if ((error as { code?: string }).code === "23505") {
        throw new HandoverError("CONFLICT", "Another policy already applies to this scope: edit that one instead", [
          { path: "scope", message: "Another policy already applies to this scope" },
        ]);
      }
      throw error;
    }
  }

  async remove(id: string): Promise<boolean> {
    const [, count] = (await this.db.query("DELETE FROM retention_policies WHERE id = $1", [id])) as [unknown, number];
    return count > 0;
  }
}

interface HoldRow {
  room_id: string;
  reason: string;
  set_by: string;
  set_at: Date;
  expires_at: Date | null;
}

/**
 * One PostgreSQL advisory lock per room, taken by placing a legal hold and by each deletion step
 * (notice, purge call): transaction-scoped, so it also orders Handover processes and is released
 * if a process dies.
 */
const ROOM_LOCK = "SELECT pg_advisory_xact_lock(hashtext('handover.retention.room'), hashtext($1))";

export class PostgresRoomDeletionLock implements RoomDeletionLock {
  constructor(private readonly db: DataSource) {}

  async whileLocked<T>(roomId: string, action: () => Promise<T>): Promise<T> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query(ROOM_LOCK, [roomId]);
      const value = await action();
      await runner.commitTransaction();
      return value;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      throw error;
    } finally {
      await runner.release();
    }
  }
}

const toHold = (row: HoldRow): LegalHold => ({ roomId: row.room_id, reason: row.reason, setBy: row.set_by, setAt: row.set_at, expiresAt: row.expires_at });

export class PostgresHoldStore implements HoldStore {
  constructor(private readonly db: DataSource) {}

  async get(roomId: string): Promise<LegalHold | null> {
    const [row] = (await this.db.query("SELECT * FROM retention_holds WHERE room_id = $1", [roomId])) as HoldRow[];
    return row ? toHold(row) : null;
  }

  async list(): Promise<LegalHold[]> {
    return ((await this.db.query("SELECT * FROM retention_holds ORDER BY set_at DESC")) as HoldRow[]).map(toHold);
  }

  /** Waits for a deletion step running in the room: once this returns, no notice or purge call starts there. */
  async put(hold: LegalHold): Promise<void> {
    await this.db.transaction(async (manager) => {
      await manager.query(ROOM_LOCK, [hold.roomId]);
      await manager.query(
        `INSERT INTO retention_holds (room_id, reason, set_by, set_at, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (room_id) DO UPDATE SET reason = EXCLUDED.reason, set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at, expires_at = EXCLUDED.expires_at`,
        [hold.roomId, hold.reason, hold.setBy, hold.setAt, hold.expiresAt],
      );
    });
  }

  async lift(roomId: string): Promise<LegalHold | null> {
    const [rows] = (await this.db.query("DELETE FROM retention_holds WHERE room_id = $1 RETURNING *", [roomId])) as [HoldRow[], number];
    const row = rows[0];
    return row ? toHold(row) : null;
  }
}
