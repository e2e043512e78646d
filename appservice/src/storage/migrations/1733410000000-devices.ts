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
    // Spot checks: the sample, what the homeserver showed for each person, and the IG lead's checklist.
    await db.query(`
      CREATE TABLE device_spot_checks (
        id bigserial PRIMARY KEY,
        trigger text NOT NULL CHECK (trigger IN ('scheduled', 'on-demand')),
        started_by text NOT NULL,
        started_at timestamptz NOT NULL,
        sample jsonb NOT NULL
      )`);
    await db.query(`
      CREATE TABLE device_spot_check_people (
        spot_check_id bigint NOT NULL REFERENCES device_spot_checks (id),
        user_id text NOT NULL,
        display_name text,
        findings jsonb NOT NULL,
        meets_server_policy boolean NOT NULL,
        checklist jsonb,
        outcome text CHECK (outcome IN ('meets-policy', 'action-needed', 'not-reached')),
        note text,
        recorded_by text,
        recorded_at timestamptz,
        PRIMARY KEY (spot_check_id, user_id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE device_spot_check_people");
    await db.query("DROP TABLE device_spot_checks");
    await db.query("DROP TABLE device_posture_snapshots");
    await db.query("DROP TABLE device_stale_sweeps");
  }
}
