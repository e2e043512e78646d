import type { MigrationInterface, QueryRunner } from "typeorm";

export class Federation1732280004000 implements MigrationInterface {
  name = "Federation1732280004000";

  async up(db: QueryRunner): Promise<void> {
    // Private keys are stored encrypted (AES-256-GCM with a key from the config).
    await db.query(`
      CREATE TABLE federation_signing_keys (
        key_id text PRIMARY KEY,
        public_key text NOT NULL,
        private_key_encrypted bytea NOT NULL,
        created_at timestamptz NOT NULL,
        retired_at timestamptz,
        rotation jsonb
      )`);
    await db.query("CREATE UNIQUE INDEX federation_signing_keys_one_current ON federation_signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL");
    // A peer's key as first seen (trust on first use); later keys are accepted only through signed rotations.
    await db.query(`
      CREATE TABLE federation_peers (
        server_name text PRIMARY KEY,
        key_id text NOT NULL,
        public_key text NOT NULL,
        pinned_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await db.query(`
      CREATE TABLE federation_agreements (
        id uuid PRIMARY KEY,
        peer_server_name text NOT NULL,
        peer_name text NOT NULL,
        peer_ods_code text NOT NULL,
        peer_contact text NOT NULL,
        proposed_by text NOT NULL CHECK (proposed_by IN ('us', 'peer')),
        status text NOT NULL CHECK (status IN ('proposed', 'active', 'declined', 'suspended', 'revoked')),
        suspended_by text CHECK (suspended_by IN ('us', 'peer')),
        terms jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        status_changed_by text,
        reason text
      )`);
    await db.query("CREATE INDEX federation_agreements_peer ON federation_agreements (peer_server_name)");
    // Every signed message both ways, kept as it travelled: the agreement's history, the replay
    // guard (received ids per sender) and the outbox (sent, not yet delivered).
    await db.query(`
      CREATE TABLE federation_messages (
        direction text NOT NULL CHECK (direction IN ('sent', 'received')),
        sender text NOT NULL,
        id text NOT NULL,
        agreement_id uuid NOT NULL,
        type text NOT NULL,
        signed jsonb NOT NULL,
        at timestamptz NOT NULL,
        delivered_at timestamptz,
        superseded_by text,
        attempts int NOT NULL DEFAULT 0,
        last_error text,
        PRIMARY KEY (direction, sender, id)
      )`);
    await db.query("CREATE INDEX federation_messages_agreement ON federation_messages (agreement_id, at)");
    await db.query(
      "CREATE INDEX federation_messages_outbox ON federation_messages (at) WHERE direction = 'sent' AND delivered_at IS NULL AND superseded_by IS NULL",
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE federation_messages");
    await db.query("DROP TABLE federation_agreements");
    await db.query("DROP TABLE federation_peers");
    await db.query("DROP TABLE federation_signing_keys");
  }
}
