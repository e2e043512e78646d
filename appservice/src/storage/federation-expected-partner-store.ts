import type { DataSource } from "typeorm";

export interface ExpectedPartnerRow {
  pattern: string;
  addedBy: string;
  addedAt: Date;
}

/** The expected partners admins added in the portal (the config's are not stored). */
export class PostgresExpectedPartnerStore {
  constructor(private readonly db: DataSource) {}

  async list(): Promise<ExpectedPartnerRow[]> {
    const rows = (await this.db.query("SELECT pattern, added_by, added_at FROM federation_expected_partners ORDER BY pattern")) as {
      pattern: string;
      added_by: string;
      added_at: Date;
    }[];
    return rows.map((row) => ({ pattern: row.pattern, addedBy: row.added_by, addedAt: row.added_at }));
  }

  async patterns(): Promise<string[]> {
    return (await this.list()).map((row) => row.pattern);
  }

  /** False when the pattern was already listed. */
  async add(row: ExpectedPartnerRow): Promise<boolean> {
    const inserted = (await this.db.query(
      "INSERT INTO federation_expected_partners (pattern, added_by, added_at) VALUES ($1, $2, $3) ON CONFLICT (pattern) DO NOTHING RETURNING pattern",
      [row.pattern, row.addedBy, row.addedAt],
    )) as unknown[];
    return inserted.length > 0;
  }

  /** False when it was not listed. */
  async remove(pattern: string): Promise<boolean> {
    const [, count] = (await this.db.query("DELETE FROM federation_expected_partners WHERE pattern = $1", [pattern])) as [unknown, number];
    return count > 0;
  }
}
