import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * EHR filing, second step: whether a link's NHS number was verified against the trust's record
 * (a Patient found by it), and which events each filing holds, so that a room filing and a
 * thread filing never file the same message twice.
 */
export class RecordsVerificationEvents1732280003100 implements MigrationInterface {
  name = "RecordsVerificationEvents1732280003100";

  async up(db: QueryRunner): Promise<void> {
    await db.query("ALTER TABLE records_patient_links ADD COLUMN nhs_number_verified boolean NOT NULL DEFAULT false");
    await db.query("ALTER TABLE records_filings ADD COLUMN nhs_number_verified boolean NOT NULL DEFAULT false");
    await db.query(`
      CREATE TABLE records_filing_events (
        export_id text NOT NULL REFERENCES records_filed_documents (export_id),
        event_id text NOT NULL,
        PRIMARY KEY (export_id, event_id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE records_filing_events");
    await db.query("ALTER TABLE records_filings DROP COLUMN nhs_number_verified");
    await db.query("ALTER TABLE records_patient_links DROP COLUMN nhs_number_verified");
  }
}
