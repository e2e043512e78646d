import type { MigrationInterface, QueryRunner } from "typeorm";

/** Issue 16.3: purges in slices. A purge a legal hold stopped part-way records what was planned beside what was deleted. */
export class RetentionPurgeSlices1733424000000 implements MigrationInterface {
  name = "RetentionPurgeSlices1733424000000";

  async up(db: QueryRunner): Promise<void> {
    await db.query("ALTER TABLE retention_purges ADD COLUMN planned_count integer");
    await db.query("UPDATE retention_purges SET planned_count = event_count");
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("ALTER TABLE retention_purges DROP COLUMN planned_count");
  }
}
