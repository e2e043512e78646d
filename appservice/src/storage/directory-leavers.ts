import type { DataSource } from "typeorm";
import type { DirectoryLeavers } from "../domain/access/account-standing.js";

/** Whether directory sync has made someone a leaver: read by the portal on every request. */
export class PostgresDirectoryLeavers implements DirectoryLeavers {
  constructor(private readonly db: DataSource) {}

  async hasLeft(userId: string): Promise<boolean> {
    const rows = (await this.db.query("SELECT 1 FROM directory_identities WHERE user_id = $1 AND left_at IS NOT NULL", [userId])) as unknown[];
    return rows.length > 0;
  }
}
