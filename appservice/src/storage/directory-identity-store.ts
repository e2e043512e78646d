import type { DataSource } from "typeorm";
import type { KnownLeaver } from "../domain/directory/planner.js";
import type { IdentityStore } from "../domain/directory/ports.js";

export class PostgresDirectoryIdentityStore implements IdentityStore {
  constructor(private readonly db: DataSource) {}

  async active(): Promise<string[]> {
    return ((await this.db.query("SELECT user_id FROM directory_identities WHERE left_at IS NULL")) as { user_id: string }[]).map((row) => row.user_id);
  }

  async leavers(): Promise<KnownLeaver[]> {
    const rows = (await this.db.query("SELECT user_id, left_at, sessions_ended_at, closed_at FROM directory_identities WHERE left_at IS NOT NULL")) as {
      user_id: string;
      left_at: Date;
      sessions_ended_at: Date | null;
      closed_at: Date | null;
    }[];
    return rows.map((row) => ({
      userId: row.user_id,
      leftAt: row.left_at,
      sessionsEnded: row.sessions_ended_at !== null,
      accountClosed: row.closed_at !== null,
    }));
  }

  async markActive(userIds: readonly string[]): Promise<void> {
    await this.db.query(
      `INSERT INTO directory_identities (user_id) SELECT unnest($1::text[])
       ON CONFLICT (user_id) DO UPDATE SET left_at = NULL, sessions_ended_at = NULL, closed_at = NULL, updated_at = now()`,
      [userIds],
    );
  }

  async markLeft(userIds: readonly string[], at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO directory_identities (user_id, left_at) SELECT unnest($1::text[]), $2
       ON CONFLICT (user_id) DO UPDATE SET left_at = coalesce(directory_identities.left_at, excluded.left_at), updated_at = now()`,
      [userIds, at],
    );
  }

  async markSessionsEnded(userId: string, at: Date): Promise<void> {
    await this.db.query("UPDATE directory_identities SET sessions_ended_at = $2, updated_at = now() WHERE user_id = $1", [userId, at]);
  }

  async markClosed(userId: string, at: Date): Promise<void> {
    await this.db.query("UPDATE directory_identities SET closed_at = $2, updated_at = now() WHERE user_id = $1", [userId, at]);
  }
}
