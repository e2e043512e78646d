import type { MigrationInterface, QueryRunner } from "typeorm";

export class DeviceWatch1733420000000 implements MigrationInterface {
  name = "DeviceWatch1733420000000";

  async up(db: QueryRunner): Promise<void> {
    // Each person's devices, pushers and cross-signing as the last posture pass read them, so an
    // incremental pass re-reads only people whose "last seen" moved or whom Handover touched.
    await db.query(`
      CREATE TABLE device_posture_people (
        user_id text PRIMARY KEY,
        last_seen_ts bigint,
        facts jsonb NOT NULL,
        read_at timestamptz NOT NULL,
        touched_at timestamptz
      )`);
    // When Handover first saw each device: Synapse keeps only its last use.
    await db.query(`
      CREATE TABLE device_sightings (
        user_id text NOT NULL,
        device_id text NOT NULL,
        first_seen_at timestamptz NOT NULL,
        PRIMARY KEY (user_id, device_id)
      )`);
    // One row: when Handover started watching devices, and when it last read everyone.
    await db.query(`
      CREATE TABLE device_watch (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        started_at timestamptz NOT NULL,
        last_full_pass_at timestamptz
      )`);
    // The direct room the bot keeps with each person for notices that their sessions were ended.
    await db.query("CREATE TABLE device_notice_rooms (user_id text PRIMARY KEY, room_id text NOT NULL)");
    // What the push probe last saw the homeserver do, for every Handover process to read.
    await db.query(`
      CREATE TABLE device_push_probe (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        includes_content boolean NOT NULL,
        checked_at timestamptz NOT NULL
      )`);
    await db.query("ALTER TABLE device_posture_snapshots ADD COLUMN kind text NOT NULL DEFAULT 'full' CHECK (kind IN ('full', 'incremental'))");
    await db.query("ALTER TABLE device_posture_snapshots ADD COLUMN people_read integer");
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("ALTER TABLE device_posture_snapshots DROP COLUMN people_read");
    await db.query("ALTER TABLE device_posture_snapshots DROP COLUMN kind");
    await db.query("DROP TABLE device_push_probe");
    await db.query("DROP TABLE device_notice_rooms");
    await db.query("DROP TABLE device_watch");
    await db.query("DROP TABLE device_sightings");
    await db.query("DROP TABLE device_posture_people");
  }
}
