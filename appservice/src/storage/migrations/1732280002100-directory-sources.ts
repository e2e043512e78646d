import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Directory sources' own state: what each CSV source last imported (a watched file is imported
 * once per content), and each incremental LDAP source's stored copy of the directory with its
 * high-water mark.
 */
export class DirectorySources1732280002100 implements MigrationInterface {
  name = "DirectorySources1732280002100";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE directory_csv_imports (
        source text PRIMARY KEY,
        sha256 text NOT NULL,
        via text NOT NULL,
        actor text NOT NULL,
        people integer NOT NULL,
        groups integer NOT NULL,
        imported_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE directory_ldap_state (
        source text PRIMARY KEY,
        fingerprint text NOT NULL,
        high_water text,
        full_at timestamptz NOT NULL,
        last_kind text NOT NULL,
        last_reason text,
        last_changed integer NOT NULL,
        read_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE directory_ldap_entries (
        source text NOT NULL,
        kind text NOT NULL,
        dn text NOT NULL,
        attributes jsonb NOT NULL,
        marker text,
        PRIMARY KEY (source, kind, dn)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE directory_ldap_entries");
    await db.query("DROP TABLE directory_ldap_state");
    await db.query("DROP TABLE directory_csv_imports");
  }
}
