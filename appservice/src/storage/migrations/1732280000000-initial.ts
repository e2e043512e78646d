import type { MigrationInterface, QueryRunner } from "typeorm";

export class Initial1732280000000 implements MigrationInterface {
  name = "Initial1732280000000";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE appservice_transactions (
        txn_id text PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now(),
        event_count integer NOT NULL
      )`);
    await db.query("CREATE INDEX appservice_transactions_received_at ON appservice_transactions (received_at)");
    // Events wait here between the homeserver's acknowledged transaction and their handling,
    // so a crash in between loses nothing. Rows are deleted once handled.
    await db.query(`
      CREATE TABLE inbound_events (
        id bigserial PRIMARY KEY,
        txn_id text NOT NULL,
        event jsonb NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        failed_at timestamptz
      )`);
    await db.query(`
      CREATE TABLE quarantined_events (
        id bigserial PRIMARY KEY,
        txn_id text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        reason text NOT NULL,
        event jsonb
      )`);
    await db.query(`
      CREATE TABLE rooms (
        room_id text PRIMARY KEY,
        name text,
        kind text CHECK (kind IN ('clinical', 'operational')),
        encrypted boolean NOT NULL DEFAULT false,
        bot_membership text NOT NULL DEFAULT 'invite' CHECK (bot_membership IN ('invite', 'join', 'leave')),
        classified_by text,
        classified_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE audit_log (
        seq bigint PRIMARY KEY,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        details jsonb NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL
      )`);
    await db.query("CREATE INDEX audit_log_action ON audit_log (action, seq)");
    await db.query("CREATE INDEX audit_log_actor ON audit_log (actor, seq)");
    await db.query("CREATE TABLE audit_head (id smallint PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash text NOT NULL)");
    // Append-only in the database too: changing history needs a deliberate act by the table owner.
    await db.query(`
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
      END $$`);
    await db.query(`
      CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`);
    await db.query("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log EXECUTE FUNCTION audit_log_append_only()");
    await db.query(`
      CREATE TABLE portal_sessions (
        token_hash text PRIMARY KEY,
        user_id text NOT NULL,
        role text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await db.query("CREATE INDEX portal_sessions_expires_at ON portal_sessions (expires_at)");
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ["portal_sessions", "audit_head", "audit_log", "rooms", "quarantined_events", "inbound_events", "appservice_transactions"]) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await db.query("DROP FUNCTION IF EXISTS audit_log_append_only");
  }
}
