import type { DataSource } from "typeorm";
import type { Role } from "../domain/access/roles.js";
import type { SessionStore, StoredSession } from "../domain/access/sign-in.js";

interface SessionRow {
  token_hash: string;
  user_id: string;
  role: Role;
  created_at: Date;
  expires_at: Date;
}

export class PostgresSessionStore implements SessionStore {
  constructor(private readonly db: DataSource) {}

  async create(session: StoredSession): Promise<void> {
    await this.db.query("INSERT INTO portal_sessions (token_hash, user_id, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)", [
      session.tokenHash,
      session.userId,
      session.role,
      session.createdAt,
      session.expiresAt,
    ]);
  }

  async find(tokenHash: string): Promise<StoredSession | null> {
    const [row] = (await this.db.query("SELECT * FROM portal_sessions WHERE token_hash = $1", [tokenHash])) as SessionRow[];
    return row ? { tokenHash: row.token_hash, userId: row.user_id, role: row.role, createdAt: row.created_at, expiresAt: row.expires_at } : null;
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.query("DELETE FROM portal_sessions WHERE token_hash = $1", [tokenHash]);
  }

  async deleteExpired(now: Date): Promise<number> {
    const [, count] = (await this.db.query("DELETE FROM portal_sessions WHERE expires_at <= $1", [now])) as [unknown, number];
    return count;
  }

  async live(now: Date): Promise<StoredSession[]> {
    const rows = (await this.db.query("SELECT * FROM portal_sessions WHERE expires_at > $1 ORDER BY created_at", [now])) as SessionRow[];
    return rows.map((row) => ({ tokenHash: row.token_hash, userId: row.user_id, role: row.role, createdAt: row.created_at, expiresAt: row.expires_at }));
  }

  async liveUsers(now: Date): Promise<string[]> {
    const rows = (await this.db.query("SELECT DISTINCT user_id FROM portal_sessions WHERE expires_at > $1", [now])) as { user_id: string }[];
    return rows.map((row) => row.user_id);
  }

  async deleteForUser(userId: string): Promise<number> {
    const [, count] = (await this.db.query("DELETE FROM portal_sessions WHERE user_id = $1", [userId])) as [unknown, number];
    return count;
  }
}
