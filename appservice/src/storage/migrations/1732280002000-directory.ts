import type { MigrationInterface, QueryRunner } from "typeorm";

export class Directory1732280002000 implements MigrationInterface {
  name = "Directory1732280002000";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE directory_rules (
        id text PRIMARY KEY,
        rule jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Who directory sync has seen active, and leavers with the steps taken so far.
    await db.query(`
      CREATE TABLE directory_identities (
        user_id text PRIMARY KEY,
        left_at timestamptz,
        sessions_ended_at timestamptz,
        closed_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE directory_runs (
        id bigserial PRIMARY KEY,
        trigger text NOT NULL,
        actor text NOT NULL,
        status text NOT NULL CHECK (status IN ('held', 'applying', 'applied', 'partial', 'rejected', 'refused', 'interrupted', 'superseded')),
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        reason text,
        fingerprint text NOT NULL,
        summary jsonb NOT NULL,
        decided_by text
      )`);
    await db.query("CREATE UNIQUE INDEX directory_runs_one_held ON directory_runs ((true)) WHERE status = 'held'");
    await db.query(`
      CREATE TABLE directory_run_actions (
        run_id bigint NOT NULL REFERENCES directory_runs (id),
        idx integer NOT NULL,
        action jsonb NOT NULL,
        outcome text CHECK (outcome IN ('done', 'failed')),
        error text,
        PRIMARY KEY (run_id, idx)
      )`);
    // People and groups pushed to Handover (SCIM, CSV import): the source's whole answer lives here.
    await db.query(`
      CREATE TABLE directory_pushed_people (
        source text NOT NULL,
        id text NOT NULL,
        user_name text NOT NULL,
        external_id text,
        active boolean NOT NULL,
        resource jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (source, id)
      )`);
    await db.query("CREATE UNIQUE INDEX directory_pushed_people_user_name ON directory_pushed_people (source, lower(user_name))");
    await db.query(`
      CREATE TABLE directory_pushed_groups (
        source text NOT NULL,
        id text NOT NULL,
        display_name text NOT NULL,
        external_id text,
        member_ids jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (source, id)
      )`);
    await db.query("CREATE UNIQUE INDEX directory_pushed_groups_name ON directory_pushed_groups (source, lower(display_name))");
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of [
      "directory_pushed_groups",
      "directory_pushed_people",
      "directory_run_actions",
      "directory_runs",
      "directory_identities",
      "directory_rules",
    ]) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
