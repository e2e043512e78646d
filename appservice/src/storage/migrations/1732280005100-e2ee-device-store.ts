import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Encrypted rooms: the bot device's whole crypto store (matrix-sdk-crypto's IndexedDB databases),
 * mirrored entry by entry, each value sealed (AES-256-GCM) by Handover, so the device survives a
 * restart as itself.
 */
export class E2eeDeviceStore1732280005100 implements MigrationInterface {
  name = "E2eeDeviceStore1732280005100";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE e2ee_store_schemas (
        owner text NOT NULL,
        db_name text NOT NULL,
        version integer NOT NULL,
        schema jsonb NOT NULL,
        PRIMARY KEY (owner, db_name)
      )`);
    await db.query(`
      CREATE TABLE e2ee_store_entries (
        owner text NOT NULL,
        db_name text NOT NULL,
        store_name text NOT NULL,
        entry_key text NOT NULL,
        sealed bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (owner, db_name, store_name, entry_key)
      )`);
    // How far the device has read its to-device inbox through Handover's Synapse module.
    await db.query("ALTER TABLE e2ee_devices ADD COLUMN inbox_position bigint NOT NULL DEFAULT 0");
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("ALTER TABLE e2ee_devices DROP COLUMN inbox_position");
    await db.query("DROP TABLE e2ee_store_entries");
    await db.query("DROP TABLE e2ee_store_schemas");
  }
}
