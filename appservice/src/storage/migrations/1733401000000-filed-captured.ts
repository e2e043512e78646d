import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Filed means captured (issue 11.1): each filed range records, event by event, what its
 * document holds (`captured`) and what it only names (`captured = false`), and each kept
 * document its capture, so a retry records the same. Ranges filed before this migration have no
 * rows here: retention treats their events as unfiled (kept, unless a policy allows deletion at
 * maximum age after a warning) rather than guess what those documents held.
 */
export class FiledCaptured1733401000000 implements MigrationInterface {
  name = "FiledCaptured1733401000000";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE filed_range_events (
        filing_ref text NOT NULL REFERENCES filed_ranges (filing_ref) ON DELETE CASCADE,
        room_id text NOT NULL,
        event_id text NOT NULL,
        ts timestamptz NOT NULL,
        captured boolean NOT NULL,
        PRIMARY KEY (filing_ref, event_id)
      )`);
    await db.query("CREATE INDEX filed_range_events_event ON filed_range_events (room_id, event_id) WHERE captured");
    await db.query("CREATE INDEX filed_range_events_room_ts ON filed_range_events (room_id, ts)");
    await db.query("ALTER TABLE records_filed_documents ADD COLUMN capture jsonb");
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("ALTER TABLE records_filed_documents DROP COLUMN capture");
    await db.query("DROP TABLE filed_range_events");
  }
}
