import type { MigrationInterface, QueryRunner } from "typeorm";

/** Encrypted rooms: the bot device's record and its megolm room keys, sealed (AES-256-GCM) by Handover. */
export class E2ee1732280005000 implements MigrationInterface {
  name = "E2ee1732280005000";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE e2ee_devices (
        user_id text PRIMARY KEY,
        device_id text NOT NULL,
        key_check text NOT NULL,
        cross_signing bytea,
        room_key_count integer NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE e2ee_room_keys (
        user_id text NOT NULL,
        room_id text NOT NULL,
        session_id text NOT NULL,
        sender_key text NOT NULL,
        sealed bytea NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, room_id, session_id, sender_key)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE e2ee_room_keys");
    await db.query("DROP TABLE e2ee_devices");
  }
}
