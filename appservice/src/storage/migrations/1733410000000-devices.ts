import type { MigrationInterface, QueryRunner } from "typeorm";

export class Devices1733410000000 implements MigrationInterface {
  name = "Devices1733410000000";

  async up(db: QueryRunner): Promise<void> {
    // Bulk ends of stale sessions (issue 14). A held sweep keeps the exact sessions it planned,
    // so approving it ends those and no others.
    await db.query(`
      CREATE TABLE device_stale_sweeps (
        id bigserial PRIMARY KEY,
        status text NOT NULL CHECK (status IN ('held', 'applied', 'rejected')),
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL,
        reason text NOT NULL,
        sessions jsonb NOT NULL,
        approval_above integer NOT NULL,
        decided_by text,
        decided_at timestamptz
      )`);
    // One trust-wide snapshot per day, for the posture chart.
    await db.query(`
      CREATE TABLE device_posture_snapshots (
        day date PRIMARY KEY,
        taken_at timestamptz NOT NULL,
        counts jsonb NOT NULL,
        admin_calls integer NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE device_posture_snapshots");
    await db.query("DROP TABLE device_stale_sweeps");
  }
}
