import type { MigrationInterface, QueryRunner } from "typeorm";

export class FederationExpectedPartners1733406000000 implements MigrationInterface {
  name = "FederationExpectedPartners1733406000000";

  async up(db: QueryRunner): Promise<void> {
    // Servers (or patterns like *.nhs.uk) that may make first contact, added by admins in the portal.
    await db.query(`
      CREATE TABLE federation_expected_partners (
        pattern text PRIMARY KEY,
        added_by text NOT NULL,
        added_at timestamptz NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query("DROP TABLE federation_expected_partners");
  }
}
