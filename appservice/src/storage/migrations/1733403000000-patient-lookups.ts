import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Patient lookups (issue 11.5): who looked up which patient, by a keyed hash of the NHS number
 * (never the number), where, and with what outcome; the rate limit counts these rows.
 */
export class PatientLookups1733403000000 implements MigrationInterface {
  name = "PatientLookups1733403000000";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE records_patient_lookups (
        id bigserial PRIMARY KEY,
        actor text NOT NULL,
        room_id text NOT NULL,
        thread_root_id text,
        nhs_number_hash text NOT NULL,
        outcome text NOT NULL,
        via text NOT NULL,
        at timestamptz NOT NULL
      )`);
    await db.query("CREATE INDEX records_patient_lookups_actor_at ON records_patient_lookups (actor, at)");
    await db.query("CREATE INDEX records_patient_lookups_hash ON records_patient_lookups (nhs_number_hash, at)");
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE records_patient_lookups");
  }
}
