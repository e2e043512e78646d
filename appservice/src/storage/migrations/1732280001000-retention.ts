import type { MigrationInterface, QueryRunner } from "typeorm";

export class Retention1732280001000 implements MigrationInterface {
  name = "Retention1732280001000";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE retention_policies (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        scope_type text NOT NULL CHECK (scope_type IN ('kind', 'space', 'room')),
        scope_value text NOT NULL,
        max_age_ms bigint,
        delete_after_filing_ms bigint,
        allow_unfiled_deletion boolean NOT NULL DEFAULT false,
        min_age_ms bigint NOT NULL DEFAULT 0,
        warn_before_ms bigint NOT NULL,
        created_by text NOT NULL,
        updated_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (scope_type, scope_value)
      )`);
    await db.query(`
      CREATE TABLE retention_holds (
        room_id text PRIMARY KEY,
        reason text NOT NULL,
        set_by text NOT NULL,
        set_at timestamptz NOT NULL,
        expires_at timestamptz
      )`);
    // Which spaces a room sits in (m.space.parent / m.space.child), for space-scoped policies.
    await db.query(`
      CREATE TABLE retention_room_spaces (
        room_id text NOT NULL,
        space_id text NOT NULL,
        PRIMARY KEY (room_id, space_id)
      )`);
    // Message events Handover has seen (ids and times only, never content), so planning can
    // count what is due without asking Synapse about every room.
    await db.query(`
      CREATE TABLE retention_events (
        room_id text NOT NULL,
        event_id text NOT NULL,
        ts timestamptz NOT NULL,
        PRIMARY KEY (room_id, event_id)
      )`);
    await db.query("CREATE INDEX retention_events_room_ts ON retention_events (room_id, ts)");
    // One row per purge: written as an intent before Synapse is called, driven through its
    // states, and kept as the deletion record (evidence) once complete.
    await db.query(`
      CREATE TABLE retention_purges (
        id uuid PRIMARY KEY,
        room_id text NOT NULL,
        policy_id text NOT NULL,
        policy_name text NOT NULL,
        cutoff_ts timestamptz NOT NULL,
        reason text NOT NULL,
        actor text NOT NULL,
        filing_ref text,
        filed_up_to_ts timestamptz,
        includes_unfiled boolean NOT NULL DEFAULT false,
        state text NOT NULL CHECK (state IN ('planned', 'enumerated', 'noticed', 'purging', 'purged', 'complete', 'failed')),
        from_ts timestamptz,
        event_count integer,
        unfiled_count integer NOT NULL DEFAULT 0,
        media jsonb NOT NULL DEFAULT '[]',
        media_deleted integer NOT NULL DEFAULT 0,
        keep_from_event_id text,
        notice_event_id text,
        purge_id text,
        purge_requests integer NOT NULL DEFAULT 0,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz
      )`);
    await db.query("CREATE INDEX retention_purges_open ON retention_purges (state) WHERE state NOT IN ('complete', 'failed')");
    await db.query("CREATE INDEX retention_purges_room ON retention_purges (room_id, completed_at)");
    await db.query(`
      CREATE TABLE retention_warnings (
        room_id text NOT NULL,
        due_at timestamptz NOT NULL,
        covers_up_to timestamptz NOT NULL,
        unfiled_count integer NOT NULL,
        warned_at timestamptz NOT NULL,
        PRIMARY KEY (room_id, due_at)
      )`);
    // The m.room.retention content last published per room, so unchanged rooms are skipped.
    await db.query(`
      CREATE TABLE retention_published (
        room_id text PRIMARY KEY,
        content jsonb NOT NULL,
        published_at timestamptz NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of [
      "retention_published",
      "retention_warnings",
      "retention_purges",
      "retention_events",
      "retention_room_spaces",
      "retention_holds",
      "retention_policies",
    ]) {
      await db.query(`DROP TABLE ${table}`);
    }
  }
}
