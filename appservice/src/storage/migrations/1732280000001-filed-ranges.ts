import type { MigrationInterface, QueryRunner } from "typeorm";

export class FiledRanges1732280000001 implements MigrationInterface {
  name = "FiledRanges1732280000001";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE filed_ranges (
        filing_ref text PRIMARY KEY,
        room_id text NOT NULL,
        up_to_event_id text NOT NULL,
        up_to_ts timestamptz NOT NULL,
        thread_root_id text,
        filed_at timestamptz NOT NULL,
        filed_by text NOT NULL
      )`);
    await db.query("CREATE INDEX filed_ranges_room ON filed_ranges (room_id, up_to_ts)");
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE filed_ranges");
  }
}
