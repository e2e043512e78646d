import type { MigrationInterface, QueryRunner } from "typeorm";

/** Issue 11.2-11.4: media references by provenance, the planned events of a purge, purges a hold stopped. */
export class RetentionPurgeSafety1733402000000 implements MigrationInterface {
  name = "RetentionPurgeSafety1733402000000";

  async up(db: QueryRunner): Promise<void> {
    // Which event sent or mentions which media, recorded at intake from the readable event
    // (decrypted in encrypted rooms). A purge deletes only media its own events sent, and only
    // when no other event here refers to it.
    await db.query(`
      CREATE TABLE retention_media_refs (
        event_id text NOT NULL,
        mxc_uri text NOT NULL,
        room_id text NOT NULL,
        sent boolean NOT NULL,
        PRIMARY KEY (event_id, mxc_uri)
      )`);
    await db.query("CREATE INDEX retention_media_refs_uri ON retention_media_refs (mxc_uri)");
    await db.query("ALTER TABLE retention_purges ADD COLUMN event_ids jsonb");
    await db.query("ALTER TABLE retention_purges DROP CONSTRAINT retention_purges_state_check");
    await db.query(`ALTER TABLE retention_purges ADD CONSTRAINT retention_purges_state_check
      CHECK (state IN ('planned', 'enumerated', 'noticed', 'purging', 'purged', 'complete', 'failed', 'stopped'))`);
    await db.query("DROP INDEX retention_purges_open");
    await db.query("CREATE INDEX retention_purges_open ON retention_purges (state) WHERE state NOT IN ('complete', 'failed', 'stopped')");
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP INDEX retention_purges_open");
    await db.query("CREATE INDEX retention_purges_open ON retention_purges (state) WHERE state NOT IN ('complete', 'failed')");
    await db.query("UPDATE retention_purges SET state = 'failed' WHERE state = 'stopped'");
    await db.query("ALTER TABLE retention_purges DROP CONSTRAINT retention_purges_state_check");
    await db.query(`ALTER TABLE retention_purges ADD CONSTRAINT retention_purges_state_check
      CHECK (state IN ('planned', 'enumerated', 'noticed', 'purging', 'purged', 'complete', 'failed'))`);
    await db.query("ALTER TABLE retention_purges DROP COLUMN event_ids");
    await db.query("DROP TABLE retention_media_refs");
  }
}
