import type { MigrationInterface, QueryRunner } from "typeorm";

/** EHR filing: patient links of rooms and threads, and filings with their receipts and documents. */
export class Records1732280003000 implements MigrationInterface {
  name = "Records1732280003000";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE records_patient_links (
        room_id text NOT NULL,
        thread_key text NOT NULL DEFAULT '',
        nhs_number text NOT NULL CHECK (nhs_number ~ '^[0-9]{10}$'),
        patient_name text,
        birth_date text,
        linked_by text NOT NULL,
        linked_at timestamptz NOT NULL,
        PRIMARY KEY (room_id, thread_key)
      )`);
    await db.query(`
      CREATE TABLE records_filings (
        export_id text PRIMARY KEY,
        room_id text NOT NULL,
        thread_root_id text,
        nhs_number text NOT NULL CHECK (nhs_number ~ '^[0-9]{10}$'),
        patient_name text,
        birth_date text,
        status text NOT NULL CHECK (status IN ('awaiting_confirmation', 'sending', 'retrying', 'filed', 'failed', 'cancelled')),
        confirm_code text,
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL,
        confirmed_by text,
        confirmed_at timestamptz,
        after_event_id text,
        up_to_event_id text NOT NULL,
        up_to_ts timestamptz NOT NULL,
        first_ts timestamptz NOT NULL,
        message_count integer NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        last_error text,
        filed_at timestamptz,
        receipt jsonb
      )`);
    await db.query("CREATE INDEX records_filings_due ON records_filings (next_attempt_at) WHERE status IN ('sending', 'retrying')");
    await db.query("CREATE INDEX records_filings_room ON records_filings (room_id, requested_at)");
    await db.query(`
      CREATE TABLE records_filed_documents (
        export_id text PRIMARY KEY REFERENCES records_filings (export_id),
        pdf bytea NOT NULL,
        bundle_json text NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE records_filed_documents");
    await db.query("DROP TABLE records_filings");
    await db.query("DROP TABLE records_patient_links");
  }
}
